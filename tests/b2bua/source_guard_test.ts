// Flood protection by source address, on a manual clock.

import assert from "node:assert/strict";
import { type Ban, MAX_SOURCES, SourceGuard, sourceKey } from "../../src/b2bua/source-guard.ts";
import { ManualTimers } from "../../src/util/timer-queue.ts";

function guard(maxRequests = 10, banMs = 5000, trusted: string[] = [], ipv6Prefix = 64) {
  const timers = new ManualTimers();
  const bans: Ban[] = [];
  const g = new SourceGuard(
    { maxRequests, banMs, trusted, ipv6Prefix },
    timers.manual,
    (b) => bans.push(b),
  );
  return { g, timers, bans };
}

function admitted(g: SourceGuard, host: string, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (g.admit(host)) ok++;
  return ok;
}

Deno.test("source guard: a burst of max_requests passes; the next request bans the source for `ban`", () => {
  const { g, timers, bans } = guard(10, 5000);
  assert.equal(admitted(g, "192.0.2.1", 10), 10);
  assert.equal(g.admit("192.0.2.1"), false);
  assert.equal(bans.length, 1);
  assert.equal(bans[0].host, "192.0.2.1");
  assert.deepEqual(g.banned(), [{ host: "192.0.2.1", remainingMs: 5000 }]);
  assert.equal(admitted(g, "192.0.2.2", 10), 10, "another source is not affected");
  // Banned: nothing passes, however slowly it comes, and it is reported once.
  timers.advance(4999);
  assert.equal(g.admit("192.0.2.1"), false);
  assert.equal(bans.length, 1);
  assert.equal(g.dropped, 2);
  // After the ban: a fresh second's worth.
  timers.advance(1);
  assert.equal(admitted(g, "192.0.2.1", 10), 10);
  assert.deepEqual(g.banned(), []);
});

Deno.test("source guard: a steady rate under the limit is never banned", () => {
  const { g, timers, bans } = guard(10, 5000);
  for (let i = 0; i < 1000; i++) {
    assert.ok(g.admit("192.0.2.1"), `request ${i}`);
    timers.advance(110); // 9 a second
  }
  assert.equal(bans.length, 0);
});

Deno.test("source guard: trusted blocks are never limited; a reload keeps bans and trusts again", () => {
  const { g } = guard(5, 60_000, ["10.0.0.0/8", "2001:db8::/32"]);
  assert.equal(admitted(g, "10.1.2.3", 1000), 1000);
  assert.equal(admitted(g, "2001:db8::7", 1000), 1000);
  assert.equal(admitted(g, "192.0.2.1", 6), 5);
  g.configure({ maxRequests: 5, banMs: 60_000, trusted: ["192.0.2.0/24"], ipv6Prefix: 64 });
  assert.equal(admitted(g, "192.0.2.1", 10), 10, "now trusted");
  assert.equal(admitted(g, "10.1.2.3", 6), 5, "no longer trusted");
  g.configure({ maxRequests: 5, banMs: 60_000, trusted: [], ipv6Prefix: 64 });
  assert.equal(g.admit("10.1.2.3"), false, "its ban stays through the reload");
});

Deno.test("source guard: an operator's unban lifts a ban at once", () => {
  const { g } = guard(2, 60_000);
  admitted(g, "192.0.2.1", 3);
  assert.equal(g.admit("192.0.2.1"), false);
  assert.equal(g.unban("192.0.2.1"), true);
  assert.equal(g.unban("192.0.2.1"), false, "no ban left");
  assert.equal(g.admit("192.0.2.1"), true);
});

Deno.test("source guard: forged sources cannot grow it past its bound; idle ones are forgotten", () => {
  const { g, timers } = guard(10, 5000);
  for (let i = 0; i < MAX_SOURCES + 5000; i++) {
    g.admit(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  }
  assert.ok(g.size <= MAX_SOURCES, `${g.size} sources tracked`);
  timers.advance(10_001);
  g.admit("192.0.2.1");
  assert.equal(g.size, 1, "everything idle for 10 s is forgotten");
});

Deno.test("source guard: an IPv6 source is its /64, so a host cannot hop addresses past a ban", () => {
  const { g, bans } = guard(3);
  assert.equal(admitted(g, "2001:db8:1:2::10", 3), 3);
  assert.equal(g.admit("2001:db8:1:2:ffff::7"), false, "another address of the same /64");
  assert.deepEqual(bans.map((b) => b.host), ["2001:db8:1:2::/64"]);
  assert.equal(admitted(g, "2001:db8:1:3::10", 3), 3, "the next /64 is another source");
  assert.deepEqual(g.banned().map((b) => b.host), ["2001:db8:1:2::/64"]);
  // Lifted by the prefix or by any address in it.
  assert.equal(g.unban("2001:db8:1:2::99"), true);
  assert.equal(g.admit("2001:db8:1:2::10"), true);
  // ipv6_prefix 128: every address on its own.
  const exact = guard(1, 5000, [], 128);
  assert.equal(exact.g.admit("2001:db8::1"), true);
  assert.equal(exact.g.admit("2001:db8::2"), true);
  assert.equal(exact.g.admit("2001:db8::1"), false);
});

Deno.test("source guard: trust is decided on the address, not its prefix", () => {
  const { g } = guard(1, 5000, ["2001:db8::1/128"]);
  assert.equal(admitted(g, "2001:db8::1", 5), 5);
  const other = guard(1, 5000, ["2001:db8::1/128"]);
  assert.equal(admitted(other.g, "2001:db8::2", 5), 1);
});

Deno.test("sourceKey: IPv4 and mapped IPv4 as they are, IPv6 as its block", () => {
  assert.equal(sourceKey("192.0.2.1", 64), "192.0.2.1");
  assert.equal(sourceKey("::ffff:192.0.2.1", 64), "192.0.2.1");
  assert.equal(sourceKey("2001:db8:0:0:1:2:3:4", 64), "2001:db8::/64");
  assert.equal(sourceKey("2001:db8:abcd:12ff:1:2:3:4", 56), "2001:db8:abcd:1200::/56");
  assert.equal(sourceKey("fe80::1", 128), "fe80::1");
  assert.equal(sourceKey("1:2:3:4:5:6:7:8", 64), "1:2:3:4::/64");
});

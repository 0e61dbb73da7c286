// Route servers probed with OPTIONS: down after `down_after` failures, skipped by calls while
// down, up again after `up_after` answers; calls that time out count as failures. Over the
// in-memory loop with manual timers.

import assert from "node:assert/strict";
import type { CallRecord } from "../../src/b2bua/mod.ts";
import type { RouteProbe } from "../../src/config/types.ts";
import type { SipRequest } from "../../src/sip/mod.ts";
import { metrics } from "../../src/util/metrics.ts";
import { answer, CALLER, callerInvite, config, Loop, req, res, route, rule } from "./loop.ts";

const PRIMARY = { host: "10.0.0.2", port: 5090, protocol: "udp" as const };
const PROBE: RouteProbe = { interval: 10_000, timeout: 2000, downAfter: 2, upAfter: 1 };

function setup(probe: RouteProbe = PROBE) {
  const ended: CallRecord[] = [];
  const loop = new Loop(
    config([rule([
      route("10.0.0.2", 5090, { name: "primary", probe }),
      route("10.0.0.3", 5091, { name: "backup" }),
    ])]),
    { onCallEnded: (rec) => ended.push(rec) },
  );
  loop.b2bua.startProbes();
  return { loop, ended };
}

/** Call-IDs of the probes seen so far: an unanswered probe is retransmitted for 32 s. */
const seen = new Set<string>();

/** Let the probe schedule run `ms` on; the new probes sent meanwhile. */
function probesAfter(loop: Loop, ms: number): SipRequest[] {
  loop.timers.advance(ms);
  const out: SipRequest[] = [];
  for (const s of loop.take().filter(req("OPTIONS"))) {
    const r = s.msg as SipRequest;
    if (seen.has(r.callId)) continue;
    seen.add(r.callId);
    out.push(r);
  }
  return out;
}

function upMetric(): string | undefined {
  const text = metrics.expose();
  return text.split("\n").find((l) =>
    l.startsWith('tandem_route_server_up{route="primary",target="udp:10.0.0.2:5090"}')
  );
}

Deno.test("route probe: OPTIONS to the route's server at start and every interval", () => {
  const { loop } = setup();
  const first = probesAfter(loop, 0);
  assert.equal(first.length, 1, "one probe at start");
  assert.equal(first[0].uri, "sip:10.0.0.2:5090");
  assert.equal(first[0].get("max-forwards"), "70");
  loop.inject(answer(first[0], 200, "p"), PRIMARY);
  assert.equal(probesAfter(loop, 9000).length, 0, "none before the interval");
  assert.equal(probesAfter(loop, 1000).length, 1, "the next at the interval");
  // The route without probe is never probed.
  assert.ok(!loop.take().some((s) => s.dest.port === 5091));
  loop.b2bua.stopProbes();
});

Deno.test("route probe: down after two failures; calls skip it; up again after an answer", () => {
  const { loop, ended } = setup();
  probesAfter(loop, 0); // unanswered: fails at its 2 s timeout
  probesAfter(loop, 2000);
  const second = probesAfter(loop, 8000);
  assert.equal(second.length, 1);
  loop.inject(answer(second[0], 503, "p"), PRIMARY); // 503 is a failure too
  assert.equal(loop.b2bua.health.isDown(PRIMARY), true);
  assert.match(upMetric()!, / 0$/);

  loop.inject(callerInvite("bob", "", 1), CALLER);
  const inv = loop.expect(req("INVITE", 5091), "INVITE to the backup at once").msg as SipRequest;
  loop.inject(answer(inv, 486, "b"), { ...PRIMARY, host: "10.0.0.3", port: 5091 });
  loop.expect(res(486), "486 to the caller");
  assert.deepEqual(ended[0].attempts.map((a) => [a.route, a.outcome]), [
    ["primary", "down"],
    ["backup", "failed"],
  ]);

  // A 404 to OPTIONS is an answer: the server takes calls again.
  const third = probesAfter(loop, 10_000);
  loop.inject(answer(third[0], 404, "p"), PRIMARY);
  assert.equal(loop.b2bua.health.isDown(PRIMARY), false);
  assert.match(upMetric()!, / 1$/);
  loop.inject(callerInvite("bob", "", 2), CALLER);
  loop.expect(req("INVITE", 5090), "INVITE to the primary again");
  loop.b2bua.stopProbes();
});

Deno.test("route probe: a call attempt that makes no progress counts as a failure", () => {
  const { loop } = setup({ ...PROBE, downAfter: 1, interval: 60_000 });
  const p = probesAfter(loop, 0);
  loop.inject(answer(p[0], 200, "p"), PRIMARY);
  loop.inject(callerInvite("bob", "", 1), CALLER);
  loop.expect(req("INVITE", 5090), "INVITE to the primary");
  loop.timers.advance(5000); // the route's no-progress timer
  loop.expect(req("INVITE", 5091), "the backup after no progress");
  assert.equal(loop.b2bua.health.isDown(PRIMARY), true);
  loop.inject(callerInvite("bob", "", 2), CALLER);
  const next = loop.take();
  assert.ok(next.some(req("INVITE", 5091)) && !next.some(req("INVITE", 5090)));
  loop.b2bua.stopProbes();
});

Deno.test("route probe: every route down fails the call with 503 at once", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090, { name: "only", probe: PROBE })])]));
  loop.b2bua.startProbes();
  loop.timers.advance(0);
  loop.timers.advance(2000);
  loop.timers.advance(10_000);
  loop.timers.advance(2000);
  assert.equal(loop.b2bua.health.isDown(PRIMARY), true);
  loop.take();
  loop.inject(callerInvite("bob", "", 1), CALLER);
  const out = loop.take();
  assert.ok(out.some(res(503)), "503 to the caller");
  assert.ok(!out.some(req("INVITE")), "no INVITE to a server known down");
  loop.b2bua.stopProbes();
});

Deno.test("route probe: a reload keeps what is known; taking probe away forgets it", () => {
  const { loop } = setup({ ...PROBE, downAfter: 1 });
  probesAfter(loop, 0);
  loop.timers.advance(2000);
  assert.equal(loop.b2bua.health.isDown(PRIMARY), true);
  // Same routes, new configuration object (a reload): still down, probed on schedule.
  loop.cfg = structuredClone(loop.cfg);
  loop.timers.advance(1000);
  assert.equal(loop.b2bua.health.isDown(PRIMARY), true);
  // Probe removed: nothing is known, the server is tried.
  const cfg = structuredClone(loop.cfg);
  delete cfg.rules[0].routes[0].probe;
  loop.cfg = cfg;
  loop.timers.advance(1000);
  assert.equal(loop.b2bua.health.isDown(PRIMARY), false);
  assert.equal(loop.b2bua.health.list().length, 0);
  loop.b2bua.stopProbes();
});

Deno.test("respect_retry_after: a 503 with Retry-After holds the server back that long, at most the route's cap", () => {
  const ended: CallRecord[] = [];
  const loop = new Loop(
    config([rule([
      route("10.0.0.2", 5090, { name: "primary", respectRetryAfter: 60_000 }),
      route("10.0.0.3", 5091, { name: "backup" }),
    ])]),
    { onCallEnded: (rec) => ended.push(rec) },
  );
  const call = (n: number) => {
    loop.inject(callerInvite("alice-kit", "", n), CALLER);
    return loop.take();
  };
  const first = call(1).find(req("INVITE", 5090))!.msg as SipRequest;
  loop.inject(answer(first, 503, "p", { extra: "Retry-After: 300\n" }), PRIMARY);
  const backup = loop.expect(req("INVITE", 5091), "failover to backup").msg as SipRequest;
  loop.inject(answer(backup, 486, "b"), { host: "10.0.0.3", port: 5091, protocol: "udp" });
  // Held for 60 s (the cap), not 300: the next call goes straight to the backup.
  const second = call(2);
  assert.ok(!second.find(req("INVITE", 5090)), "primary skipped while held");
  const b2 = second.find(req("INVITE", 5091))!.msg as SipRequest;
  loop.inject(answer(b2, 486, "b"), { host: "10.0.0.3", port: 5091, protocol: "udp" });
  assert.deepEqual(ended[1].attempts.map((a) => [a.route, a.outcome]), [
    ["primary", "held"],
    ["backup", "failed"],
  ]);
  loop.timers.advance(60_000);
  assert.ok(call(3).find(req("INVITE", 5090)), "tried again once the hold is over");
});

Deno.test("respect_retry_after: off by default, a 503's Retry-After holds nothing back", () => {
  const loop = new Loop(config([rule([
    route("10.0.0.2", 5090, { name: "primary" }),
    route("10.0.0.3", 5091, { name: "backup" }),
  ])]));
  loop.inject(callerInvite("alice-kit", "", 1), CALLER);
  const first = loop.expect(req("INVITE", 5090), "INVITE 1").msg as SipRequest;
  loop.inject(answer(first, 503, "p", { extra: "Retry-After: 300\n" }), PRIMARY);
  loop.take();
  loop.inject(callerInvite("alice-kit", "", 2), CALLER);
  loop.expect(req("INVITE", 5090), "the next call tries the primary again");
});

// RFC 3263 server location over a table of records (the DNS client itself is tested against
// dnsmasq in dns/client_test.ts; here the order of servers and every fallback).

import assert from "node:assert/strict";
import {
  locate,
  LocateError,
  type LocateResolver,
  type LocateTarget,
  MAX_TARGETS,
} from "../../src/transport/mod.ts";
import { naptrOrder, srvOrder } from "../../src/transport/locate.ts";

type Rec = Awaited<ReturnType<LocateResolver["query"]>>["records"][number];

/** Records by "type name"; a name listed in `failing` times out; queries are logged. */
function zone(records: Record<string, Rec[]>, failing: string[] = []) {
  const asked: string[] = [];
  const dns: LocateResolver = {
    query(name, type) {
      const k = `${type} ${name}`;
      asked.push(k);
      if (failing.includes(k)) return Promise.reject(new Error("timeout"));
      return Promise.resolve({ records: records[k] ?? [] });
    },
  };
  return { dns, asked };
}

const a = (address: string): Rec => ({ type: "A", address });
const aaaa = (address: string): Rec => ({ type: "AAAA", address });
const srv = (priority: number, weight: number, port: number, target: string): Rec => ({
  type: "SRV",
  priority,
  weight,
  port,
  target,
});
const naptr = (order: number, preference: number, service: string, replacement: string): Rec => ({
  type: "NAPTR",
  order,
  preference,
  flags: "s",
  service,
  replacement,
});
const t = (mode: LocateTarget["mode"], over: Partial<LocateTarget> = {}): LocateTarget => ({
  host: "carrier.test",
  port: 5060,
  transport: "udp",
  mode,
  ...over,
});
const eps = (list: { protocol: string; host: string; port: number }[]) =>
  list.map((e) => `${e.protocol}:${e.host}:${e.port}`);
const first = () => 0;

Deno.test("locate: an IP literal is itself, without DNS", async () => {
  const z = zone({});
  const got = await locate(t("a", { host: "192.0.2.7", port: 5080 }), z.dns, first);
  assert.deepEqual(eps(got), ["udp:192.0.2.7:5080"]);
  assert.deepEqual(z.asked, []);
});

Deno.test("locate: a name with a port is its A and AAAA records at that port", async () => {
  const z = zone({
    "A carrier.test": [a("192.0.2.1")],
    "AAAA carrier.test": [aaaa("2001:db8::1")],
  });
  const got = await locate(t("a", { port: 5080, transport: "tcp" }), z.dns, first);
  assert.deepEqual(eps(got), ["tcp:192.0.2.1:5080", "tcp:2001:db8::1:5080"]);
  assert.ok(!z.asked.some((q) => q.startsWith("SRV") || q.startsWith("NAPTR")));
});

Deno.test("locate: SRV by priority, each target's addresses at the SRV port", async () => {
  const z = zone({
    "SRV _sip._tcp.carrier.test": [
      srv(20, 0, 5082, "b.carrier.test"),
      srv(10, 0, 5081, "a.carrier.test"),
    ],
    "A a.carrier.test": [a("192.0.2.1"), a("192.0.2.11")],
    "A b.carrier.test": [a("192.0.2.2")],
  });
  const got = await locate(t("srv", { transport: "tcp" }), z.dns, first);
  assert.deepEqual(eps(got), ["tcp:192.0.2.1:5081", "tcp:192.0.2.11:5081", "tcp:192.0.2.2:5082"]);
});

Deno.test("locate: TLS asks _sips._tcp, and no SRV falls back to the name at 5061", async () => {
  const z = zone({ "A carrier.test": [a("192.0.2.1")] });
  const got = await locate(t("srv", { transport: "tls", port: 5061 }), z.dns, first);
  assert.ok(z.asked.includes("SRV _sips._tcp.carrier.test"));
  assert.deepEqual(eps(got), ["tls:192.0.2.1:5061"]);
});

Deno.test("locate: an SRV set of '.' means no service there, and no A fallback", async () => {
  const z = zone({
    "SRV _sip._udp.carrier.test": [srv(0, 0, 0, "")],
    "A carrier.test": [a("192.0.2.1")],
  });
  assert.deepEqual(await locate(t("srv"), z.dns, first), []);
});

Deno.test("locate: NAPTR picks transports by order and preference, then SRV", async () => {
  const z = zone({
    "NAPTR carrier.test": [
      naptr(10, 60, "SIP+D2U", "_sip._udp.carrier.test"),
      naptr(10, 50, "SIP+D2T", "_sip._tcp.carrier.test"),
      naptr(5, 10, "SIP+D2X", "_sip._sctp.carrier.test"), // a transport we lack: ignored
    ],
    "SRV _sip._tcp.carrier.test": [srv(10, 0, 5070, "t.carrier.test")],
    "SRV _sip._udp.carrier.test": [srv(10, 0, 5060, "u.carrier.test")],
    "A t.carrier.test": [a("192.0.2.3")],
    "A u.carrier.test": [a("192.0.2.4")],
  });
  const got = await locate(t("naptr"), z.dns, first);
  assert.deepEqual(eps(got), ["tcp:192.0.2.3:5070", "udp:192.0.2.4:5060"]);
});

Deno.test("locate: no NAPTR, SRV for UDP, TCP and TLS; none, UDP to the name at 5060", async () => {
  const z = zone({
    "SRV _sip._tcp.carrier.test": [srv(10, 0, 5070, "t.carrier.test")],
    "A t.carrier.test": [a("192.0.2.3")],
  });
  assert.deepEqual(eps(await locate(t("naptr"), z.dns, first)), ["tcp:192.0.2.3:5070"]);
  assert.ok(z.asked.includes("SRV _sip._udp.carrier.test"));
  assert.ok(z.asked.includes("SRV _sips._tcp.carrier.test"));
  const bare = zone({ "A carrier.test": [a("192.0.2.9")] });
  assert.deepEqual(eps(await locate(t("naptr"), bare.dns, first)), ["udp:192.0.2.9:5060"]);
});

Deno.test("locate: WebSocket has no SRV names; addresses at the given port", async () => {
  const z = zone({ "A carrier.test": [a("192.0.2.1")] });
  const got = await locate(t("srv", { transport: "wss", port: 443 }), z.dns, first);
  assert.deepEqual(eps(got), ["wss:192.0.2.1:443"]);
  assert.ok(!z.asked.some((q) => q.startsWith("SRV")));
});

Deno.test("locate: a failed lookup is an error only when nothing was found", async () => {
  const dead = zone({}, ["A carrier.test", "AAAA carrier.test"]);
  await assert.rejects(() => locate(t("a"), dead.dns, first), LocateError);
  // The AAAA timing out does not lose the A record.
  const half = zone({ "A carrier.test": [a("192.0.2.1")] }, ["AAAA carrier.test"]);
  assert.deepEqual(eps(await locate(t("a"), half.dns, first)), ["udp:192.0.2.1:5060"]);
  // An SRV lookup that failed is not "no SRV records": no silent fallback to the name, whose
  // A record may be a web server.
  const srvDown = zone({ "A carrier.test": [a("192.0.2.1")] }, ["SRV _sip._udp.carrier.test"]);
  await assert.rejects(() => locate(t("srv"), srvDown.dns, first), LocateError);
  // A failed NAPTR lookup still lets the SRV records be found.
  const naptrDown = zone({
    "SRV _sip._udp.carrier.test": [srv(1, 0, 5090, "u.carrier.test")],
    "A u.carrier.test": [a("192.0.2.4")],
  }, ["NAPTR carrier.test"]);
  assert.deepEqual(eps(await locate(t("naptr"), naptrDown.dns, first)), ["udp:192.0.2.4:5090"]);
});

Deno.test("locate: duplicates are tried once, and at most MAX_TARGETS servers", async () => {
  const many = Array.from({ length: 40 }, (_, i) => srv(10, 0, 5000 + i, "a.carrier.test"));
  const z = zone({
    "SRV _sip._udp.carrier.test": [...many, srv(10, 0, 5000, "a.carrier.test")],
    "A a.carrier.test": [a("192.0.2.1")],
  });
  const got = await locate(t("srv"), z.dns, first);
  assert.equal(got.length, MAX_TARGETS);
  assert.equal(new Set(eps(got)).size, MAX_TARGETS);
});

Deno.test("srvOrder: weights share the first place in proportion (RFC 2782)", () => {
  const recs = [srv(10, 60, 1, "a"), srv(10, 30, 2, "b"), srv(10, 10, 3, "c"), srv(5, 0, 4, "z")];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const firsts: Record<string, number> = {};
  for (let i = 0; i < 10_000; i++) {
    const o = srvOrder(recs, rnd);
    assert.equal(o[0].target, "z"); // the lower priority value always first
    assert.equal(o.length, 4);
    firsts[o[1].target] = (firsts[o[1].target] ?? 0) + 1;
  }
  assert.ok(Math.abs(firsts.a / 10_000 - 0.6) < 0.03, JSON.stringify(firsts));
  assert.ok(Math.abs(firsts.b / 10_000 - 0.3) < 0.03, JSON.stringify(firsts));
  assert.ok(Math.abs(firsts.c / 10_000 - 0.1) < 0.03, JSON.stringify(firsts));
});

Deno.test("naptrOrder: only 's' records for SIP services we have", () => {
  const recs: Rec[] = [
    naptr(20, 10, "SIPS+D2T", "_sips._tcp.x"),
    { ...naptr(10, 10, "SIP+D2U", "_sip._udp.x"), flags: "a" } as Rec,
    naptr(10, 20, "sip+d2t", "_sip._tcp.x"),
    naptr(10, 5, "E2U+sip", "x"),
  ];
  assert.deepEqual(naptrOrder(recs).map((r) => r.replacement), ["_sip._tcp.x", "_sips._tcp.x"]);
});

// Routes by host name (RFC 3263) in the engine, over the in-memory loop: DNS answers come from a
// table through the real locate(); the DNS client itself is tested against dnsmasq.

import assert from "node:assert/strict";
import type { CallRecord } from "../../src/b2bua/mod.ts";
import type { SipRequest } from "../../src/sip/mod.ts";
import { locate, type LocateResolver, type LocateTarget } from "../../src/transport/mod.ts";
import { Logger } from "../../src/util/log.ts";
import {
  answer,
  CALLER,
  callerInDialog,
  callerInvite,
  config,
  Loop,
  req,
  res,
  route,
  rule,
} from "./loop.ts";

type Rec = Awaited<ReturnType<LocateResolver["query"]>>["records"][number];

/** A zone whose answers can be held back until `release()`, to test a call cancelled meanwhile. */
function zone(records: Record<string, Rec[]>, failing: string[] = []) {
  const asked: string[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  const dns: LocateResolver = {
    async query(name, type) {
      const k = `${type} ${name}`;
      asked.push(k);
      await gate;
      if (failing.includes(k)) throw new Error("DNS timeout");
      return { records: records[k] ?? [] };
    },
  };
  return {
    asked,
    locate: (t: LocateTarget) => locate(t, dns, () => 0),
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release: () => open(),
  };
}

const SRV_ZONE: Record<string, Rec[]> = {
  "SRV _sip._udp.carrier.test": [
    { type: "SRV", priority: 10, weight: 0, port: 5091, target: "a.carrier.test" },
    { type: "SRV", priority: 20, weight: 0, port: 5092, target: "b.carrier.test" },
  ],
  "A a.carrier.test": [{ type: "A", address: "10.0.0.21" }],
  "A b.carrier.test": [{ type: "A", address: "10.0.0.22" }],
};

/** Let the resolver's promises settle. */
const settle = () => new Promise((r) => setTimeout(r, 0));

function setup(
  routes = [route("carrier.test", 5060, { name: "carrier", dns: "srv" })],
  z = zone(SRV_ZONE),
) {
  const ended: CallRecord[] = [];
  const loop = new Loop(config([rule(routes)]), {
    locate: z.locate,
    onCallEnded: (rec) => ended.push(rec),
  });
  return { loop, z, ended };
}

Deno.test("dns: a route by name goes to the first SRV server, the URI naming the domain", async () => {
  const { loop } = setup();
  loop.inject(callerInvite(), CALLER);
  await settle();
  const inv = loop.expect(req("INVITE", 5091), "INVITE to the SRV server").msg as SipRequest;
  assert.equal(loop.sent.length, 0);
  // §4.2: located by SRV, the Request-URI and To keep the domain and leave out the port.
  assert.equal(inv.uri, "sip:alice-kit@carrier.test");
  assert.match(inv.get("to")!, /^<sip:alice-kit@carrier\.test>$/);
});

Deno.test("dns: a 503 or a timeout moves to the name's next server", async () => {
  const { loop, ended } = setup();
  loop.inject(callerInvite(), CALLER);
  await settle();
  const inv = loop.expect(req("INVITE", 5091), "INVITE 1").msg as SipRequest;
  loop.inject(answer(inv, 503, "t1"), { host: "10.0.0.21", port: 5091, protocol: "udp" });
  const inv2 = loop.expect(req("INVITE", 5092), "INVITE 2").msg as SipRequest;
  assert.equal(inv2.uri, "sip:alice-kit@carrier.test");
  loop.inject(answer(inv2, 486, "t2"), { host: "10.0.0.22", port: 5092, protocol: "udp" });
  loop.expect(res(486), "486 to the caller");
  assert.equal(ended.length, 1);
  assert.deepEqual(
    ended[0].attempts.map((a) => [a.route, a.target, a.finalStatus]),
    [["carrier", "udp:10.0.0.21:5091", 503], ["carrier", "udp:10.0.0.22:5092", 486]],
  );
});

Deno.test("dns: any other failure speaks for the whole name: the next route is tried", async () => {
  const { loop } = setup([
    route("carrier.test", 5060, { name: "carrier", dns: "srv" }),
    route("10.0.0.30", 5093, { name: "backup" }),
  ]);
  loop.inject(callerInvite(), CALLER);
  await settle();
  const inv = loop.expect(req("INVITE", 5091), "INVITE 1").msg as SipRequest;
  loop.inject(answer(inv, 404, "t1"), { host: "10.0.0.21", port: 5091, protocol: "udp" });
  // Not b.carrier.test (5092): a 404 from one of a domain's servers is the domain's answer.
  loop.expect(req("INVITE", 5093), "INVITE to the backup route");
});

Deno.test("dns: a name that does not resolve is skipped as unreachable", async () => {
  const z = zone({}, ["SRV _sip._udp.carrier.test"]);
  const { loop, ended } = setup(
    [
      route("carrier.test", 5060, { name: "carrier", dns: "srv" }),
      route("10.0.0.30", 5093, { name: "backup" }),
    ],
    z,
  );
  loop.inject(callerInvite(), CALLER);
  await settle();
  const inv = loop.expect(req("INVITE", 5093), "INVITE to the backup route").msg as SipRequest;
  loop.inject(answer(inv, 603, "t1"), { host: "10.0.0.30", port: 5093, protocol: "udp" });
  assert.equal(ended[0].attempts[0].outcome, "unreachable");
  assert.equal(ended[0].attempts[0].target, "dns:carrier.test");
  // Alone, it fails the call with 503.
  const alone = setup(undefined, zone({}));
  alone.loop.inject(callerInvite(), CALLER);
  await settle();
  alone.loop.expect(res(503), "503 to the caller");
});

Deno.test("dns: servers over transports Tandem lacks are left out", async () => {
  const z = zone({
    "NAPTR carrier.test": [
      {
        type: "NAPTR",
        order: 10,
        preference: 10,
        flags: "s",
        service: "SIPS+D2T",
        replacement: "_sips._tcp.carrier.test",
      },
      {
        type: "NAPTR",
        order: 20,
        preference: 10,
        flags: "s",
        service: "SIP+D2T",
        replacement: "_sip._tcp.carrier.test",
      },
    ],
    "SRV _sips._tcp.carrier.test": [
      { type: "SRV", priority: 1, weight: 0, port: 5061, target: "a.carrier.test" },
    ],
    "SRV _sip._tcp.carrier.test": [
      { type: "SRV", priority: 1, weight: 0, port: 5070, target: "a.carrier.test" },
    ],
    "A a.carrier.test": [{ type: "A", address: "10.0.0.21" }],
  });
  const { loop } = setup([route("carrier.test", 5060, { name: "carrier", dns: "naptr" })], z);
  loop.transports.delete("tls");
  loop.inject(callerInvite(), CALLER);
  await settle();
  const s = loop.expect(req("INVITE", 5070), "INVITE over TCP");
  assert.equal(s.dest.protocol, "tcp");
  // By NAPTR, the URI names neither port nor transport: DNS chose them.
  assert.equal((s.msg as SipRequest).uri, "sip:alice-kit@carrier.test");
});

Deno.test("dns: a call cancelled while DNS answers sends no INVITE", async () => {
  const z = zone(SRV_ZONE);
  z.hold();
  const { loop, ended } = setup(undefined, z);
  const invite = callerInvite();
  loop.inject(invite, CALLER);
  loop.inject(
    invite.replace(/^INVITE (\S+)/, "CANCEL $1").replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
      .replace(/Content-Type[\s\S]*$/, "Content-Length: 0\n\n"),
    CALLER,
  );
  loop.expect(res(487), "487 to the caller");
  z.release();
  await settle();
  assert.equal(loop.sent.filter(req("INVITE")).length, 0);
  assert.equal(ended.length, 1);
});

Deno.test("dns: an IP route never asks DNS", async () => {
  const { loop, z } = setup([route("10.0.0.30", 5093, { name: "ip" })]);
  loop.inject(callerInvite(), CALLER);
  loop.expect(req("INVITE", 5093), "INVITE at once, no await");
  await settle();
  assert.deepEqual(z.asked, []);
});

Deno.test("dns: a route RADIUS gives by name is located too, by SRV when it names a transport", async () => {
  const z = zone({
    "SRV _sip._tcp.carrier.test": [
      { type: "SRV", priority: 1, weight: 0, port: 5094, target: "a.carrier.test" },
    ],
    "A a.carrier.test": [{ type: "A", address: "10.0.0.21" }],
  });
  const cfg = config([{
    ...rule([route("10.0.0.9", 5099)]),
    auth: { mode: "source", realm: "r", onTimeout: "reject" },
  }]);
  const loop = new Loop(cfg, {
    locate: z.locate,
    authorize: () =>
      Promise.resolve({ outcome: "accept", routes: ["sip:carrier.test;transport=tcp"] }),
  });
  loop.inject(callerInvite(), CALLER);
  await settle();
  await settle();
  const s = loop.expect(req("INVITE", 5094), "INVITE to the SRV server over TCP");
  assert.equal(s.dest.host, "10.0.0.21");
  assert.equal((s.msg as SipRequest).uri, "sip:alice-kit@carrier.test;transport=tcp");
});

Deno.test("dns: a probed route by name probes each server DNS gives; calls skip the down one", async () => {
  const probe = { interval: 10_000, timeout: 2000, downAfter: 1, upAfter: 1 };
  const { loop, ended } = setup([
    route("carrier.test", 5060, { name: "carrier", dns: "srv", probe }),
  ]);
  loop.b2bua.startProbes();
  loop.timers.advance(0); // the schedule asks DNS
  await settle();
  loop.timers.advance(1000); // and probes what it found
  const probes = loop.take().filter(req("OPTIONS"));
  assert.deepEqual(probes.map((p) => p.dest.port).sort(), [5091, 5092]);
  assert.equal((probes[0].msg as SipRequest).uri, "sip:carrier.test");
  const b = probes.find((p) => p.dest.port === 5092)!.msg;
  loop.inject(answer(b, 200, "p"), { host: "10.0.0.22", port: 5092, protocol: "udp" });
  loop.timers.advance(2000); // 5091 never answers: down
  loop.take();
  loop.inject(callerInvite(), CALLER);
  await settle();
  const inv = loop.expect(req("INVITE", 5092), "INVITE to the server that answers").msg;
  loop.inject(answer(inv, 486, "t"), { host: "10.0.0.22", port: 5092, protocol: "udp" });
  assert.deepEqual(ended[0].attempts.map((a) => a.outcome), ["down", "failed"]);
  loop.b2bua.stopProbes();
});

Deno.test("dns: a followed 3xx Contact by name is located; unresolved, it goes to the route", async () => {
  const z = zone({
    "A moved.carrier.test": [{ type: "A", address: "10.0.0.40" }],
  });
  const { loop } = setup([route("10.0.0.3", 5091, { followRedirects: true })], z);
  loop.inject(callerInvite("moved-kit", "", 1), CALLER);
  const first = loop.expect(req("INVITE", 5091), "INVITE to the route").msg as SipRequest;
  const from = { host: "10.0.0.3", port: 5091, protocol: "udp" as const };
  loop.inject(answer(first, 302, "t1", { contact: "<sip:new@moved.carrier.test:5096>" }), from);
  await settle();
  const again = loop.expect(req("INVITE", 5096), "INVITE to the located Contact");
  assert.equal(again.dest.host, "10.0.0.40");
  assert.equal((again.msg as SipRequest).uri, "sip:new@moved.carrier.test:5096");
  // A name DNS does not know: the route's own address, Request-URI unchanged.
  loop.inject(callerInvite("moved-kit", "", 2), CALLER);
  const second = loop.expect(req("INVITE", 5091), "INVITE to the route").msg as SipRequest;
  loop.inject(answer(second, 302, "t2", { contact: "<sip:new@unknown.carrier.test>" }), from);
  await settle();
  const routed = loop.expect(req("INVITE", 5091), "INVITE to the route's address");
  assert.equal((routed.msg as SipRequest).uri, "sip:new@unknown.carrier.test");
});

Deno.test("dns: a name that does not resolve warns once per route every 10 s, not per call", async () => {
  const lines: string[] = [];
  const loop = new Loop(
    config([rule([route("carrier.test", 5060, { name: "carrier", dns: "srv" })])]),
    { locate: zone({}, ["SRV _sip._udp.carrier.test"]).locate },
    undefined,
    undefined,
    new Logger("warn", "json", (l) => lines.push(l)),
  );
  for (let n = 1; n <= 5; n++) {
    loop.inject(callerInvite("bob", "", n), CALLER);
    await settle();
    loop.expect(res(503), `503 to caller ${n}`);
  }
  const warned = () => lines.filter((l) => l.includes('"event":"route-unresolved"'));
  assert.equal(warned().length, 1);
  loop.timers.advance(10_000);
  loop.inject(callerInvite("bob", "", 6), CALLER);
  await settle();
  assert.equal(warned().length, 2);
  assert.match(warned()[1], /"alsoUnresolved":4/);
});

Deno.test("dns: a callee's Record-Route by host name is located for the dialog's requests", async () => {
  const z = zone({
    ...SRV_ZONE,
    "A edge.carrier.test": [{ type: "A", address: "10.0.0.40" }],
  });
  const { loop } = setup([route("10.0.0.2", 5090, { name: "direct" })], z);
  loop.inject(callerInvite(), CALLER);
  await settle();
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(
    answer(inv, 200, "callee-tag", {
      contact: "<sip:callee@10.0.0.2:5090>",
      extra: "Record-Route: <sip:edge.carrier.test:5070;lr>\n",
    }),
    { host: "10.0.0.2", port: 5090, protocol: "udp" },
  );
  // The ACK goes out at once, where the INVITE went: the name is being looked up meanwhile.
  const ack = loop.expect(req("ACK"), "ACK to the callee");
  assert.equal(ack.dest.host, "10.0.0.2");
  await settle();
  assert.ok(z.asked.includes("A edge.carrier.test"), `asked ${z.asked.join(", ")}`);
  loop.take();
  // The caller hangs up: the BYE goes to the address of the Record-Route's name and port.
  const ok = loop.b2bua.calls.values().next().value!;
  loop.inject(
    callerInDialog("BYE", `<sip:alice-kit@10.0.0.9:5060>;tag=${ok.a.localTag}`, 2),
    CALLER,
  );
  const bye = loop.expect(req("BYE"), "BYE to the callee");
  assert.deepEqual([bye.dest.host, bye.dest.port], ["10.0.0.40", 5070]);
  assert.match((bye.msg as SipRequest).get("route")!, /edge\.carrier\.test:5070;lr/);
});

Deno.test("dns: a WebSocket callee's Contact (a .invalid host) is never looked up; requests keep its connection", async () => {
  const z = zone(SRV_ZONE);
  const { loop } = setup([route("10.0.0.2", 8088, { name: "browser", transport: "ws" })], z);
  loop.transports.add("ws");
  loop.inject(callerInvite(), CALLER);
  await settle();
  const inv = loop.expect(req("INVITE", 8088), "INVITE over ws").msg as SipRequest;
  loop.inject(
    answer(inv, 200, "phone", { contact: "<sip:k3j4@df7jal23ls0d.invalid;transport=ws>" }),
    { host: "10.0.0.2", port: 8088, protocol: "ws" },
  );
  loop.take();
  const call = loop.b2bua.calls.values().next().value!;
  loop.inject(
    callerInDialog("BYE", `<sip:alice-kit@10.0.0.9:5060>;tag=${call.a.localTag}`, 2),
    CALLER,
  );
  await settle();
  const bye = loop.expect(req("BYE"), "BYE to the phone");
  assert.deepEqual([bye.dest.host, bye.dest.port, bye.dest.protocol], ["10.0.0.2", 8088, "ws"]);
  assert.deepEqual(z.asked, [], "no DNS query");
});

// Peers behind NAT: a caller or callee whose Contact names a private address while its packets
// come from a public one, with no proxy between, gets the requests of its dialog where its
// packets came from; on a private network, Contacts are followed as they are. In-memory loop.

import assert from "node:assert/strict";
import type { SipRequest, SipResponse } from "../../src/sip/mod.ts";
import type { Endpoint } from "../../src/transport/types.ts";
import {
  answer,
  calleeBye,
  callerInDialog,
  callerInvite,
  config,
  Loop,
  req,
  res,
  route,
  rule,
} from "./loop.ts";

/** A call from `from` with `contact`, to a callee at `callee` answering with `calleeContact`. */
function call(from: Endpoint, contact: string, callee: Endpoint, calleeContact: string) {
  const loop = new Loop(config([rule([route(callee.host, callee.port)])]));
  loop.inject(
    callerInvite().replace(
      "Contact: <sip:alice@10.0.0.1:5070;transport=UDP>",
      `Contact: <${contact}>`,
    ),
    from,
  );
  const inv = loop.expect(req("INVITE", callee.port), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 200, "ct", { contact: `<${calleeContact}>` }), callee);
  const ok = loop.take().find(res(200))!.msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), from);
  loop.take();
  return { loop, inv, ok };
}

const PUBLIC_CALLER: Endpoint = { host: "198.51.100.7", port: 40000, protocol: "udp" };
const PUBLIC_CALLEE: Endpoint = { host: "203.0.113.9", port: 5060, protocol: "udp" };

Deno.test("NAT: a caller whose Contact is private but whose packets are public gets its BYE where they came from", () => {
  const { loop, inv } = call(
    PUBLIC_CALLER,
    "sip:alice@192.168.1.20:5060",
    PUBLIC_CALLEE,
    "sip:b@203.0.113.9",
  );
  loop.inject(calleeBye(inv, "ct"), PUBLIC_CALLEE);
  const bye = loop.take().find(req("BYE"))!;
  assert.deepEqual([bye.dest.host, bye.dest.port], ["198.51.100.7", 40000]);
});

Deno.test("NAT: a callee answering with a private Contact from a public address gets the caller's BYE there", () => {
  const { loop, ok } = call(
    PUBLIC_CALLER,
    "sip:alice@198.51.100.7:40000",
    PUBLIC_CALLEE,
    "sip:b@192.168.50.5:5060",
  );
  loop.inject(callerInDialog("BYE", ok.get("to")!, 2), PUBLIC_CALLER);
  const bye = loop.take().find(req("BYE"))!;
  assert.deepEqual([bye.dest.host, bye.dest.port], ["203.0.113.9", 5060]);
});

Deno.test("NAT: on a private network, or with a public Contact, the Contact is followed", () => {
  const LAN: Endpoint = { host: "10.0.0.1", port: 5070, protocol: "udp" };
  const { loop, inv } = call(LAN, "sip:alice@10.0.0.44:5060", PUBLIC_CALLEE, "sip:b@203.0.113.9");
  loop.inject(calleeBye(inv, "ct"), PUBLIC_CALLEE);
  const bye = loop.take().find(req("BYE"))!;
  assert.deepEqual(
    [bye.dest.host, bye.dest.port],
    ["10.0.0.44", 5060],
    "a LAN: nothing translated",
  );
  const pub = call(
    PUBLIC_CALLER,
    "sip:alice@198.51.100.8:5062",
    PUBLIC_CALLEE,
    "sip:b@203.0.113.9",
  );
  pub.loop.inject(calleeBye(pub.inv, "ct"), PUBLIC_CALLEE);
  const bye2 = pub.loop.take().find(req("BYE"))!;
  assert.deepEqual([bye2.dest.host, bye2.dest.port], ["198.51.100.8", 5062], "a public Contact");
});

// Which call an outgoing leg belongs to, for SIP capture (HEP's correlation id): every leg a call
// tried, failed ones too, until its late messages can no longer come.

import assert from "node:assert/strict";
import type { SipRequest } from "../../src/sip/mod.ts";
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

const CALLEE = { host: "10.0.0.2", port: 5090, protocol: "udp" as const };
const CALLEE2 = { host: "10.0.0.3", port: 5091, protocol: "udp" as const };
const CALLER_ID = "caller-call-1@10.0.0.1";

Deno.test("correlation: each leg a call tried maps to the caller's Call-ID, for 32 s after the end", () => {
  const loop = new Loop(config([rule([route("10.0.0.3", 5091), route("10.0.0.2", 5090)])]));
  loop.b2bua.correlateLegs(true);
  loop.inject(callerInvite("corr-kit"), CALLER);
  const first = loop.expect(req("INVITE", 5091), "INVITE to the first route").msg as SipRequest;
  assert.equal(loop.b2bua.callerCallIdOf(first.callId), CALLER_ID);
  loop.inject(answer(first, 503, "t1"), CALLEE2);
  const second = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
  assert.equal(loop.b2bua.callerCallIdOf(second.callId), CALLER_ID);
  assert.equal(loop.b2bua.callerCallIdOf(CALLER_ID), undefined, "the caller's own leg: none");

  loop.inject(answer(second, 200, "t2", { contact: "<sip:b@10.0.0.2:5090>" }), CALLEE);
  const ok = loop.take().find(res(200))!.msg;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  loop.inject(callerInDialog("BYE", ok.get("to")!, 2), CALLER);
  const bye = loop.expect(req("BYE", 5090), "BYE to the callee").msg as SipRequest;
  loop.inject(answer(bye, 200, "t2"), CALLEE);
  // Ended: a late retransmission still finds its call for a while, then nothing is kept.
  loop.timers.advance(20_000);
  assert.equal(loop.b2bua.callerCallIdOf(second.callId), CALLER_ID);
  loop.timers.advance(13_000);
  assert.equal(loop.b2bua.callerCallIdOf(first.callId), undefined);
  assert.equal(loop.b2bua.callerCallIdOf(second.callId), undefined);
});

Deno.test("correlation: nothing is kept while capture is off, and turning it off forgets", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.inject(callerInvite("corr-off-kit", "", 1), CALLER);
  const a = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  assert.equal(loop.b2bua.callerCallIdOf(a.callId), undefined);
  loop.b2bua.correlateLegs(true);
  loop.inject(callerInvite("corr-off-kit", "", 2), CALLER);
  const b = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  assert.equal(loop.b2bua.callerCallIdOf(b.callId), "caller-call-2@10.0.0.1");
  loop.b2bua.correlateLegs(false);
  assert.equal(loop.b2bua.callerCallIdOf(b.callId), undefined);
});

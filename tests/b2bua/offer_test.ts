// Offer and answer across the two legs (RFC 3264 §2, RFC 3261 §13.2.1): a delayed offer (an
// INVITE without SDP) is offered by the callee in its 2xx and answered by the caller in its ACK,
// which Tandem's ACK to the callee must carry.

import assert from "node:assert/strict";
import { SipRequest, type SipResponse } from "../../src/sip/mod.ts";
import {
  ackWithAnswer,
  answer,
  CALLER,
  callerInvite,
  config,
  delayedOfferInvite,
  Loop,
  req,
  res,
  route,
  rule,
} from "./loop.ts";

const CALLEE = { host: "10.0.0.2", port: 5090, protocol: "udp" as const };
const OFFER =
  "v=0\no=callee 1 1 IN IP4 10.0.0.2\ns=-\nc=IN IP4 10.0.0.2\nt=0 0\nm=audio 4002 RTP/AVP 0\n";
const ANSWER =
  "v=0\no=caller 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n";
const dec = new TextDecoder();

/** A delayed-offer call up to the callee's 2xx; returns the callee's INVITE and the caller's 200. */
function offered(loop: Loop) {
  loop.inject(delayedOfferInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE to the callee").msg as SipRequest;
  assert.equal(inv.body.length, 0, "the callee's INVITE has no offer either");
  loop.inject(answer(inv, 200, "ct", { contact: "<sip:bob@10.0.0.2:5090>", body: OFFER }), CALLEE);
  const sent = loop.take();
  assert.ok(!sent.find(req("ACK", 5090)), "no ACK yet: it must carry the caller's answer");
  const ok = sent.find(res(200))!.msg as SipResponse;
  return { inv, ok };
}

Deno.test("Delayed offer: the callee's 2xx offer reaches the caller, and the caller's ACK answer reaches the callee", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const { inv, ok } = offered(loop);
  assert.equal(dec.decode(ok.body), OFFER.replace(/\n/g, "\r\n"), "the offer, unchanged");
  loop.inject(ackWithAnswer(ok.get("to")!, ANSWER), CALLER);
  const ack = loop.expect(req("ACK", 5090), "ACK to the callee").msg as SipRequest;
  assert.equal(dec.decode(ack.body), ANSWER.replace(/\n/g, "\r\n"), "with the caller's answer");
  assert.equal(ack.get("content-type"), "application/sdp");
  assert.equal(ack.cseq.seq, inv.cseq.seq);
  assert.equal(ack.to.tag, "ct");

  // The callee did not get it in time and resends its 2xx: the same ACK answers it.
  loop.inject(answer(inv, 200, "ct", { contact: "<sip:bob@10.0.0.2:5090>", body: OFFER }), CALLEE);
  const again = loop.take().find(req("ACK", 5090))?.msg as SipRequest | undefined;
  assert.ok(again, "the retransmitted 2xx is ACKed again");
  assert.equal(dec.decode(again.body), ANSWER.replace(/\n/g, "\r\n"));
  // The caller's ACK retransmitted (it saw our 2xx twice) sends nothing new.
  loop.inject(ackWithAnswer(ok.get("to")!, ANSWER), CALLER);
  assert.ok(!loop.take().find(req("ACK", 5090)));
  assert.equal(loop.b2bua.calls.size, 1);
});

Deno.test("Delayed offer: a call ended before the caller's ACK still ACKs the callee's 2xx before its BYE", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  offered(loop);
  const call = [...loop.b2bua.calls.values()][0];
  assert.ok(loop.b2bua.drop(call.id));
  const toCallee = loop.take().filter((s) => s.dest.port === 5090 && s.msg instanceof SipRequest);
  assert.deepEqual(
    toCallee.map((s) => (s.msg as SipRequest).method),
    ["ACK", "BYE"],
    "ACK, then BYE",
  );
});

Deno.test("Early offer: the callee's 2xx is ACKed at once, without a body", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  assert.ok(inv.body.length > 0);
  loop.inject(answer(inv, 200, "ct", { contact: "<sip:bob@10.0.0.2:5090>", body: OFFER }), CALLEE);
  const ack = loop.take().find(req("ACK", 5090))?.msg as SipRequest | undefined;
  assert.ok(ack, "ACK at once");
  assert.equal(ack.body.length, 0);
  assert.equal(ack.get("content-type"), undefined);
});

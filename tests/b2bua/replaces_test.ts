// RFC 3891 Replaces through the B2BUA (attended transfer, RFC 5589): an INVITE naming one leg of
// a call is sent to the peer of that call's other leg, naming that leg's dialog in the peer's
// own frame (to-tag = the peer's tag, from-tag = ours); what cannot be replaced is refused with
// the RFC's statuses.

import assert from "node:assert/strict";
import { parseReplaces, replacesFor } from "../../src/b2bua/replaces.ts";
import type { SipRequest, SipResponse } from "../../src/sip/mod.ts";
import { Logger } from "../../src/util/log.ts";
import {
  answer,
  calleeBye,
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
const SDP = "v=0\nc=IN IP4 10.0.0.2\nm=audio 4002 RTP/AVP 0\n";

/** Call 1 answered: the callee's INVITE and the caller's 200. */
function establish(loop: Loop) {
  loop.inject(callerInvite("bob", "", 1), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE to the callee").msg as SipRequest;
  loop.inject(
    answer(inv, 200, "callee-tag", { contact: "<sip:bob@10.0.0.2:5090>", body: SDP }),
    CALLEE,
  );
  const ok = loop.expect(res(200), "200 to the caller").msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  loop.take();
  return { inv, ok };
}

Deno.test("parseReplaces: call-id and both tags in any order and case, early-only; else undefined", () => {
  assert.deepEqual(parseReplaces("98asjd8@test.com;to-tag=12345;from-tag=67890"), {
    callId: "98asjd8@test.com",
    toTag: "12345",
    fromTag: "67890",
    earlyOnly: false,
  });
  assert.deepEqual(parseReplaces(" a@b ; From-Tag=x ;TO-TAG=y;early-only"), {
    callId: "a@b",
    toTag: "y",
    fromTag: "x",
    earlyOnly: true,
  });
  assert.equal(parseReplaces("a@b;to-tag=1"), undefined);
  assert.equal(parseReplaces(";to-tag=1;from-tag=2"), undefined);
  assert.equal(replacesFor("c", "peer", "ours"), "c;to-tag=peer;from-tag=ours");
});

Deno.test("Replaces naming the caller's leg: the new call goes to the callee's Contact naming the callee's leg in its frame; its BYE then ends the old call", () => {
  const lines: string[] = [];
  const log = new Logger("info", "json", (l) => lines.push(l));
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]), {}, undefined, undefined, log);
  const { inv, ok } = establish(loop);
  const ourTag = (ok.to.tag)!;
  // The transfer target's INVITE (another caller) naming call 1's caller leg as Tandem knows it.
  loop.inject(
    callerInvite(
      "anything",
      `Replaces: caller-call-1@10.0.0.1;to-tag=${ourTag};from-tag=caller-tag-1\nRequire: replaces\n`,
      2,
    ),
    CALLER,
  );
  const out = loop.expect(req("INVITE"), "the replacing INVITE");
  const rep = out.msg as SipRequest;
  assert.deepEqual(out.dest, CALLEE, "to where call 1's callee leg goes");
  assert.equal(rep.uri, "sip:bob@10.0.0.2:5090", "the callee's Contact");
  assert.equal(
    rep.get("replaces"),
    `${inv.callId};to-tag=callee-tag;from-tag=${inv.from.tag}`,
    "call 1's callee leg, to-tag the callee's own",
  );
  assert.equal(rep.get("require"), "replaces");
  assert.notEqual(rep.callId, inv.callId, "a new dialog");
  assert.equal(loop.b2bua.calls.size, 2);
  const [call1, call2] = [...loop.b2bua.calls.keys()];
  const logged = lines.map((l) => JSON.parse(l)).find((l) => l.event === "call-replaces");
  assert.deepEqual([logged?.call, logged?.replaces], [call2, call1], "the transfer is logged");
  // The callee accepts, then ends the dialog it replaced: call 1's caller gets the BYE.
  loop.inject(
    answer(rep, 200, "callee-tag-2", { contact: "<sip:bob@10.0.0.2:5090>", body: SDP }),
    CALLEE,
  );
  assert.ok(loop.take().find(res(200)), "the transfer target is answered");
  loop.inject(calleeBye(inv), CALLEE);
  const bye = loop.expect(req("BYE", CALLER.port), "call 1's caller gets a BYE").msg as SipRequest;
  assert.equal(bye.callId, "caller-call-1@10.0.0.1");
  loop.inject(answer(bye, 200, ""), CALLER);
  assert.ok(loop.take().find(res(200, "BYE")), "the callee's BYE answered");
  assert.equal(loop.b2bua.calls.size, 1, "call 1 ended, the replacing call is up");
});

Deno.test("Replaces naming the callee's leg: the new call goes to the caller's Contact naming the caller's leg in the caller's frame", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const { inv, ok } = establish(loop);
  // A party on the callee's side replaces the callee: it names call 1's callee leg as Tandem
  // knows it (our tag on that leg is the From tag of the INVITE we sent).
  loop.inject(
    callerInvite(
      "x",
      `Replaces: ${inv.callId};to-tag=${inv.from.tag};from-tag=callee-tag\n`,
      3,
    ),
    CALLEE,
  );
  const out = loop.expect(req("INVITE", CALLER.port), "the replacing INVITE to the caller");
  const rep = out.msg as SipRequest;
  assert.equal(rep.uri, "sip:alice@10.0.0.1:5070;transport=UDP", "the caller's Contact");
  assert.equal(
    rep.get("replaces"),
    `caller-call-1@10.0.0.1;to-tag=caller-tag-1;from-tag=${ok.to.tag}`,
  );
  assert.equal(rep.get("require"), undefined, "replaces required only when the sender did");
});

Deno.test("Replaces that cannot be honoured: 481 for no such dialog or an unanswered one, 486 early-only, 603 ended, 400 malformed", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const refuse = (replaces: string, n: number) => {
    loop.inject(callerInvite("x", `Replaces: ${replaces}\n`, n), CALLER);
    const sent = loop.take();
    assert.ok(!sent.find(req("INVITE")), `no INVITE for ${replaces}`);
    const r = sent.find((s) => !("method" in s.msg) && (s.msg as SipResponse).status >= 300);
    return (r?.msg as SipResponse | undefined)?.status;
  };
  assert.equal(refuse("nobody@x;to-tag=a;from-tag=b", 10), 481);
  // Call 1 ringing only: an early dialog is not picked up through Tandem.
  loop.inject(callerInvite("bob", "", 1), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 180, "callee-tag"), CALLEE);
  const ringing = loop.expect(res(180), "180").msg as SipResponse;
  const aTag = ringing.to.tag!;
  assert.equal(refuse(`caller-call-1@10.0.0.1;to-tag=${aTag};from-tag=caller-tag-1`, 11), 481);
  loop.inject(
    answer(inv, 200, "callee-tag", { contact: "<sip:bob@10.0.0.2:5090>", body: SDP }),
    CALLEE,
  );
  const ok = loop.expect(res(200), "200").msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  loop.take();
  const named = `caller-call-1@10.0.0.1;to-tag=${aTag};from-tag=caller-tag-1`;
  assert.equal(refuse(`caller-call-1@10.0.0.1;to-tag=${aTag};from-tag=wrong`, 12), 481);
  assert.equal(refuse(`${named};early-only`, 13), 486);
  assert.equal(refuse("caller-call-1@10.0.0.1;to-tag=only", 14), 400);
  loop.inject(callerInDialog("BYE", ok.get("to")!, 2), CALLER);
  loop.take();
  assert.equal(refuse(named, 15), 603, "a call just ended");
  assert.equal(loop.b2bua.calls.size, 0);
});

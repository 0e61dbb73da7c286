// Option tags across the B2BUA: RFC 3261 §8.2.2.3 (Require, 420), RFC 3262 (reliable provisionals
// and PRACK, mapped leg to leg) and RFC 4028's "timer" carried end to end.

import assert from "node:assert/strict";
import { SipRequest, type SipResponse } from "../../src/sip/mod.ts";
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
const SDP = "v=0\no=- 1 1 IN IP4 10.0.0.2\ns=-\nc=IN IP4 10.0.0.2\nt=0 0\nm=audio 4002 RTP/AVP 0\n";

/** A callee's reliable provisional: Require: 100rel and RSeq `rseq`. */
function reliable(inv: SipRequest, status: number, tag: string, rseq: number, body?: string) {
  return answer(inv, status, tag, {
    contact: "<sip:bob@10.0.0.2:5090>",
    extra: `Require: 100rel\nRSeq: ${rseq}\n`,
    body,
  });
}

/** The callee's answer to a request it received on its dialog (To tag already set). */
function reply(r: SipRequest, status: number) {
  return answer(r, status, "");
}

/** A call from a caller that supports 100rel, up to the callee's INVITE. */
function start(loop: Loop, extra = "Supported: 100rel\n", user = "alice-kit"): SipRequest {
  loop.inject(callerInvite(user, extra), CALLER);
  return loop.expect(req("INVITE", 5090), "INVITE to callee").msg as SipRequest;
}

Deno.test("RFC 3261 §8.2.2.3: a Require naming a tag we do not support gets 420 with Unsupported, and no call", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.inject(callerInvite("alice-kit", "Require: 100rel, Foo\nRequire: bar\n"), CALLER);
  const sent = loop.take();
  const r = sent.find(res(420))?.msg as SipResponse | undefined;
  assert.ok(r, "420 to the caller");
  assert.equal(r.get("unsupported"), "foo, bar", "only the tags we lack, lower case");
  assert.ok(r.to.tag, "the 420 carries a To tag");
  assert.ok(!sent.find(req("INVITE", 5090)), "nothing reaches the callee");
  assert.equal(loop.b2bua.calls.size, 0);
});

Deno.test("Option tags: 100rel, timer and replaces from the caller's Supported and Require reach the callee; others do not", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const inv = start(loop, "Supported: replaces, 100rel\nk: timer, norefersub\nRequire: timer\n");
  assert.equal(inv.getAll("supported").join(", "), "replaces, 100rel, timer");
  assert.equal(inv.get("require"), "timer");
  const plain = start(new Loop(config([rule([route("10.0.0.2", 5090)])])), "");
  assert.equal(
    plain.get("supported"),
    undefined,
    "nothing claimed for a caller that claims nothing",
  );
  assert.equal(plain.get("require"), undefined);
});

Deno.test("RFC 3262: a callee's reliable provisionals reach the caller with our RSeq; PRACKs travel back with the callee's", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const inv = start(loop);
  loop.inject(reliable(inv, 183, "ct", 77, SDP), CALLEE);
  const p183 = loop.expect(res(183), "183 to the caller").msg as SipResponse;
  assert.equal(p183.get("require"), "100rel");
  const rseq = Number(p183.get("rseq"));
  assert.ok(rseq >= 1 && rseq < 2 ** 31, `RSeq ${rseq} in [1, 2^31)`);
  assert.notEqual(rseq, 77, "the caller's leg has its own RSeq space");
  assert.ok(new TextDecoder().decode(p183.body).includes("m=audio 4002"), "early media SDP");

  // The callee resends it until our PRACK: the caller gets the same provisional again.
  loop.inject(reliable(inv, 183, "ct", 77, SDP), CALLEE);
  const again = loop.take();
  assert.equal(again.filter(res(183)).length, 1, "the retransmission is relayed");
  assert.equal(Number(again.find(res(183))!.msg.get("rseq")), rseq, "with the same RSeq");
  assert.ok(!again.find(req("PRACK")), "the caller takes reliable provisionals: no PRACK of ours");

  loop.inject(callerInDialog("PRACK", p183.get("to")!, 2, 1, `RAck: ${rseq} 1 INVITE\n`), CALLER);
  const prack = loop.expect(req("PRACK", 5090), "PRACK to the callee").msg as SipRequest;
  assert.equal(prack.get("rack"), `77 ${inv.cseq.seq} INVITE`);
  assert.equal(prack.callId, inv.callId);
  assert.equal(prack.to.tag, "ct", "on the callee's early dialog");
  assert.equal(prack.from.tag, inv.from.tag);
  assert.ok(prack.cseq.seq > inv.cseq.seq);
  loop.inject(reply(prack, 200), CALLEE);
  const ok = loop.expect(res(200, "PRACK"), "200 PRACK to the caller").msg as SipResponse;
  assert.equal(ok.callId, "caller-call-1@10.0.0.1");

  // The next one is exactly one higher on the caller's leg (§3).
  loop.inject(reliable(inv, 180, "ct", 78), CALLEE);
  const p180 = loop.expect(res(180), "180 to the caller").msg as SipResponse;
  assert.equal(Number(p180.get("rseq")), rseq + 1);
  loop.inject(
    callerInDialog("PRACK", p180.get("to")!, 3, 1, `RAck: ${rseq + 1} 1 INVITE\n`),
    CALLER,
  );
  const prack2 = loop.expect(req("PRACK", 5090), "second PRACK").msg as SipRequest;
  assert.equal(prack2.get("rack"), `78 ${inv.cseq.seq} INVITE`);
  loop.inject(reply(prack2, 200), CALLEE);
  loop.take();

  loop.inject(answer(inv, 200, "ct", { contact: "<sip:bob@10.0.0.2:5090>", body: SDP }), CALLEE);
  const sent = loop.take();
  assert.ok(sent.find(req("ACK", 5090)), "the 2xx is ACKed");
  const final = sent.find(res(200))!.msg as SipResponse;
  assert.equal(final.get("rseq"), undefined, "a final response has no RSeq");
  assert.equal(loop.b2bua.calls.size, 1);
});

Deno.test("RFC 3262 §3: a PRACK that acknowledges nothing we sent gets 481 and goes nowhere", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const inv = start(loop);
  loop.inject(reliable(inv, 183, "ct", 5, SDP), CALLEE);
  const p183 = loop.expect(res(183), "183").msg as SipResponse;
  const rseq = Number(p183.get("rseq"));
  for (const [n, rack] of [[2, `${rseq + 1} 1 INVITE`], [3, `${rseq} 9 INVITE`], [4, "junk"]]) {
    loop.inject(
      callerInDialog("PRACK", p183.get("to")!, n as number, 1, `RAck: ${rack}\n`),
      CALLER,
    );
    const sent = loop.take();
    assert.ok(sent.find(res(481, "PRACK")), `481 for RAck "${rack}"`);
    assert.ok(!sent.find(req("PRACK", 5090)), `nothing to the callee for "${rack}"`);
  }
});

Deno.test("RFC 3262 §4: towards a caller without 100rel we PRACK the callee's reliable provisional ourselves, once", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const inv = start(loop, "");
  loop.inject(reliable(inv, 183, "ct", 40, SDP), CALLEE);
  const sent = loop.take();
  const prack = sent.find(req("PRACK", 5090))?.msg as SipRequest | undefined;
  assert.ok(prack, "our PRACK to the callee");
  assert.equal(prack.get("rack"), `40 ${inv.cseq.seq} INVITE`);
  assert.equal(prack.to.tag, "ct");
  const p183 = sent.find(res(183))!.msg as SipResponse;
  assert.equal(p183.get("require"), undefined, "relayed unreliably");
  assert.equal(p183.get("rseq"), undefined);
  loop.inject(reply(prack, 200), CALLEE);
  // A retransmission is not processed again; our PRACK's transaction covers its own loss.
  loop.inject(reliable(inv, 183, "ct", 40, SDP), CALLEE);
  assert.deepEqual(loop.take().map((s) => s.msg.isRequest), [], "neither PRACK nor 183 again");
  // One that skips a number is not processed at all.
  loop.inject(reliable(inv, 180, "ct", 42), CALLEE);
  assert.deepEqual(loop.take(), []);
  loop.inject(reliable(inv, 180, "ct", 41), CALLEE);
  const next = loop.take();
  assert.ok(next.find(res(180)), "the next in order is relayed");
  assert.equal(next.find(req("PRACK", 5090))?.msg.get("rack"), `41 ${inv.cseq.seq} INVITE`);
});

Deno.test("RFC 3262 with failover: the next callee's reliable provisional continues the caller's RSeq; a late PRACK for the first gets 200 from us", () => {
  const loop = new Loop(config([rule([route("10.0.0.3", 5091), route("10.0.0.2", 5090)])]));
  loop.inject(callerInvite("alice-kit", "Supported: 100rel\n"), CALLER);
  const first = loop.expect(req("INVITE", 5091), "first INVITE").msg as SipRequest;
  loop.inject(reliable(first, 183, "t1", 900, SDP), CALLEE2);
  const p1 = loop.expect(res(183), "first 183").msg as SipResponse;
  const rseq = Number(p1.get("rseq"));
  loop.inject(answer(first, 503, "t1"), CALLEE2);
  const second = loop.expect(req("INVITE", 5090), "second INVITE").msg as SipRequest;
  loop.inject(reliable(second, 180, "t2", 1), CALLEE);
  const p2 = loop.expect(res(180), "second attempt's 180").msg as SipResponse;
  assert.equal(Number(p2.get("rseq")), rseq + 1, "one RSeq space on the caller's leg");
  assert.equal(p2.to.tag, p1.to.tag, "one early dialog towards the caller");

  loop.inject(callerInDialog("PRACK", p1.get("to")!, 2, 1, `RAck: ${rseq} 1 INVITE\n`), CALLER);
  const late = loop.take();
  assert.ok(late.find(res(200, "PRACK")), "200 from us: the first callee is gone");
  assert.ok(!late.find(req("PRACK")), "nothing sent to either callee");
  loop.inject(callerInDialog("PRACK", p2.get("to")!, 3, 1, `RAck: ${rseq + 1} 1 INVITE\n`), CALLER);
  const prack = loop.expect(req("PRACK", 5090), "PRACK to the second callee").msg as SipRequest;
  assert.equal(prack.get("rack"), `1 ${second.cseq.seq} INVITE`);
  assert.equal(prack.callId, second.callId);
});

Deno.test("RFC 4028 timer end to end, RFC 3261 §8.2.2.3 in a dialog: Require: timer is carried, an unknown tag gets 420", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const inv = start(loop, "Supported: timer\nSession-Expires: 1800;refresher=uac\n");
  assert.equal(inv.get("supported"), "timer");
  assert.equal(inv.get("session-expires"), "1800;refresher=uac");
  loop.inject(
    answer(inv, 200, "ct", {
      contact: "<sip:bob@10.0.0.2:5090>",
      body: SDP,
      extra:
        "Require: timer\nSupported: timer, 100rel, path\nSession-Expires: 1800;refresher=uac\n",
    }),
    CALLEE,
  );
  const ok = loop.take().find(res(200))!.msg as SipResponse;
  assert.equal(ok.get("require"), "timer", "the caller learns the callee runs the timer");
  assert.equal(ok.get("supported"), "timer");
  assert.equal(ok.get("session-expires"), "1800;refresher=uac");
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  loop.take();

  // The caller's refresh: an UPDATE with Require: timer reaches the callee with it.
  loop.inject(
    callerInDialog(
      "UPDATE",
      ok.get("to")!,
      2,
      1,
      "Require: timer\nSession-Expires: 1800;refresher=uac\n",
    ),
    CALLER,
  );
  const upd = loop.expect(req("UPDATE", 5090), "UPDATE to the callee").msg as SipRequest;
  assert.equal(upd.get("require"), "timer");
  loop.inject(
    answer(upd, 200, "ct", { extra: "Require: timer\nSession-Expires: 1800;refresher=uac\n" }),
    CALLEE,
  );
  const upd200 = loop.expect(res(200, "UPDATE"), "200 UPDATE").msg as SipResponse;
  assert.equal(upd200.get("require"), "timer");

  loop.inject(callerInDialog("INFO", ok.get("to")!, 3, 1, "Require: timer, foo\n"), CALLER);
  const sent = loop.take();
  const bad = sent.find(res(420, "INFO"))?.msg;
  assert.ok(bad, "420 for an in-dialog request requiring what we lack");
  assert.equal(bad.get("unsupported"), "foo");
  assert.ok(!sent.find(req("INFO", 5090)), "not relayed");
  assert.equal(loop.b2bua.calls.size, 1, "the call stays up");
});

Deno.test("OPTIONS outside a dialog: Allow lists PRACK and Supported lists what a call carries", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.inject(
    `OPTIONS sip:10.0.0.9:5060 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-opt
Max-Forwards: 70
From: <sip:alice@10.0.0.1>;tag=o1
To: <sip:10.0.0.9>
Call-ID: opt-1
CSeq: 1 OPTIONS
Content-Length: 0

`,
    CALLER,
  );
  const r = loop.expect(res(200, "OPTIONS"), "200 OPTIONS").msg as SipResponse;
  assert.ok(r.get("allow")!.split(/,\s*/).includes("PRACK"));
  assert.equal(r.get("supported"), "100rel, timer, replaces");
});

Deno.test("RFC 3311 in an early dialog: the caller's UPDATE after a reliable 183 reaches the callee and its 200 comes back", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const inv = start(loop);
  loop.inject(reliable(inv, 183, "ct", 7, SDP), CALLEE);
  const p183 = loop.expect(res(183), "183").msg as SipResponse;
  const to = p183.get("to")!;
  loop.inject(callerInDialog("PRACK", to, 2, 1, `RAck: ${p183.get("rseq")} 1 INVITE\n`), CALLER);
  const prack = loop.expect(req("PRACK", 5090), "PRACK").msg as SipRequest;
  loop.inject(reply(prack, 200), CALLEE);
  loop.take();
  const sdp =
    "v=0\no=caller 1 2 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n";
  const wire = sdp.replace(/\n/g, "\r\n");
  loop.inject(
    callerInDialog("UPDATE", to, 3, 1, "Contact: <sip:alice@10.0.0.1:5070>\n").replace(
      "Content-Length: 0\n",
      `Content-Type: application/sdp\nContent-Length: ${wire.length}\n`,
    ) + sdp,
    CALLER,
  );
  const upd = loop.expect(req("UPDATE", 5090), "UPDATE to the callee").msg as SipRequest;
  assert.equal(upd.to.tag, "ct", "on the callee's early dialog");
  assert.ok(new TextDecoder().decode(upd.body).includes("o=caller 1 2"));
  loop.inject(answer(upd, 200, "ct", { contact: "<sip:bob@10.0.0.2:5090>", body: SDP }), CALLEE);
  const ok = loop.expect(res(200, "UPDATE"), "200 UPDATE to the caller").msg as SipResponse;
  assert.ok(new TextDecoder().decode(ok.body).includes("m=audio 4002"));
  assert.equal(loop.b2bua.calls.size, 1);
});

Deno.test("RFC 3262: a callee that sends reliable provisionals without waiting for PRACKs costs the call a bounded record", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const inv = start(loop);
  for (let i = 1; i <= 100; i++) loop.inject(reliable(inv, 183, "ct", i), CALLEE);
  const sent = loop.take().filter(res(183)).map((s) => s.msg);
  const rseqs = sent.map((m) => Number(m.get("rseq")));
  assert.equal(rseqs.length, 100, "each one relayed");
  for (let i = 1; i < rseqs.length; i++) assert.equal(rseqs[i], rseqs[0] + i, "in order");
  const call = [...loop.b2bua.calls.values()][0];
  assert.equal(call.reliable!.relayed.length, 8, "only the newest are kept");
  const to = sent[0].get("to")!;
  loop.inject(callerInDialog("PRACK", to, 2, 1, `RAck: ${rseqs[99]} 1 INVITE\n`), CALLER);
  const prack = loop.expect(req("PRACK", 5090), "PRACK for the newest").msg as SipRequest;
  assert.equal(prack.get("rack"), `100 ${inv.cseq.seq} INVITE`);
  loop.inject(callerInDialog("PRACK", to, 3, 1, `RAck: ${rseqs[0]} 1 INVITE\n`), CALLER);
  assert.ok(loop.take().find(res(481, "PRACK")), "the oldest is forgotten: 481");
});

/** A reliable provisional from one fork of the INVITE: its own tag, Contact and RSeq. */
function forked(inv: SipRequest, tag: string, contact: string, rseq: number, body?: string) {
  return answer(inv, 183, tag, { contact, extra: `Require: 100rel\nRSeq: ${rseq}\n`, body });
}

Deno.test("RFC 3262 with a forking proxy: each fork's reliable provisional is PRACKed on its own early dialog, at its own Contact", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const inv = start(loop, "");
  loop.inject(forked(inv, "fork-a", "<sip:a@10.0.0.21:5071>", 1, SDP), CALLEE);
  const pa = loop.expect(req("PRACK"), "PRACK to fork a").msg as SipRequest;
  loop.inject(forked(inv, "fork-b", "<sip:b@10.0.0.22:5072>", 7), CALLEE);
  const sentB = loop.take();
  const pb = sentB.find(req("PRACK"));
  assert.ok(pb, "PRACK to fork b");
  assert.equal(pb.dest.port, 5072, "at fork b's Contact");
  const prackB = pb.msg as SipRequest;
  assert.equal(prackB.uri, "sip:b@10.0.0.22:5072");
  assert.equal(prackB.to.tag, "fork-b");
  assert.equal(prackB.get("rack"), `7 ${inv.cseq.seq} INVITE`);
  assert.equal(pa.uri, "sip:a@10.0.0.21:5071");
  assert.equal(pa.to.tag, "fork-a");
  // Fork a goes on: its next provisional is in order on its own dialog, and PRACKed there.
  loop.inject(reply(pa, 200), { host: "10.0.0.21", port: 5071, protocol: "udp" });
  loop.inject(forked(inv, "fork-a", "<sip:a@10.0.0.21:5071>", 2), CALLEE);
  const pa2 = loop.expect(req("PRACK"), "second PRACK to fork a").msg as SipRequest;
  assert.deepEqual([pa2.uri, pa2.to.tag, pa2.get("rack")], [
    "sip:a@10.0.0.21:5071",
    "fork-a",
    `2 ${inv.cseq.seq} INVITE`,
  ]);
  assert.equal(pa2.cseq.seq, pa.cseq.seq + 1, "fork a's CSeq goes on from its first PRACK");
  // Fork a answers: the call's dialog is its early one, so the BYE's CSeq follows its PRACKs.
  loop.inject(
    answer(inv, 200, "fork-a", { contact: "<sip:a@10.0.0.21:5071>", body: SDP }),
    CALLEE,
  );
  const ok = loop.expect(res(200), "200 to the caller").msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  loop.inject(callerInDialog("BYE", ok.get("to")!, 2), CALLER);
  const bye = loop.expect(req("BYE"), "BYE to fork a").msg as SipRequest;
  assert.equal(bye.uri, "sip:a@10.0.0.21:5071");
  assert.equal(bye.to.tag, "fork-a");
  assert.ok(bye.cseq.seq > pa2.cseq.seq, `BYE CSeq ${bye.cseq.seq} after PRACK ${pa2.cseq.seq}`);
});

Deno.test("RFC 3262 with a forking proxy: the caller's PRACK for each fork's provisional reaches that fork", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const inv = start(loop);
  loop.inject(forked(inv, "fork-a", "<sip:a@10.0.0.21:5071>", 1, SDP), CALLEE);
  const ra = loop.expect(res(183), "fork a's 183").msg as SipResponse;
  loop.inject(forked(inv, "fork-b", "<sip:b@10.0.0.22:5072>", 9, SDP), CALLEE);
  const rb = loop.expect(res(183), "fork b's 183").msg as SipResponse;
  assert.equal(rb.to.tag, ra.to.tag, "one early dialog towards the caller");
  const [sa, sb] = [Number(ra.get("rseq")), Number(rb.get("rseq"))];
  assert.equal(sb, sa + 1);
  // The caller acknowledges fork a's after fork b's arrived: it still goes to fork a.
  loop.inject(callerInDialog("PRACK", ra.get("to")!, 2, 1, `RAck: ${sa} 1 INVITE\n`), CALLER);
  const toA = loop.expect(req("PRACK"), "PRACK to fork a");
  assert.equal(toA.dest.port, 5071);
  assert.equal((toA.msg as SipRequest).to.tag, "fork-a");
  assert.equal((toA.msg as SipRequest).get("rack"), `1 ${inv.cseq.seq} INVITE`);
  loop.inject(callerInDialog("PRACK", rb.get("to")!, 3, 1, `RAck: ${sb} 1 INVITE\n`), CALLER);
  const toB = loop.expect(req("PRACK"), "PRACK to fork b");
  assert.equal(toB.dest.port, 5072);
  assert.equal((toB.msg as SipRequest).get("rack"), `9 ${inv.cseq.seq} INVITE`);
});

// B2BUA engine over the real transaction layer on an in-memory loop, stepped by a manual clock.

import assert from "node:assert/strict";
import type { CallRecord } from "../../src/b2bua/mod.ts";
import { SipRequest, type SipResponse } from "../../src/sip/mod.ts";
import { Logger } from "../../src/util/log.ts";
import { metrics } from "../../src/util/metrics.ts";
import {
  answer,
  calleeBye,
  CALLER,
  callerInDialog,
  callerInvite,
  config,
  describe,
  Loop,
  req,
  res,
  route,
  rule,
} from "./loop.ts";

const CALLEE = { host: "10.0.0.2", port: 5090, protocol: "udp" as const };
const CALLEE2 = { host: "10.0.0.3", port: 5091, protocol: "udp" as const };

/** Set up a call to the answer; returns the callee's INVITE and the caller's 200. */
function establish(loop: Loop, n = 1) {
  loop.inject(callerInvite("alice-kit", "", n), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE to callee").msg as SipRequest;
  loop.inject(answer(inv, 180, "callee-tag"), CALLEE);
  loop.take();
  loop.inject(
    answer(inv, 200, "callee-tag", { contact: "<sip:bob@10.0.0.2:5090>", body: "v=0\n" }),
    CALLEE,
  );
  const sent = loop.take();
  const ack = sent.find(req("ACK", 5090));
  assert.ok(ack, "callee gets an ACK for its 2xx");
  const ok = sent.find(res(200))!.msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1, n), CALLER);
  return { inv, ok };
}

Deno.test("RFC 7092 B2BUA: the callee leg is a new dialog with its own Call-ID, Via and Contact", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.inject(callerInvite(), CALLER);
  const sent = loop.take();
  assert.ok(sent.find(res(100)), "100 Trying to the caller");
  const inv = sent.find(req("INVITE", 5090))!.msg as SipRequest;
  assert.notEqual(inv.callId, "caller-call-1@10.0.0.1");
  assert.equal(inv.vias.length, 1);
  assert.ok(!inv.get("via")!.includes("5070"));
  assert.ok(!inv.get("contact")!.includes("5070"));
  assert.equal(inv.get("x-account"), "1234", "extension headers pass by default");
  assert.equal(inv.get("user-agent"), undefined, "other headers do not");
  assert.equal(inv.maxForwards, 69, "Max-Forwards decremented");
  assert.equal(inv.ruri.user, "alice-kit");
  assert.equal(inv.ruri.host, "10.0.0.2");
  assert.equal(inv.ruri.port, 5090);
  assert.ok(new TextDecoder().decode(inv.body).includes("o=caller 1 1"), "SDP unchanged");
});

Deno.test("RFC 3261 §25.1: escaped users are unescaped for matching and escaped again on the callee leg", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  // "*21#", a NUL and a space: the callee leg's URIs must parse (the loop re-parses them).
  loop.inject(
    callerInvite("%2a21%23").replace('"Alice" <sip:alice@', '"Alice" <sip:al%20ice%00@'),
    CALLER,
  );
  const sent = loop.take();
  const inv = sent.find(req("INVITE", 5090))!.msg as SipRequest;
  assert.equal(inv.ruri.user, "*21%23");
  assert.equal(inv.to.uri.user, "*21%23");
  assert.equal(inv.from.uri.user, "al%20ice%00");
  assert.ok(!sent.find(res(500)), "no 500 to the caller");
});

Deno.test("RFC 3261 §25.1: a user whose escapes are not UTF-8 goes to the callee as received", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.inject(callerInvite("%C3x%23"), CALLER);
  const inv = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
  assert.equal(inv.ruri.user, "%C3x%23", "not escaped twice");
});

Deno.test("B2BUA: one of several SIP workers gives outgoing legs Call-IDs it owns", () => {
  const owned: string[] = [];
  let asked = 0;
  const owns = (id: string) => {
    asked++;
    return id.charCodeAt(0) % 3 === 1; // a third of all Call-IDs: several tries per leg
  };
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]), {}, undefined, owns);
  for (let n = 1; n <= 20; n++) {
    loop.inject(callerInvite("alice-kit", "", n), CALLER);
    const inv = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
    owned.push(inv.callId);
  }
  assert.ok(owned.every((id) => id.charCodeAt(0) % 3 === 1), owned.join(" "));
  assert.equal(new Set(owned).size, 20);
  assert.ok(asked > 20, "Call-IDs the worker does not own were drawn again");
});

Deno.test("B2BUA: 180/200 relayed with Tandem's Contact; BYE relayed with the other leg's tags", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 180, "ct", { contact: "<sip:bob@10.0.0.2:5090>" }), CALLEE);
  const ringing = loop.expect(res(180), "180 to caller").msg as SipResponse;
  assert.ok(ringing.to.tag, "the 180 carries Tandem's To tag");
  assert.ok(!ringing.get("contact")!.includes("10.0.0.2"), "callee Contact hidden");
  loop.inject(
    answer(inv, 200, "ct", { contact: "<sip:bob@10.0.0.2:5090>", body: "v=0\n" }),
    CALLEE,
  );
  const sent = loop.take();
  const ack = sent.find(req("ACK", 5090))!.msg as SipRequest;
  assert.equal(ack.cseq.seq, inv.cseq.seq);
  assert.equal(ack.uri, "sip:bob@10.0.0.2:5090", "ACK goes to the callee's Contact");
  const ok = sent.find(res(200))!.msg as SipResponse;
  assert.equal(ok.to.tag, ringing.to.tag);
  assert.equal(new TextDecoder().decode(ok.body), "v=0\r\n");
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  assert.equal(loop.b2bua.calls.size, 1);
  loop.inject(
    callerInDialog("BYE", ok.get("to")!, 2, 1, 'Reason: Q.850;cause=16;text="Normal"\n'),
    CALLER,
  );
  const bye = loop.expect(req("BYE", 5090), "BYE to callee").msg as SipRequest;
  assert.equal(bye.callId, inv.callId);
  assert.equal(bye.to.tag, "ct");
  assert.equal(bye.from.tag, inv.from.tag);
  assert.equal(bye.get("reason"), 'Q.850;cause=16;text="Normal"', "Reason passes (RFC 3326)");
  loop.inject(answer(bye, 200, "ct"), CALLEE);
  const bye200 = loop.expect(res(200, "BYE"), "200 BYE to caller").msg;
  assert.equal(bye200.callId, "caller-call-1@10.0.0.1");
  assert.equal(loop.b2bua.calls.size, 0);
  loop.timers.advance(64_000);
  assert.deepEqual(loop.txl.size, { client: 0, server: 0 }, "no transaction left");
  assert.equal(loop.b2bua.legCount, 0, "no leg left");
});

Deno.test("B2BUA: callee BYE reaches the caller's Contact with the caller dialog's tags", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const { inv, ok } = establish(loop);
  loop.inject(
    calleeBye(inv),
    CALLEE,
  );
  const bye = loop.expect(req("BYE", 5070), "BYE to caller").msg as SipRequest;
  assert.equal(bye.uri, "sip:alice@10.0.0.1:5070;transport=UDP");
  assert.equal(bye.from.tag, ok.to.tag);
  assert.equal(bye.to.tag, "caller-tag-1");
  assert.equal(bye.callId, "caller-call-1@10.0.0.1");
});

Deno.test("RFC 3261 §12.1.1: the caller's Record-Route is copied into the 180 and the 200, in order; the callee never sees it", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const rr = [
    "<sip:10.0.0.50:5062;lr;ftag=caller-tag-1>",
    "<sip:edge.example.com;lr>",
    "<sip:10.0.0.51;lr;did=x.1>",
  ];
  // Two lines, the first holding two values: a record-routing proxy may write either way.
  loop.inject(
    callerInvite("alice-kit", `Record-Route: ${rr[0]}, ${rr[1]}\nRecord-Route: ${rr[2]}\n`),
    CALLER,
  );
  const inv = loop.expect(req("INVITE", 5090), "INVITE to callee").msg as SipRequest;
  assert.equal(inv.get("record-route"), undefined, "the caller's proxies stay on its side");
  loop.inject(answer(inv, 180, "callee-tag"), CALLEE);
  const ringing = loop.take().find(res(180))!.msg as SipResponse;
  assert.deepEqual(ringing.recordRoutes.map((r) => r.toString()), rr);
  loop.inject(
    answer(inv, 200, "callee-tag", { contact: "<sip:bob@10.0.0.2:5090>", body: "v=0\n" }),
    CALLEE,
  );
  const ok = loop.take().find(res(200))!.msg as SipResponse;
  assert.deepEqual(ok.recordRoutes.map((r) => r.toString()), rr);
  // Tandem's own requests on the caller's dialog follow that route set (§12.2.1.1).
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  loop.inject(
    calleeBye(inv),
    CALLEE,
  );
  const bye = loop.expect(req("BYE"), "BYE to the caller's side");
  assert.deepEqual(bye.dest, { host: "10.0.0.50", port: 5062, protocol: "udp" });
  assert.deepEqual((bye.msg as SipRequest).routes.map((r) => r.toString()), rr);
  assert.equal((bye.msg as SipRequest).uri, "sip:alice@10.0.0.1:5070;transport=UDP");
});

Deno.test("RFC 3261 §12.2.1.1, §18.1.1: behind a proxy, the caller's dialog goes to the first Route over its URI's transport, whatever the caller's Contact says", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const proxy = { host: "10.0.0.50", port: 5062, protocol: "udp" as const };
  // A caller on TCP behind a proxy that record-routes both sides (r2): the INVITE arrives over
  // UDP from the proxy, the caller's Contact names TCP.
  loop.inject(
    callerInvite(
      "alice-kit",
      "Record-Route: <sip:10.0.0.50:5062;r2=on;lr>\n" +
        "Record-Route: <sip:10.0.0.50:5062;transport=tcp;r2=on;lr>\n",
    )
      .replace("transport=UDP>", "transport=TCP>")
      .replace(
        "Via: SIP/2.0/UDP 10.0.0.1",
        "Via: SIP/2.0/UDP 10.0.0.50:5062;branch=z9hG4bKp1\nVia: SIP/2.0/TCP 10.0.0.1",
      ),
    proxy,
  );
  const inv = loop.expect(req("INVITE", 5090), "INVITE to callee").msg as SipRequest;
  loop.inject(
    answer(inv, 200, "callee-tag", { contact: "<sip:bob@10.0.0.2:5090>", body: "v=0\n" }),
    CALLEE,
  );
  loop.take();
  loop.inject(
    calleeBye(inv),
    CALLEE,
  );
  const bye = loop.expect(req("BYE"), "BYE to the caller's side");
  assert.deepEqual(bye.dest, proxy, "to the proxy over UDP, not to the Contact over TCP");
  assert.equal(
    (bye.msg as SipRequest).topVia!.transport,
    "UDP",
    "the Via names the transport used",
  );
  assert.equal((bye.msg as SipRequest).uri, "sip:alice@10.0.0.1:5070;transport=TCP");
});

Deno.test("Failover: a 503 moves to the next route; the 503 is ACKed and never reaches the caller", () => {
  const loop = new Loop(
    config([rule([route("10.0.0.3", 5091), route("10.0.0.2", 5090)])]),
  );
  loop.inject(callerInvite("fo503-kit"), CALLER);
  const first = loop.expect(req("INVITE", 5091), "INVITE to first route").msg as SipRequest;
  loop.inject(answer(first, 503, "t1"), CALLEE2);
  const sent = loop.take();
  assert.ok(sent.find(req("ACK", 5091)), "hop-by-hop ACK for the 503");
  assert.ok(!sent.find(res(503)), "503 not relayed");
  const second = sent.find(req("INVITE", 5090))!.msg as SipRequest;
  assert.equal(second.ruri.user, "fo503-kit");
  assert.notEqual(second.callId, first.callId);
});

Deno.test("Redirect: a followed 302's Contact becomes the Request-URI without headers or method", () => {
  const loop = new Loop(
    config([rule([route("10.0.0.3", 5091, { followRedirects: true })])]),
  );
  loop.inject(callerInvite("moved-kit"), CALLER);
  const first = loop.expect(req("INVITE", 5091), "INVITE to the route").msg as SipRequest;
  const contact = "<sip:new@10.0.0.4:5092;method=INVITE;user=phone?Subject=x>";
  loop.inject(answer(first, 302, "t1", { contact }), CALLEE2);
  const again = loop.expect(req("INVITE", 5092), "INVITE to the Contact").msg as SipRequest;
  assert.equal(again.uri, "sip:new@10.0.0.4:5092;user=phone");
});

Deno.test("Redirect to a transport Tandem does not listen on: the next route, else 503 to the caller", () => {
  for (const routes of [1, 2]) {
    const log = new Logger("warn", "json", () => {});
    const loop = new Loop(
      config([
        rule([
          route("10.0.0.3", 5091, { followRedirects: true }),
          route("10.0.0.2", 5090),
        ].slice(0, routes)),
      ]),
      {},
      undefined,
      undefined,
      log,
    );
    loop.transports.delete("tcp");
    loop.inject(callerInvite("moved-kit"), CALLER);
    const first = loop.expect(req("INVITE", 5091), "INVITE to the route").msg as SipRequest;
    loop.inject(
      answer(first, 302, "t1", { contact: "<sip:new@10.0.0.4:5092;transport=tcp>" }),
      CALLEE2,
    );
    const sent = loop.take();
    const rec = [...loop.b2bua.calls.values()][0]?.record;
    if (routes === 2) {
      assert.ok(sent.find(req("INVITE", 5090)), "the next route is tried");
      const skipped = rec!.attempts[1];
      assert.equal(skipped.outcome, "unreachable", "the skipped target is in the record");
      assert.equal(skipped.target, "tcp:10.0.0.4:5092");
      assert.equal(skipped.ruri, "sip:new@10.0.0.4:5092;transport=tcp");
      assert.equal(skipped.callId, "", "no INVITE went out");
      assert.equal(rec!.attempts.length, 3);
      continue;
    }
    assert.ok(sent.find(res(503)), "503 to the caller");
    assert.equal(loop.b2bua.calls.size, 0);
    loop.timers.advance(64_000);
    assert.equal(loop.b2bua.legCount, 0);
    assert.deepEqual(loop.txl.size, { client: 0, server: 0 });
  }
});

Deno.test("A callee whose 2xx Contact needs a transport Tandem does not listen on: never put through; the next route, else 503", () => {
  for (const routes of [1, 2]) {
    const log = new Logger("warn", "json", () => {});
    const loop = new Loop(
      config([rule([route("10.0.0.3", 5091), route("10.0.0.2", 5090)].slice(0, routes))]),
      {},
      undefined,
      undefined,
      log,
    );
    loop.transports.delete("tcp");
    loop.inject(callerInvite("tcp-only-kit"), CALLER);
    const first = loop.expect(req("INVITE", 5091), "INVITE to the route").msg as SipRequest;
    const rec = [...loop.b2bua.calls.values()][0].record;
    const ok = answer(first, 200, "t1", {
      contact: "<sip:b@10.0.0.3:5091;transport=tcp>",
      body: "v=0\n",
    });
    loop.inject(ok, CALLEE2);
    const sent = loop.take();
    assert.ok(!sent.find(res(200)), "the caller is not answered");
    assert.equal(rec.attempts[0].outcome, "unreachable");
    loop.inject(ok, CALLEE2); // its retransmission changes nothing
    assert.ok(!loop.take().find(res(200)));
    if (routes === 2) {
      assert.ok(sent.find(req("INVITE", 5090)), "the next route is tried");
      continue;
    }
    assert.ok(sent.find(res(503)), "503 to the caller");
    assert.equal(rec.finalStatus, 503);
    assert.equal(loop.b2bua.calls.size, 0);
    loop.timers.advance(64_000);
    assert.equal(loop.b2bua.legCount, 0);
    assert.deepEqual(loop.txl.size, { client: 0, server: 0 });
  }
});

Deno.test("Operator drop while ringing: CANCEL to the callee, 480 to the caller, the attempt recorded as cancelled", () => {
  const records: CallRecord[] = [];
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]), {
    onCallEnded: (rec) => records.push(rec),
  });
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 180, "callee-tag"), CALLEE);
  loop.take();
  const [id] = loop.b2bua.calls.keys();
  assert.ok(loop.b2bua.drop(id));
  const sent = loop.take();
  assert.ok(sent.find(req("CANCEL", 5090)), "CANCEL to the callee");
  assert.ok(sent.find(res(480)), "480 to the caller");
  const [rec] = records;
  assert.equal(rec.endReason, "drop");
  assert.equal(rec.endedBy, "tandem");
  assert.equal(rec.finalStatus, 480);
  assert.equal(rec.attempts[0].outcome, "cancel");
  assert.ok(rec.attempts[0].endAt !== undefined);
});

Deno.test("Failover: a stop code (486) ends the call with that answer", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090), route("10.0.0.3", 5091)])]));
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 486, "t"), CALLEE);
  const sent = loop.take();
  assert.ok(sent.find(res(486)), "486 to caller");
  assert.ok(!sent.find(req("INVITE", 5091)), "no failover on 486");
});

Deno.test("No-progress timer: silence from the first route fails over when the timer fires", () => {
  const loop = new Loop(
    config([
      rule([route("10.0.0.3", 5093, { timers: { noProgress: 2000 } }), route("10.0.0.2", 5090)]),
    ]),
  );
  loop.inject(callerInvite("fodead-kit"), CALLER);
  loop.expect(req("INVITE", 5093), "INVITE to dead route");
  loop.timers.advance(1999);
  assert.ok(!loop.take().find(req("INVITE", 5090)), "not before the timer");
  loop.timers.advance(1);
  loop.expect(req("INVITE", 5090), "INVITE to second route at 2 s");
});

Deno.test("No-answer timer: CANCEL to the callee and 480 with a Reason to the caller", () => {
  const loop = new Loop(
    config([rule([route("10.0.0.2", 5090, { timers: { noProgress: 5000, noAnswer: 3000 } })])]),
  );
  loop.inject(callerInvite("noans-kit"), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 180, "t"), CALLEE);
  loop.take();
  loop.timers.advance(3000);
  const sent = loop.take();
  const cancel = sent.find(req("CANCEL", 5090))!.msg as SipRequest;
  assert.equal(cancel.topVia!.branch, inv.topVia!.branch, "§9.1 CANCEL has the INVITE's branch");
  const r = sent.find(res(480))!.msg;
  assert.ok(r.get("reason")?.includes("480"));
  loop.inject(answer(cancel, 200, "t"), CALLEE);
  loop.inject(answer(inv, 487, "t"), CALLEE);
  assert.ok(loop.take().find(req("ACK", 5090)), "487 ACKed");
});

Deno.test("Max-duration timer: BYE to both sides with a Reason", () => {
  const loop = new Loop(
    config([rule([route("10.0.0.2", 5090, { timers: { noProgress: 5000, maxDuration: 3000 } })])]),
  );
  establish(loop);
  loop.timers.advance(2999);
  assert.equal(loop.take().filter(req("BYE")).length, 0);
  loop.timers.advance(1);
  const sent = loop.take();
  const byes = sent.filter(req("BYE"));
  assert.equal(byes.length, 2);
  for (const b of byes) assert.ok((b.msg as SipRequest).get("reason"));
  assert.equal(loop.b2bua.calls.size, 0);
});

Deno.test("A caller Tandem cannot reach (its Contact names TCP, Tandem listens on UDP only): a callee BYE and a max-duration end the call cleanly", () => {
  for (const end of ["callee-bye", "max-duration"] as const) {
    const warnings: string[] = [];
    const log = new Logger("warn", "json", (l) => warnings.push(l));
    const loop = new Loop(
      config([rule([route("10.0.0.2", 5090, { timers: { maxDuration: 3000 } })])]),
      {},
      undefined,
      undefined,
      log,
    );
    loop.transports.delete("tcp");
    loop.inject(callerInvite().replace("transport=UDP>", "transport=TCP>"), CALLER);
    const inv = loop.expect(req("INVITE", 5090), "INVITE to callee").msg as SipRequest;
    loop.inject(
      answer(inv, 200, "callee-tag", { contact: "<sip:bob@10.0.0.2:5090>", body: "v=0\n" }),
      CALLEE,
    );
    const ok = loop.take().find(res(200))!.msg as SipResponse;
    loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
    if (end === "callee-bye") {
      loop.inject(
        calleeBye(inv),
        CALLEE,
      );
      const sent = loop.take();
      assert.ok(sent.find(res(200, "BYE")), `${end}: the callee's BYE gets 200`);
      assert.ok(!sent.find(res(500, "BYE")), `${end}: not 500`);
    } else {
      loop.timers.advance(3000);
      assert.ok(loop.take().find(req("BYE", 5090)), `${end}: BYE to the callee`);
    }
    assert.equal(loop.b2bua.calls.size, 0, `${end}: the call ended`);
    loop.timers.advance(64_000);
    assert.equal(loop.b2bua.legCount, 0, `${end}: no leg left`);
    assert.deepEqual(loop.txl.size, { client: 0, server: 0 }, `${end}: no transaction left`);
    assert.ok(warnings.some((w) => w.includes("peer-unreachable")), `${end}: said why`);
    assert.deepEqual(
      warnings.filter((w) => !w.includes("peer-unreachable")),
      [],
      `${end}: nothing else went wrong`,
    );
  }
});

Deno.test("Caller CANCEL: 487 to the caller, CANCEL to the callee; a late 2xx is ACKed and BYEd", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 180, "t"), CALLEE);
  loop.take();
  loop.inject(
    `CANCEL sip:alice-kit@10.0.0.9:5060 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-caller-1;rport
Max-Forwards: 70
From: "Alice" <sip:alice@10.0.0.1:5070>;tag=caller-tag-1
To: <sip:alice-kit@10.0.0.9:5060>
Call-ID: caller-call-1@10.0.0.1
CSeq: 1 CANCEL
Content-Length: 0

`,
    CALLER,
  );
  const sent = loop.take();
  assert.ok(sent.find(res(200, "CANCEL")));
  assert.ok(sent.find(res(487)));
  assert.ok(sent.find(req("CANCEL", 5090)));
  // The callee answered at the same moment: its 200 crosses our CANCEL.
  loop.inject(answer(inv, 200, "t", { contact: "<sip:bob@10.0.0.2:5090>" }), CALLEE);
  const after = loop.take();
  assert.ok(after.find(req("ACK", 5090)), "late 2xx ACKed");
  assert.ok(after.find(req("BYE", 5090)), "and BYEd");
  assert.ok(!after.find(res(200)), "the caller sees only the 487");
});

Deno.test("Upstream digest: a 407 is answered on the same Call-ID, From tag and To with CSeq+1", () => {
  const loop = new Loop(
    config([rule([route("10.0.0.2", 5090, { auth: { username: "kit", password: "kitpass" } })])]),
    { digest: (a) => `Digest username="${a.username}", uri="${a.uri}", response="x"` },
  );
  loop.inject(callerInvite("auth-kit"), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(
    answer(inv, 407, "t", { extra: 'Proxy-Authenticate: Digest realm="r", nonce="n"\n' }),
    CALLEE,
  );
  const sent = loop.take();
  assert.ok(!sent.find(res(407)), "407 not relayed");
  const again = sent.find(req("INVITE", 5090))!.msg as SipRequest;
  assert.equal(again.callId, inv.callId);
  assert.equal(again.from.tag, inv.from.tag);
  assert.equal(again.get("to"), inv.get("to"));
  assert.equal(again.cseq.seq, inv.cseq.seq + 1);
  assert.notEqual(again.topVia!.branch, inv.topVia!.branch);
  assert.ok(again.get("proxy-authorization")?.startsWith('Digest username="kit"'));
});

Deno.test("re-INVITE relayed both ways; a second one during it gets 491 (RFC 3261 §14.1)", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const { inv, ok } = establish(loop);
  loop.inject(
    callerInDialog("INVITE", ok.get("to")!, 2, 1, "Contact: <sip:alice@10.0.0.1:5070>\n"),
    CALLER,
  );
  const re = loop.expect(req("INVITE", 5090), "re-INVITE to callee").msg as SipRequest;
  assert.equal(re.to.tag, "callee-tag");
  assert.equal(re.callId, inv.callId);
  // Glare: the callee sends its own re-INVITE now.
  loop.inject(
    `INVITE sip:10.0.0.9:5060 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.2:5090;branch=z9hG4bK-callee-reinv
From: ${inv.get("to")};tag=callee-tag
To: ${inv.get("from")}
Call-ID: ${inv.callId}
CSeq: 7 INVITE
Contact: <sip:bob@10.0.0.2:5090>
Max-Forwards: 70
Content-Length: 0

`,
    CALLEE,
  );
  assert.ok(loop.take().find(res(491)), "491 to the callee's crossing re-INVITE");
  loop.inject(
    answer(re, 200, "callee-tag", { contact: "<sip:bob@10.0.0.2:5090>", body: "v=0\n" }),
    CALLEE,
  );
  assert.ok(loop.take().find(res(200)), "200 relayed to caller");
  loop.inject(callerInDialog("ACK", ok.get("to")!, 2), CALLER);
  const ack = loop.expect(req("ACK", 5090), "ACK relayed").msg as SipRequest;
  assert.equal(ack.cseq.seq, re.cseq.seq);
});

Deno.test("In-dialog request that times out ends the call on both sides", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const { ok } = establish(loop);
  loop.inject(callerInDialog("INFO", ok.get("to")!, 2), CALLER);
  loop.expect(req("INFO", 5090), "INFO relayed");
  loop.timers.advance(32_000);
  const sent = loop.take();
  assert.ok(sent.find(res(408, "INFO")), "408 to the caller");
  assert.equal(sent.filter(req("BYE")).length, 2, "BYE both legs");
  assert.equal(loop.b2bua.calls.size, 0);
});

Deno.test("Requests Tandem answers itself: OPTIONS 200, unknown dialog 481, Max-Forwards 1 → 483, no route 404", () => {
  const loop = new Loop(config([]));
  loop.inject(
    `OPTIONS sip:10.0.0.9:5060 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-opt
Max-Forwards: 70
From: <sip:a@10.0.0.1>;tag=1
To: <sip:10.0.0.9>
Call-ID: opt-1
CSeq: 1 OPTIONS
Content-Length: 0

`,
    CALLER,
  );
  const opt = loop.expect(res(200, "OPTIONS"), "200 OPTIONS").msg;
  assert.ok(opt.get("allow")?.includes("INVITE"));
  loop.inject(callerInDialog("BYE", "<sip:x@10.0.0.9>;tag=nope", 5), CALLER);
  loop.expect(res(481, "BYE"), "481 for an unknown dialog");
  loop.inject(callerInvite("x", "", 2).replace("Max-Forwards: 70", "Max-Forwards: 1"), CALLER);
  loop.expect(res(483), "483");
  loop.inject(callerInvite("x", "", 3), CALLER);
  loop.expect(res(404), "404 without a route");
});

Deno.test("Load shedding: beyond max calls a new INVITE gets 503 with Retry-After", () => {
  const cfg = config([rule([route("10.0.0.2", 5090)])]);
  cfg.limits.maxCalls = 1;
  const loop = new Loop(cfg);
  loop.inject(callerInvite("a", "", 1), CALLER);
  loop.take();
  loop.inject(callerInvite("a", "", 2), CALLER);
  const r = loop.expect(res(503), "503").msg;
  assert.equal(r.get("retry-after"), "5");
  assert.ok(!(r instanceof SipRequest));
});

Deno.test("§8.2.2.1: a request with an unsupported Request-URI scheme gets 416, any method", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.inject(
    `OPTIONS nobodyknowsthisscheme:totallyopaquecontent SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-unkscm
Max-Forwards: 70
From: <sip:a@10.0.0.1>;tag=1
To: <sip:b@10.0.0.9>
Call-ID: unkscm-1
CSeq: 1 OPTIONS
Content-Length: 0

`,
    CALLER,
  );
  loop.expect(res(416, "OPTIONS"), "416 for an unknown scheme");
});

Deno.test("Dead-call detection: keep-alive OPTIONS to both legs; a leg that stops answering ends the call", () => {
  const loop = new Loop(
    config([
      rule([route("10.0.0.2", 5090, { keepalive: { method: "OPTIONS", interval: 30_000 } })]),
    ]),
  );
  const { ok } = establish(loop);
  loop.timers.advance(30_000);
  const probes = loop.take().filter(req("OPTIONS"));
  assert.deepEqual(probes.map((p) => p.dest.port).sort(), [5070, 5090], "one probe per leg");
  const toCaller = probes.find((p) => p.dest.port === 5070)!.msg as SipRequest;
  assert.equal(toCaller.to.tag, "caller-tag-1", "in the caller's dialog");
  assert.equal(toCaller.from.tag, ok.to.tag);
  // The caller answers, the callee is gone: Timer F ends its probe and the call.
  loop.inject(answer(toCaller, 200, "x"), CALLER);
  loop.timers.advance(32_000);
  const byes = loop.take().filter(req("BYE"));
  assert.equal(byes.length, 2, "BYE both legs");
  assert.ok((byes[0].msg as SipRequest).get("reason")?.includes("Keep-alive"));
  assert.equal(loop.b2bua.calls.size, 0);
});

Deno.test("Load shedding: while the process reports overload, new INVITEs get 503 with Retry-After", () => {
  let overloaded = true;
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]), {}, () => overloaded);
  loop.inject(callerInvite("a", "", 1), CALLER);
  const r = loop.expect(res(503), "503 while overloaded").msg;
  assert.equal(r.get("retry-after"), "5");
  overloaded = false;
  loop.inject(callerInvite("a", "", 2), CALLER);
  loop.expect(req("INVITE", 5090), "accepted again");
});

Deno.test("Load shedding: a priority rule's calls (emergency) are let in past overload and max_calls, never past a drain", () => {
  let overloaded = true;
  const emergency = {
    ...rule([route("10.0.0.3", 5091)], "emergency"),
    match: { ruriUserPrefix: ["911"] },
    priority: true,
  };
  const cfg = config([emergency, rule([route("10.0.0.2", 5090)])]);
  const loop = new Loop(cfg, {}, () => overloaded);
  loop.inject(callerInvite("5551234", "", 1), CALLER);
  loop.expect(res(503), "an ordinary call is shed");
  loop.inject(callerInvite("911", "", 2), CALLER);
  loop.expect(req("INVITE", 5091), "the emergency call goes through");
  assert.match(metrics.expose(), /^tandem_priority_calls_admitted_total [1-9]\d*$/m);

  overloaded = false;
  cfg.limits.maxCalls = 1; // the emergency call is up: the table is full
  loop.inject(callerInvite("5551234", "", 3), CALLER);
  loop.expect(res(503), "max_calls reached");
  loop.inject(callerInvite("911", "", 4), CALLER);
  loop.expect(req("INVITE", 5091), "past max_calls");

  loop.b2bua.draining = true;
  loop.inject(callerInvite("911", "", 5), CALLER);
  const r = loop.expect(res(503), "a draining node sends even these elsewhere").msg;
  assert.equal((r as SipResponse).reason, "Draining");
});

Deno.test("After a call ends: the callee's 2xx retransmission is re-ACKed by the transaction, another fork's 2xx is ACKed and BYEd, late requests get 481", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const { inv, ok } = establish(loop);
  loop.inject(callerInDialog("BYE", ok.get("to")!, 2), CALLER);
  const bye = loop.expect(req("BYE", 5090), "BYE to callee").msg as SipRequest;
  loop.inject(answer(bye, 200, "callee-tag"), CALLEE);
  loop.take();
  assert.equal(loop.b2bua.calls.size, 0);
  // The answer retransmitted (its ACK was lost): the same ACK again, nothing else.
  loop.inject(
    answer(inv, 200, "callee-tag", { contact: "<sip:bob@10.0.0.2:5090>", body: "v=0\n" }),
    CALLEE,
  );
  let sent = loop.take();
  assert.deepEqual(sent.map((s) => (s.msg as SipRequest).method), ["ACK"]);
  assert.equal(sent[0].dest.port, 5090);
  // A 2xx from another fork of the same INVITE: that dialog is completed and ended at once.
  loop.inject(answer(inv, 200, "fork-2", { contact: "<sip:bob2@10.0.0.2:5090>" }), CALLEE);
  sent = loop.take();
  const methods = sent.map((s) => (s.msg as SipRequest).method);
  assert.deepEqual(methods, ["ACK", "BYE"]);
  assert.equal((sent[1].msg as SipRequest).to.tag, "fork-2");
  // A late in-dialog request from the caller: the dialog is gone.
  loop.inject(callerInDialog("INFO", ok.get("to")!, 3), CALLER);
  const late = loop.take();
  assert.ok(
    late.find(res(481, "INFO")),
    `481 for a request on an ended call, got ${late.map((s) => describe(s.msg))}`,
  );
  loop.timers.advance(40_000);
  assert.equal(loop.b2bua.legCount, 0, "ended legs are let go after 32 s");
});

Deno.test("After a call ends before the caller's ACK: the late ACK still stops the 2xx resends", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(
    answer(inv, 200, "ct", { contact: "<sip:bob@10.0.0.2:5090>", body: "v=0\n" }),
    CALLEE,
  );
  const ok = loop.take().find(res(200))!.msg as SipResponse;
  // The callee hangs up at once, before the caller's ACK is in.
  loop.inject(
    new SipRequest("BYE", "sip:tandem@10.0.0.9:5060", inv.headers.filter((h) => h.key !== "via"))
      .set("Via", "SIP/2.0/UDP 10.0.0.2:5090;branch=z9hG4bKbye1")
      .set("From", `${inv.get("to")};tag=ct`)
      .set("To", inv.get("from")!)
      .set("CSeq", "1 BYE")
      .set("Content-Length", "0"),
    CALLEE,
  );
  loop.take();
  assert.equal(loop.b2bua.calls.size, 0);
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  loop.take();
  loop.timers.advance(10_000);
  assert.equal(loop.take().filter(res(200)).length, 0, "no 2xx resent after the ACK");
});

Deno.test("A route over TLS: INVITE, ACK and BYE go over TLS to 5061 with TLS Via and Contact; a sips: Contact keeps the leg on TLS", () => {
  for (const contact of ["<sip:b@10.0.0.2:5061;transport=tls>", "<sips:b@10.0.0.2>"]) {
    const loop = new Loop(config([rule([route("10.0.0.2", 5061, { transport: "tls" })])]));
    loop.inject(callerInvite("tls-kit"), CALLER);
    const out = loop.expect(req("INVITE", 5061), "INVITE over TLS");
    const inv = out.msg as SipRequest;
    assert.deepEqual(out.dest, { host: "10.0.0.2", port: 5061, protocol: "tls" });
    assert.equal(inv.uri, "sip:tls-kit@10.0.0.2:5061;transport=tls");
    assert.match(inv.get("via")!, /^SIP\/2\.0\/TLS /);
    assert.match(inv.get("contact")!, /;transport=tls>$/);
    const callee = { host: "10.0.0.2", port: 5061, protocol: "tls" as const };
    loop.inject(answer(inv, 200, "t1", { contact, body: "v=0\n" }), callee);
    const sent = loop.take();
    assert.ok(sent.find(res(200)), "the caller is answered");
    const ack = sent.find(req("ACK"));
    assert.deepEqual(ack?.dest, callee, "ACK over TLS to the callee's Contact");
    const ok = sent.find(res(200))!.msg as SipResponse;
    loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
    loop.inject(callerInDialog("BYE", ok.get("to")!, 2), CALLER);
    const bye = loop.expect(req("BYE"), "BYE to the callee");
    assert.deepEqual(bye.dest, callee, contact);
    assert.match((bye.msg as SipRequest).get("via")!, /^SIP\/2\.0\/TLS /);
  }
});

Deno.test("A TLS route's server name goes with the INVITE, the ACK and the BYE to the callee", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5061, {
    transport: "tls",
    tlsServerName: "sip.carrier.example",
  })])]));
  loop.inject(callerInvite("tls-name"), CALLER);
  const out = loop.expect(req("INVITE", 5061), "INVITE over TLS");
  const named = {
    host: "10.0.0.2",
    port: 5061,
    protocol: "tls",
    serverName: "sip.carrier.example",
  };
  assert.deepEqual(out.dest, named);
  const callee = { host: "10.0.0.2", port: 5061, protocol: "tls" as const };
  loop.inject(
    answer(out.msg as SipRequest, 200, "t1", {
      contact: "<sip:b@10.0.0.2:5061;transport=tls>",
      body: "v=0\n",
    }),
    callee,
  );
  const sent = loop.take();
  assert.deepEqual(sent.find(req("ACK"))?.dest, named);
  const ok = sent.find(res(200))!.msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  loop.inject(callerInDialog("BYE", ok.get("to")!, 2), CALLER);
  assert.deepEqual(loop.expect(req("BYE"), "BYE").dest, named);
});

Deno.test("RFC 3261 §12.1.1: a caller's sips: INVITE over TLS gets a sips: Contact; a sip: one over TLS a transport=tls Contact", () => {
  for (const scheme of ["sips", "sip"]) {
    const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
    const caller = { host: "10.0.0.1", port: 5071, protocol: "tls" as const };
    loop.inject(callerInvite("secure").replace("INVITE sip:", `INVITE ${scheme}:`), caller);
    const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
    loop.inject(
      answer(inv, 200, "t1", { contact: "<sip:b@10.0.0.2:5090>", body: "v=0\n" }),
      CALLEE,
    );
    const ok = loop.expect(res(200), "200 to the caller").msg as SipResponse;
    assert.equal(
      ok.get("contact"),
      scheme === "sips" ? "<sips:10.0.0.9:5060>" : "<sip:10.0.0.9:5060;transport=tls>",
    );
  }
});

Deno.test("RFC 7118: a caller over WebSocket gets a transport=ws Contact, and the callee's BYE reaches it on its connection", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  loop.transports.add("ws");
  // A browser: Via WS with a .invalid host, a Contact nobody can dial.
  const caller = { host: "10.0.0.1", port: 51034, protocol: "ws" as const };
  loop.inject(
    callerInvite("webrtc")
      .replace("SIP/2.0/UDP 10.0.0.1:5070", "SIP/2.0/WS df7jal23ls0d.invalid")
      .replace(
        "<sip:alice@10.0.0.1:5070;transport=UDP>",
        "<sip:k3x@df7jal23ls0d.invalid;transport=ws;ob>",
      ),
    caller,
  );
  const first = loop.take();
  assert.deepEqual(first.find(res(100))?.dest, caller, "answered on the connection");
  const inv = first.find(req("INVITE", 5090))!.msg as SipRequest;
  assert.match(inv.get("via")!, /^SIP\/2\.0\/UDP /);
  assert.ok(!inv.toString().includes(".invalid"), "the browser's address stays on its side");
  loop.inject(answer(inv, 200, "t1", { contact: "<sip:b@10.0.0.2:5090>", body: "v=0\n" }), CALLEE);
  const ok = loop.expect(res(200), "200 to the caller");
  assert.deepEqual(ok.dest, caller);
  assert.equal((ok.msg as SipResponse).get("contact"), "<sip:10.0.0.9:5060;transport=ws>");
  loop.inject(callerInDialog("ACK", (ok.msg as SipResponse).get("to")!, 1), caller);
  loop.take();
  // The callee hangs up: the BYE goes to the browser over its connection.
  loop.inject(
    new SipRequest("BYE", "sip:tandem@10.0.0.9:5060", inv.headers.filter((h) => h.key !== "via"))
      .set("Via", "SIP/2.0/UDP 10.0.0.2:5090;branch=z9hG4bKbye-ws")
      .set("From", `${inv.get("to")};tag=t1`)
      .set("To", inv.get("from")!)
      .set("CSeq", "2 BYE")
      .set("Content-Length", "0"),
    CALLEE,
  );
  const bye = loop.expect(req("BYE"), "BYE to the caller");
  assert.deepEqual(bye.dest, caller);
  const b = bye.msg as SipRequest;
  assert.equal(b.uri, "sip:k3x@df7jal23ls0d.invalid;transport=ws;ob");
  assert.match(b.get("via")!, /^SIP\/2\.0\/WS 10\.0\.0\.9:5060;/);
});

Deno.test("RFC 7118: a route over WebSocket: INVITE, ACK and BYE go over ws to the route, whatever the callee's Contact says", () => {
  const loop = new Loop(
    config([rule([route("10.0.0.2", 8088, { transport: "ws", wsPath: "/ws" })])]),
  );
  loop.transports.add("ws");
  loop.inject(callerInvite("to-ws"), CALLER);
  const out = loop.expect(req("INVITE", 8088), "INVITE over ws");
  const ws = { host: "10.0.0.2", port: 8088, protocol: "ws", wsPath: "/ws" };
  assert.deepEqual(out.dest, ws);
  const inv = out.msg as SipRequest;
  assert.equal(inv.uri, "sip:to-ws@10.0.0.2:8088;transport=ws");
  assert.match(inv.get("via")!, /^SIP\/2\.0\/WS /);
  assert.match(inv.get("contact")!, /;transport=ws>$/);
  loop.inject(
    answer(inv, 200, "t1", { contact: "<sip:b@h7kjh12s.invalid;transport=ws>", body: "v=0\n" }),
    ws as typeof CALLEE,
  );
  const sent = loop.take();
  assert.deepEqual(sent.find(req("ACK"))?.dest, ws);
  const ok = sent.find(res(200))!.msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  loop.inject(callerInDialog("BYE", ok.get("to")!, 2), CALLER);
  assert.deepEqual(loop.expect(req("BYE"), "BYE").dest, ws);
});

Deno.test("RFC 7118 §5: a browser's WebSocket closes: its answered call ends with a BYE to the callee only, its ringing call with a CANCEL", () => {
  const ended: { endedBy?: string; endReason?: string }[] = [];
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]), {
    onCallEnded: (rec) => ended.push(rec),
  });
  loop.transports.add("ws");
  const browser = { host: "10.0.0.1", port: 51034, protocol: "ws" as const };
  const fromBrowser = (n: number) =>
    callerInvite("webrtc", "", n).replace(
      "SIP/2.0/UDP 10.0.0.1:5070",
      "SIP/2.0/WS df7jal23ls0d.invalid",
    );
  // Call 1 answered, call 2 ringing, both from the same connection; call 3 from another one.
  loop.inject(fromBrowser(1), browser);
  const inv1 = loop.expect(req("INVITE", 5090), "INVITE 1").msg as SipRequest;
  loop.inject(answer(inv1, 200, "t1", { contact: "<sip:b@10.0.0.2:5090>", body: "v=0\n" }), CALLEE);
  const ok = loop.expect(res(200), "200 to the browser").msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1, 1), browser);
  loop.inject(fromBrowser(2), browser);
  const inv2 = loop.expect(req("INVITE", 5090), "INVITE 2").msg as SipRequest;
  loop.inject(answer(inv2, 180, "t2"), CALLEE);
  loop.inject(fromBrowser(3), { ...browser, port: 51035 });
  loop.take();
  assert.equal(loop.b2bua.calls.size, 3);

  assert.equal(loop.b2bua.flowClosed(browser), 2);
  const sent = loop.take();
  const bye = sent.find(req("BYE"));
  assert.equal(bye?.dest.port, 5090, "BYE to the callee");
  assert.equal(
    (bye!.msg as SipRequest).get("reason"),
    'Q.850;cause=16;text="Caller connection closed"',
  );
  assert.ok(
    !sent.some((s) => s.msg instanceof SipRequest && s.dest.protocol === "ws"),
    "nothing asks the browser",
  );
  assert.ok(sent.find(req("CANCEL", 5090)), "CANCEL of the ringing call");
  assert.equal(loop.b2bua.calls.size, 1, "the other connection's call stays");
  assert.equal(loop.b2bua.flowClosed(browser), 0, "nothing left on that connection");
  assert.deepEqual(
    ended.map((r) => [r.endedBy, r.endReason]),
    [["caller", "connection-closed"], ["caller", "connection-closed"]],
  );
});

Deno.test("Redirect: the followed INVITE carries Diversion (RFC 5806), the 3xx's own or Tandem's, newest first", () => {
  const loop = new Loop(
    config([rule([route("10.0.0.3", 5091, { followRedirects: true })])]),
  );
  loop.inject(callerInvite("moved-kit"), CALLER);
  const first = loop.expect(req("INVITE", 5091), "INVITE to the route").msg as SipRequest;
  assert.equal(first.get("diversion"), undefined, "no diversion yet");
  loop.inject(answer(first, 302, "t1", { contact: "<sip:second@10.0.0.4:5092>" }), CALLEE2);
  const second = loop.expect(req("INVITE", 5092), "INVITE to the Contact").msg as SipRequest;
  // Tandem's own: the number diverted, at Tandem's address (not the first callee's).
  assert.deepEqual(second.getAll("diversion"), [
    "<sip:moved-kit@10.0.0.9>;reason=unknown;counter=1",
  ]);
  // The second callee diverts again and says why: its header comes first.
  loop.inject(
    answer(second, 302, "t2", {
      contact: "<sip:third@10.0.0.5:5093>",
      extra: "Diversion: <sip:second@pbx.example>;reason=user-busy;counter=1\n",
    }),
    { host: "10.0.0.4", port: 5092, protocol: "udp" },
  );
  const third = loop.expect(req("INVITE", 5093), "INVITE to the next Contact").msg as SipRequest;
  assert.deepEqual(third.getAll("diversion"), [
    "<sip:second@pbx.example>;reason=user-busy;counter=1",
    "<sip:moved-kit@10.0.0.9>;reason=unknown;counter=1",
  ]);
});

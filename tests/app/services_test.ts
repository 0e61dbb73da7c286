// The CDR a call produces (fields, Q.850 cause, end reason) and the control API's view of a call,
// from real calls through the engine on the in-memory loop.

import assert from "node:assert/strict";
import { summarize } from "../../src/app/control.ts";
import {
  answeredOf,
  buildServices,
  cdrOf,
  endReasonOf,
  mediaStatsOf,
} from "../../src/app/services.ts";
import type { Call, CallRecord } from "../../src/b2bua/mod.ts";
import type { SipRequest, SipResponse } from "../../src/sip/mod.ts";
import { metrics } from "../../src/util/metrics.ts";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CdrJournal, type CdrRecord, LiveCallLedger } from "../../src/cdr/mod.ts";
import { parseConfig } from "../../src/config/mod.ts";
import { Logger } from "../../src/util/log.ts";
import { answeredCall, sampleCdr } from "../cdr/fixtures.ts";
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
} from "../b2bua/loop.ts";

const CALLEE = { host: "10.0.0.2", port: 5090, protocol: "udp" as const };

function recording(loop: Loop) {
  const ended: { rec: CallRecord; call: Call }[] = [];
  loop.b2bua.setServices({ onCallEnded: (rec, call) => ended.push({ rec, call }) });
  return ended;
}

Deno.test("CDR of an answered call ended by the caller's BYE: times, durations, Q.850 16", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)], "carrier")]));
  const ended = recording(loop);
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.timers.advance(100);
  loop.inject(answer(inv, 180, "ct"), CALLEE);
  loop.timers.advance(900);
  loop.inject(answer(inv, 200, "ct", { contact: "<sip:b@10.0.0.2:5090>", body: "v=0\n" }), CALLEE);
  const ok = loop.take().find(res(200))!.msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  const live = [...loop.b2bua.calls.values()][0];
  const s = summarize(live, loop.timers.manual.wallNow());
  assert.equal(s.state, "answered");
  assert.equal(s.route, "10.0.0.2:5090");
  assert.equal(s.caller.callId, "caller-call-1@10.0.0.1");
  assert.equal(s.callee?.callId, inv.callId);
  loop.timers.advance(5000);
  loop.inject(callerInDialog("BYE", ok.get("to")!, 2), CALLER);
  const { rec, call } = ended[0];
  const cdr = cdrOf(rec, call, "cdr-1");
  assert.equal(cdr.id, "cdr-1");
  assert.equal(cdr.callIdIn, "caller-call-1@10.0.0.1");
  assert.equal(cdr.callIdOut, inv.callId);
  assert.equal(cdr.rule, "carrier");
  assert.equal(cdr.attempt, 1);
  assert.equal(cdr.progressAt! - cdr.setupAt, 100);
  assert.equal(cdr.connectAt! - cdr.setupAt, 1000);
  assert.equal(cdr.billableMs, 5000);
  assert.equal(cdr.durationMs, 6000);
  assert.equal(cdr.finalCode, 200);
  assert.equal(cdr.q850, 16);
  assert.equal(cdr.endedBy, "caller");
  assert.equal(cdr.endReason, "bye");
  assert.equal(cdr.source, "10.0.0.1:5070");
});

Deno.test("CDR of a busy call: never connected, Q.850 17 from the 486, ended by the callee", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const ended = recording(loop);
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 486, "ct"), CALLEE);
  const cdr = cdrOf(ended[0].rec, ended[0].call, "x");
  assert.equal(cdr.finalCode, 486);
  assert.equal(cdr.q850, 17);
  assert.equal(cdr.billableMs, 0);
  assert.equal(cdr.connectAt, undefined);
  assert.equal(cdr.endedBy, "callee");
  assert.equal(cdr.endReason, "rejected");
});

Deno.test("CDR cause from a Reason header wins over the SIP code (RFC 3326)", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const ended = recording(loop);
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 200, "ct", { contact: "<sip:b@10.0.0.2:5090>" }), CALLEE);
  const ok = loop.take().find(res(200))!.msg as SipResponse;
  loop.inject(
    callerInDialog(
      "BYE",
      ok.get("to")!,
      2,
      1,
      'Reason: Q.850;cause=31;text="Normal, unspecified"\n',
    ),
    CALLER,
  );
  assert.equal(cdrOf(ended[0].rec, ended[0].call, "x").q850, 31);
});

Deno.test("endReasonOf maps engine reasons onto the CDR vocabulary; credit when RADIUS set the limit", () => {
  const rec = (endReason: string) => ({ endReason } as CallRecord);
  assert.equal(endReasonOf(rec("no-answer"), false), "timeout:no-answer");
  assert.equal(endReasonOf(rec("no-progress"), false), "timeout:no-progress");
  assert.equal(endReasonOf(rec("max-duration"), false), "max-duration");
  assert.equal(endReasonOf(rec("max-duration"), true), "credit");
  assert.equal(endReasonOf(rec("keepalive"), false), "timeout:media");
  assert.equal(endReasonOf(rec("drop"), false), "drop");
  assert.equal(endReasonOf(rec("auth-reject"), false), "rejected");
  assert.equal(endReasonOf(rec("route-limit"), false), "failover", "every route full");
  assert.equal(endReasonOf(rec("unreachable"), false), "failover", "every route skipped");
  assert.equal(endReasonOf(rec("no-route"), false), "rejected");
  assert.equal(endReasonOf(rec("limit"), false), "rejected");
  assert.equal(endReasonOf(rec("something-else"), false), "error");
});

Deno.test("mediaStatsOf: caller leg counts as in, callee leg as out", () => {
  const m = mediaStatsOf({
    relay: "r",
    legs: [
      { side: "caller", tag: "a", packets: 10, bytes: 1720 },
      { side: "callee", tag: "b", packets: 7, bytes: 1204 },
    ],
  });
  assert.deepEqual(m, { packetsIn: 10, bytesIn: 1720, packetsOut: 7, bytesOut: 1204 });
});

Deno.test("CDR of INVITEs refused before any route: no rule (404, Q.850 1), a rule's limit (503, cause 34)", () => {
  const cfg = config([{
    ...rule([route("10.0.0.2", 5090)], "customer"),
    match: { ruriUserPrefix: ["44"] },
    limits: { maxCalls: 1 },
  }]);
  const loop = new Loop(cfg);
  const refused: CallRecord[] = [];
  loop.b2bua.setServices({ onCallRefused: (r) => refused.push(r) });
  loop.inject(callerInvite("3312345", "", 1), CALLER);
  loop.expect(res(404), "404 No Route");
  loop.inject(callerInvite("4412345", "", 2), CALLER);
  loop.expect(req("INVITE", 5090), "the first call of the rule");
  loop.inject(callerInvite("4412345", "", 3), CALLER);
  loop.expect(res(503), "503 at the rule's limit");
  assert.deepEqual(
    refused.map((r) => [r.callerCallId, r.rule, r.finalStatus, r.endReason, r.attempts.length]),
    [
      ["caller-call-1@10.0.0.1", "", 404, "no-route", 0],
      ["caller-call-3@10.0.0.1", "customer", 503, "limit", 0],
    ],
  );
  const [noRoute, limit] = refused.map((r, i) => cdrOf(r, undefined, `r${i}`));
  assert.deepEqual([noRoute.finalCode, noRoute.q850, noRoute.endReason], [404, 1, "rejected"]);
  assert.deepEqual([limit.finalCode, limit.q850, limit.endReason], [503, 34, "rejected"]);
  assert.equal(limit.rule, "customer");
  assert.equal(limit.source, "10.0.0.1:5070");
  assert.equal(limit.durationMs, 0);
});

Deno.test("A reject rule (a block list) answers at once with its status and reason, before limits; its CDR names the rule", () => {
  const cfg = config([
    {
      ...rule([], "premium-rate"),
      match: { ruriUserPrefix: ["1900", "+881"] },
      reject: { status: 403, reason: "Destination Blocked" },
      limits: { maxCalls: 0 },
    },
    rule([route("10.0.0.2", 5090)], "others"),
  ]);
  const loop = new Loop(cfg);
  const refused: CallRecord[] = [];
  loop.b2bua.setServices({ onCallRefused: (r) => refused.push(r) });
  loop.inject(callerInvite("19005551234", "", 1), CALLER);
  const r = loop.expect(res(403), "403 from the block list").msg as SipResponse;
  assert.equal(r.reason, "Destination Blocked");
  assert.ok(r.to.tag, "a final answer with our To tag");
  loop.inject(callerInvite("4412345", "", 2), CALLER);
  loop.expect(req("INVITE", 5090), "other numbers are routed");
  assert.deepEqual(
    refused.map((c) => [c.rule, c.finalStatus, c.endReason, c.attempts.length]),
    [["premium-rate", 403, "rejected", 0]],
  );
  const cdr = cdrOf(refused[0], undefined, "r0");
  assert.deepEqual([cdr.finalCode, cdr.endReason, cdr.rule], [403, "rejected", "premium-rate"]);
  assert.match(metrics.expose(), /^tandem_calls_total\{outcome="rejected"\} [1-9]\d*$/m);
});

Deno.test("cdr.sip_headers: the caller's INVITE headers named are in the CDR, refused calls' too", () => {
  const cfg = config([{
    ...rule([route("10.0.0.2", 5090)], "customer"),
    match: { ruriUserPrefix: ["44"] },
  }]);
  cfg.cdr = {
    dir: "/nowhere",
    fsync: "batched",
    fsyncInterval: 100,
    rotateBytes: 1 << 20,
    radius: false,
    refused: true,
    sipHeaders: ["x-account", "p-asserted-identity", "x-absent"],
    checkpoint: 0,
  };
  const loop = new Loop(cfg);
  const ended: CallRecord[] = [];
  const refused: CallRecord[] = [];
  loop.b2bua.setServices({
    onCallEnded: (r) => ended.push(r),
    onCallRefused: (r) => refused.push(r),
  });
  const pai =
    "P-Asserted-Identity: <sip:+4420@carrier.example>\nP-Asserted-Identity: <tel:+4420>\n";
  loop.inject(callerInvite("4412345", pai, 1), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 486, "t"), { host: "10.0.0.2", port: 5090, protocol: "udp" });
  loop.inject(callerInvite("3312345", "", 2), CALLER);
  loop.expect(res(404), "404 No Route");
  const expected = {
    "x-account": "1234",
    "p-asserted-identity": "<sip:+4420@carrier.example>, <tel:+4420>",
  };
  assert.deepEqual(ended[0].headers, expected);
  assert.deepEqual(cdrOf(ended[0], undefined, "c1").headers, expected);
  assert.deepEqual(refused[0].headers, { "x-account": "1234" });
  // Not configured: nothing recorded, not even an empty object.
  const plain = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const none: CallRecord[] = [];
  plain.b2bua.setServices({ onCallRefused: (r) => none.push(r), onCallEnded: (r) => none.push(r) });
  plain.inject(callerInvite("4412345", "", 3), CALLER);
  const inv2 = plain.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  plain.inject(answer(inv2, 486, "t"), { host: "10.0.0.2", port: 5090, protocol: "udp" });
  assert.equal(none.length, 1);
  assert.equal(none[0].headers, undefined);
  assert.equal("headers" in cdrOf(none[0], undefined, "c2"), false);
});

Deno.test("the call list and the CDR show the authenticated user and the STIR/SHAKEN verdict", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  const ended = recording(loop);
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  const live = [...loop.b2bua.calls.values()][0];
  // What a local digest check and a verification service leave in the record.
  live.record.user = "pbx1";
  live.record.identity = { verstat: "TN-Validation-Passed", attest: "A", origid: "o", signed: "B" };
  const s = summarize(live, loop.timers.manual.wallNow());
  assert.equal(s.user, "pbx1");
  assert.deepEqual(s.identity, { verstat: "TN-Validation-Passed", attest: "A", signed: "B" });
  loop.inject(answer(inv, 486, "t"), CALLEE);
  const cdr = cdrOf(ended[0].rec, ended[0].call, "cdr-1");
  assert.equal(cdr.user, "pbx1");
  assert.deepEqual(cdr.identity, live.record.identity);
});

Deno.test("what the ledger keeps at the answer is the CDR but for its end", () => {
  const loop = new Loop(config([rule([route("10.0.0.2", 5090)], "carrier")]));
  const answered: ReturnType<typeof answeredOf>[] = [];
  const ended = recording(loop);
  loop.b2bua.setServices({
    onCallEnded: (rec, call) => ended.push({ rec, call }),
    onCallAnswered: (rec) => answered.push(answeredOf(rec, "cdr-1")),
  });
  loop.inject(callerInvite(), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  const live = [...loop.b2bua.calls.values()][0];
  live.record.user = "pbx1";
  live.record.headers = { "x-account": "42" };
  loop.timers.advance(200);
  loop.inject(answer(inv, 180, "ct"), CALLEE);
  loop.inject(answer(inv, 200, "ct", { contact: "<sip:b@10.0.0.2:5090>", body: "v=0\n" }), CALLEE);
  const ok = loop.take().find(res(200))!.msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  assert.equal(answered.length, 1);
  loop.timers.advance(3000);
  loop.inject(callerInDialog("BYE", ok.get("to")!, 2), CALLER);
  const cdr = cdrOf(ended[0].rec, ended[0].call, "cdr-1") as unknown as Record<string, unknown>;
  const end = new Set([
    "disconnectAt",
    "durationMs",
    "billableMs",
    "finalCode",
    "q850",
    "reason",
    "endedBy",
    "endReason",
    "media",
  ]);
  const kept = JSON.parse(JSON.stringify(answered[0])) as Record<string, unknown>;
  const want = Object.fromEntries(
    Object.entries(JSON.parse(JSON.stringify(cdr))).filter(([k]) => !end.has(k)),
  );
  assert.deepEqual(kept, want);
});

Deno.test("services: calls an earlier run left up are billed once, not again when the journal has them", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tandem-services-ledger-"));
  try {
    const t0 = Date.now() - 60_000;
    const billed = answeredCall(1, t0); // its CDR reached the journal, its end not the ledger
    const lost = answeredCall(2, t0 + 1000);
    fs.writeFileSync(
      path.join(dir, "live-00000001.jsonl"),
      [{ o: billed }, { o: lost }, { t: t0 + 20_000 }].map((l) => JSON.stringify(l)).join("\n") +
        "\n",
    );
    const j = await CdrJournal.open(dir);
    j.append({ ...sampleCdr(1), id: billed.id });
    await j.close();

    const cfg = parseConfig(
      `cdr: { dir: "${dir}", refused: false, checkpoint: 200ms }\n`,
      "t.yaml",
      "yaml",
      { env: {} },
    );
    const logs: string[] = [];
    const counter = metrics.counter("tandem_cdr_interrupted_total", "");
    const before = counter.get();
    const services = await buildServices(cfg, new Logger("info", "json", (l) => logs.push(l)));
    await services.close();
    assert.equal(counter.get() - before, 1);
    assert.ok(logs.some((l) => l.includes("cdr.interrupted_calls") && l.includes('"calls":1')));

    const j2 = await CdrJournal.open(dir);
    const recs: CdrRecord[] = [];
    let pos = await j2.start();
    for (;;) {
      const r = await j2.read(pos, 1000);
      recs.push(...r.records);
      if (r.next.seq === pos.seq && r.next.offset === pos.offset) break;
      pos = r.next;
    }
    await j2.close();
    const interrupted = recs.filter((r) => r.endReason === "interrupted");
    assert.deepEqual(interrupted.map((r) => r.id), [lost.id]);
    assert.equal(interrupted[0].disconnectAt, t0 + 20_000);
    assert.equal(interrupted[0].billableMs, 19_000);
    assert.equal(recs.filter((r) => r.id === billed.id).length, 1, "billed once");
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith("live-")), []);
    // A second start finds nothing more to bill.
    const again = await LiveCallLedger.open(dir, { checkpoint: 60_000 });
    assert.deepEqual(again.recovery.interrupted, []);
    await again.ledger.close();
    await again.ledger.forget();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

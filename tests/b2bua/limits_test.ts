// Call limits of rules and routes: the counters alone, then the engine over the in-memory loop.

import assert from "node:assert/strict";
import { LimitTable, Usage } from "../../src/b2bua/limits.ts";
import type { CallRecord } from "../../src/b2bua/mod.ts";
import type { SipRequest, SipResponse } from "../../src/sip/mod.ts";
import { metrics } from "../../src/util/metrics.ts";
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

/** A clock standing at `ms`. */
const at = (ms: number) => ({ now: () => ms, wallNow: () => ms });

Deno.test("limits: max_calls admits up to the limit, and a released place admits one more", () => {
  const u = new Usage({ maxCalls: 2 });
  const a = u.take(at(0));
  const b = u.take(at(0));
  assert.equal(typeof a, "object");
  assert.equal(typeof b, "object");
  assert.equal(u.take(at(0)), "calls");
  assert.equal(u.live, 2);
  if (typeof a === "string") throw new Error("unreachable");
  a.release();
  a.release(); // twice releases once
  assert.equal(u.live, 1);
  assert.equal(typeof u.take(at(0)), "object");
  assert.equal(u.take(at(0)), "calls");
  assert.deepEqual(u.refused, { calls: 2, cps: 0 });
  assert.equal(u.admitted, 3);
});

Deno.test("limits: max_cps allows a burst of one second's worth, then the rate", () => {
  const u = new Usage({ maxCps: 4 });
  for (let i = 0; i < 4; i++) assert.equal(typeof u.take(at(1000)), "object", `burst ${i}`);
  assert.equal(u.take(at(1000)), "cps");
  // A quarter second refills one.
  assert.equal(u.take(at(1249)), "cps");
  assert.equal(typeof u.take(at(1250)), "object");
  assert.equal(u.take(at(1250)), "cps");
  // A long quiet spell refills no more than the burst.
  let ok = 0;
  for (let i = 0; i < 10; i++) if (typeof u.take(at(60_000)) === "object") ok++;
  assert.equal(ok, 4);
  // Over ten seconds at twice the rate, half get through.
  let admitted = 0;
  for (let t = 60_000; t < 70_000; t += 125) if (typeof u.take(at(t)) === "object") admitted++;
  assert.ok(admitted >= 39 && admitted <= 41, `${admitted} admitted in 10 s at 4/s`);
});

Deno.test("limits: a call taking another's place is counted whatever the limits say", () => {
  const u = new Usage({ maxCalls: 1, maxCps: 1 });
  assert.equal(typeof u.take(at(0)), "object");
  const forced = u.take(at(0), true);
  assert.equal(typeof forced, "object");
  assert.equal(u.live, 2);
  assert.equal(u.take(at(0)), "calls");
});

Deno.test("limits: a reload keeps counts, applies new limits, and drops idle counters it no longer names", () => {
  const t = new LimitTable();
  const r = (name: string, maxCalls?: number) => ({
    name,
    limits: maxCalls ? { maxCalls } : undefined,
    routes: [{ name: "trunk", limits: { maxCalls: 1 } }],
  });
  t.configure([r("a", 1), r("b")]);
  const held = t.rule("a")!.take(at(0));
  assert.equal(t.rule("a")!.take(at(0)), "calls");
  assert.equal(typeof t.route("trunk")!.take(at(0)), "object");
  assert.equal(t.route("trunk")!.take(at(0)), "calls", "one trunk shared by both rules");
  assert.equal(t.route("elsewhere"), undefined, "routes no configuration names are not counted");
  t.configure([r("a", 2)]);
  assert.equal(t.rule("a")!.live, 1, "the count survives the reload");
  assert.equal(typeof t.rule("a")!.take(at(0)), "object", "the new limit applies");
  assert.equal(t.rule("b"), undefined, "an idle counter no rule names is dropped");
  t.configure([r("c")]);
  assert.ok(t.rule("a"), "a counter still in use stays until its calls end");
  if (typeof held === "string") throw new Error("unreachable");
  held.release();
  t.rule("a")!.live--; // the second call of "a"
  t.configure([r("c")]);
  assert.equal(t.rule("a"), undefined);
});

/** Start a call from the caller numbered `n`; returns what Tandem sent. */
function invite(loop: Loop, n: number) {
  loop.inject(callerInvite("alice-kit", "", n), CALLER);
  return loop.take();
}

/** Answer the INVITE Tandem sent to CALLEE and ACK the caller's 200. */
function answerCall(loop: Loop, inv: SipRequest, n: number) {
  loop.inject(
    answer(inv, 200, `callee-${n}`, { contact: "<sip:bob@10.0.0.2:5090>", body: "v=0\n" }),
    CALLEE,
  );
  const ok = loop.take().find(res(200))!.msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1, n), CALLER);
  loop.take();
}

Deno.test("B2BUA: beyond a rule's max_calls a new call gets 503 with Q.850 cause 34 and no Retry-After; a call ending frees its place", () => {
  const cfg = config([{ ...rule([route("10.0.0.2", 5090)]), limits: { maxCalls: 2 } }]);
  const loop = new Loop(cfg);
  const inv1 = invite(loop, 1).find(req("INVITE", 5090))!.msg as SipRequest;
  assert.ok(invite(loop, 2).find(req("INVITE", 5090)), "second call within the limit");
  const third = invite(loop, 3);
  assert.ok(!third.find(req("INVITE", 5090)), "third call never reaches the callee");
  const r = third.find(res(503))!.msg as SipResponse;
  assert.equal(r.reason, "Call Limit Reached");
  assert.match(r.get("reason")!, /^Q\.850;cause=34;/);
  assert.equal(r.get("retry-after"), undefined);
  assert.equal(loop.b2bua.limits.rule("all")!.live, 2);
  // The first call is answered and ended by the callee: its place is free again.
  answerCall(loop, inv1, 1);
  loop.inject(calleeBye(inv1, "callee-1"), CALLEE);
  loop.take();
  assert.equal(loop.b2bua.limits.rule("all")!.live, 1);
  assert.ok(invite(loop, 4).find(req("INVITE", 5090)), "a new call gets the freed place");
});

Deno.test("B2BUA: beyond a rule's max_cps new calls get 503 with Q.850 cause 42 until the rate allows", () => {
  const cfg = config([{ ...rule([route("10.0.0.2", 5090)]), limits: { maxCps: 2 } }]);
  const loop = new Loop(cfg);
  loop.timers.advance(1000);
  assert.ok(invite(loop, 1).find(req("INVITE", 5090)));
  assert.ok(invite(loop, 2).find(req("INVITE", 5090)));
  const r = invite(loop, 3).find(res(503))!.msg as SipResponse;
  assert.equal(r.reason, "Call Rate Limit Reached");
  assert.match(r.get("reason")!, /^Q\.850;cause=42;/);
  loop.timers.advance(500);
  assert.ok(invite(loop, 4).find(req("INVITE", 5090)), "half a second later, one more");
});

Deno.test("B2BUA: a route at its max_calls is skipped for the next one, recorded as 'limit'; with every route full the caller gets 503 cause 34", () => {
  const records: CallRecord[] = [];
  const trunk = route("10.0.0.2", 5090, { name: "trunk-a", limits: { maxCalls: 1 } });
  const backup = route("10.0.0.3", 5091, { name: "trunk-b", limits: { maxCalls: 1 } });
  const loop = new Loop(config([rule([trunk, backup])]), {
    onCallEnded: (r) => void records.push(r),
  });
  assert.ok(invite(loop, 1).find(req("INVITE", 5090)), "first call on trunk-a");
  const second = invite(loop, 2);
  assert.ok(!second.find(req("INVITE", 5090)), "trunk-a is full");
  assert.ok(second.find(req("INVITE", 5091)), "second call on trunk-b");
  const third = invite(loop, 3);
  assert.equal(third.filter(req("INVITE")).length, 0);
  const r = third.find(res(503))!.msg as SipResponse;
  assert.equal(r.reason, "Call Limit Reached");
  assert.match(r.get("reason")!, /cause=34/);
  const rec = records.find((x) => x.callerCallId === "caller-call-3@10.0.0.1")!;
  assert.deepEqual(rec.attempts.map((a) => [a.route, a.outcome]), [
    ["trunk-a", "limit"],
    ["trunk-b", "limit"],
  ]);
  assert.equal(rec.finalStatus, 503);
  assert.equal(rec.endReason, "route-limit");
  assert.match(rec.reasonHeader!, /cause=34/);
});

Deno.test("B2BUA: a route's place is held while it rings and freed when its attempt fails, is given up, or its call ends", () => {
  const trunk = route("10.0.0.2", 5090, {
    name: "trunk-a",
    limits: { maxCalls: 1 },
    timers: { noProgress: 2000 },
  });
  const backup = route("10.0.0.3", 5091, { name: "trunk-b" });
  const loop = new Loop(config([rule([trunk, backup])]));
  const usage = () => loop.b2bua.limits.route("trunk-a")!.live;
  // Fails with a 503: freed, and the call moves on.
  const inv1 = invite(loop, 1).find(req("INVITE", 5090))!.msg as SipRequest;
  assert.equal(usage(), 1);
  loop.inject(answer(inv1, 503, "t1"), CALLEE);
  assert.ok(loop.take().find(req("INVITE", 5091)), "failover to trunk-b");
  assert.equal(usage(), 0);
  // Given up by the no-progress timer: freed at once, though its CANCEL waits for a 1xx.
  invite(loop, 2);
  assert.equal(usage(), 1);
  loop.timers.advance(2000);
  assert.ok(loop.take().find(req("INVITE", 5091)));
  assert.equal(usage(), 0);
  // Ringing, then the caller cancels: freed when the call ends.
  const inv3 = invite(loop, 3).find(req("INVITE", 5090))!.msg as SipRequest;
  loop.inject(answer(inv3, 180, "t3"), CALLEE);
  loop.take();
  assert.equal(usage(), 1);
  loop.inject(
    callerInvite("alice-kit", "", 3).replace(/^INVITE /, "CANCEL ").replace(
      "CSeq: 1 INVITE",
      "CSeq: 1 CANCEL",
    ).replace(/Content-Type[\s\S]*$/, "Content-Length: 0\n\n"),
    CALLER,
  );
  loop.take();
  assert.equal(usage(), 0);
  // Answered: held until the call ends.
  const inv4 = invite(loop, 4).find(req("INVITE", 5090))!.msg as SipRequest;
  answerCall(loop, inv4, 4);
  assert.equal(usage(), 1);
  assert.ok(invite(loop, 5).find(req("INVITE", 5091)), "trunk-a is busy with the answered call");
  loop.inject(calleeBye(inv4, "callee-4"), CALLEE);
  loop.take();
  assert.equal(usage(), 0);
});

Deno.test("B2BUA: routes of one name share their count across rules; /metrics shows calls and refusals by rule and route", () => {
  const trunk = () => route("10.0.0.2", 5090, { name: "trunk", limits: { maxCalls: 1 } });
  const loop = new Loop(config([
    { ...rule([trunk()], "gold"), match: { ruriUserPrefix: ["gold"] } },
    { ...rule([trunk()], "silver"), limits: { maxCalls: 5 } },
  ]));
  loop.inject(callerInvite("gold-1", "", 1), CALLER);
  assert.ok(loop.take().find(req("INVITE", 5090)));
  loop.inject(callerInvite("silver-1", "", 2), CALLER);
  const r = loop.take().find(res(503))!.msg as SipResponse;
  assert.match(r.get("reason")!, /cause=34/, "the shared trunk is full");
  const text = metrics.expose(); // the engine reports to the process-wide registry
  assert.match(text, /^tandem_rule_calls_active\{rule="gold"\} 1$/m);
  assert.match(text, /^tandem_rule_calls_active\{rule="silver"\} 0$/m);
  assert.match(text, /^tandem_route_calls_active\{route="trunk"\} 1$/m);
  assert.match(
    text,
    /^tandem_limit_refusals_total\{limit="calls",name="trunk",scope="route"\} 1$/m,
  );
});

Deno.test("B2BUA: a reload that lowers a rule's limit keeps the calls up and refuses the next", () => {
  const base = rule([route("10.0.0.2", 5090)]);
  const loop = new Loop(config([{ ...base, limits: { maxCalls: 3 } }]));
  invite(loop, 1);
  invite(loop, 2);
  loop.cfg = config([{ ...base, limits: { maxCalls: 1 } }]);
  assert.ok(invite(loop, 3).find(res(503)), "the lower limit applies to the next call");
  assert.equal(loop.b2bua.limits.rule("all")!.live, 2, "the calls up keep their places");
  loop.cfg = config([base]);
  assert.ok(invite(loop, 4).find(req("INVITE", 5090)), "no limit any more");
});

Deno.test("B2BUA: behind one proxy address, customers told apart by a header each get their own limit", () => {
  const customer = (name: string) => ({
    ...rule([route("10.0.0.2", 5090)], name),
    match: { headers: [{ name: "X-Customer", regex: new RegExp(`^${name}$`) }] },
    limits: { maxCalls: 1 },
  });
  const loop = new Loop(config([customer("acme"), customer("globex")]));
  const call = (who: string, n: number) => {
    loop.inject(callerInvite("alice-kit", `X-Customer: ${who}\n`, n), CALLER);
    return loop.take();
  };
  assert.ok(call("acme", 1).find(req("INVITE", 5090)));
  assert.ok(call("acme", 2).find(res(503)), "acme's one channel is taken");
  assert.ok(call("globex", 3).find(req("INVITE", 5090)), "globex has its own");
  assert.ok(call("initech", 4).find(res(404)), "no rule for an unknown customer");
});

Deno.test("B2BUA: an attempt answering a digest challenge keeps its route's place", () => {
  const trunk = route("10.0.0.2", 5090, {
    name: "trunk",
    limits: { maxCalls: 1 },
    auth: { username: "kit", password: "kitpass" },
  });
  const loop = new Loop(config([rule([trunk])]), {
    digest: (a) => `Digest username="${a.username}", uri="${a.uri}", response="x"`,
  });
  const inv = invite(loop, 1).find(req("INVITE", 5090))!.msg as SipRequest;
  loop.inject(
    answer(inv, 407, "t", { extra: 'Proxy-Authenticate: Digest realm="r", nonce="n"\n' }),
    CALLEE,
  );
  const again = loop.take().find(req("INVITE", 5090))?.msg as SipRequest;
  assert.ok(again, "the INVITE again, with credentials");
  assert.equal(loop.b2bua.limits.route("trunk")!.live, 1);
  assert.ok(invite(loop, 2).find(res(503)), "the trunk is still full");
  loop.inject(answer(again, 486, "t"), CALLEE); // the second try is refused: the place is freed
  loop.take();
  assert.equal(loop.b2bua.limits.route("trunk")!.live, 0);
});

Deno.test("B2BUA: routes from RADIUS — a configured route it names is counted and limited, an address it gives is not", async () => {
  const trunk = route("10.0.0.2", 5090, { name: "trunk", limits: { maxCalls: 1 } });
  const cfg = config([
    {
      ...rule([route("10.0.0.9", 5099)], "customer"),
      auth: { mode: "source", realm: "r", onTimeout: "reject" },
    },
    { ...rule([trunk], "trunks"), match: { ruriUserPrefix: ["never"] } },
  ]);
  const loop = new Loop(cfg, {
    authorize: () => Promise.resolve({ outcome: "accept", routes: ["trunk", "10.0.0.3:5091"] }),
  });
  const settle = () => new Promise((r) => setTimeout(r, 0));
  loop.inject(callerInvite("alice-kit", "", 1), CALLER);
  await settle();
  assert.ok(loop.take().find(req("INVITE", 5090)), "the first call on the named route");
  assert.equal(loop.b2bua.limits.route("trunk")!.live, 1);
  loop.inject(callerInvite("alice-kit", "", 2), CALLER);
  await settle();
  const second = loop.take();
  assert.ok(!second.find(req("INVITE", 5090)), "the named route is full");
  assert.ok(second.find(req("INVITE", 5091)), "the address RADIUS gave takes the second");
  assert.equal(loop.b2bua.limits.route("radius-2"), undefined, "and is not counted");
});

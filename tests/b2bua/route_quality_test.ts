// Quality-based routing: a route's ASR and post-dial delay over a sliding window, judged only
// past `min_calls`; a degraded route is tried after the others, not skipped, and comes back when
// its window empties. The figures alone, then calls over the in-memory loop.

import assert from "node:assert/strict";
import { RouteQuality } from "../../src/b2bua/route-quality.ts";
import type { RouteConfig, RouteQualityConfig } from "../../src/config/types.ts";
import type { SipRequest } from "../../src/sip/mod.ts";
import { metrics } from "../../src/util/metrics.ts";
import { answer, CALLER, callerInvite, config, Loop, req, res, route, rule } from "./loop.ts";

const Q: RouteQualityConfig = { window: 60_000, minCalls: 4, minAsr: 0.5, maxPdd: 3000 };
const withQ = (name: string, q: RouteQualityConfig = Q): RouteConfig => ({
  ...route("10.0.0.2", 5090, { name }),
  quality: q,
});

Deno.test("quality figures: ASR and PDD over the window, judged from min_calls on", () => {
  const changes: [string, boolean][] = [];
  const rq = new RouteQuality((r, f) => changes.push([r, f.degraded]));
  const a = withQ("a");
  rq.record(a, 0, { answered: false, pddMs: 100 });
  rq.record(a, 1000, { answered: false, pddMs: 100 });
  rq.record(a, 2000, { answered: true, pddMs: 400 });
  assert.deepEqual(rq.figures("a", 2000), { calls: 3, asr: 1 / 3, pddMs: 200, degraded: false });
  rq.record(a, 3000, { answered: false });
  assert.deepEqual(rq.figures("a", 3000), { calls: 4, asr: 0.25, pddMs: 200, degraded: true });
  assert.deepEqual(changes, [["a", true]]);
  // The window moves on in tenths (6 s here): the first tenth's calls leave it once all of that
  // tenth is older than the window, and the route is below min_calls again.
  assert.equal(rq.figures("a", 65_000)?.degraded, true, "the tenth from 0 to 6 s still counts");
  assert.equal(rq.figures("a", 66_000)?.degraded, false);
  assert.equal(rq.figures("a", 66_000)?.calls, 0);
  assert.deepEqual(changes, [["a", true], ["a", false]]);
  assert.equal(rq.figures("b", 0), undefined);
});

Deno.test("quality figures: a late answerer is degraded by its mean post-dial delay", () => {
  const rq = new RouteQuality();
  const slow = withQ("slow", { window: 60_000, minCalls: 2, maxPdd: 3000 });
  rq.record(slow, 0, { answered: true, pddMs: 2000 });
  rq.record(slow, 10, { answered: true, pddMs: 5000 });
  assert.equal(rq.figures("slow", 10)?.degraded, true, "mean 3.5 s over 3 s");
  const other = route("10.0.0.3", 5091, { name: "other" });
  const routes = [slow, other];
  assert.deepEqual(rq.order(routes, 10).map((r) => r.name), ["other", "slow"]);
  assert.equal(rq.order([other], 10)[0], other);
  // Nothing degraded: the same array back.
  const fresh = new RouteQuality();
  assert.equal(fresh.order(routes, 10), routes);
});

Deno.test("quality routing: a carrier that fails calls is tried second, then first again once its window empties", () => {
  const loop = new Loop(
    config([rule([
      { ...route("10.0.0.2", 5090, { name: "cheap" }), quality: Q },
      route("10.0.0.3", 5091, { name: "backup" }),
    ])]),
  );
  const firstInvite = (n: number) => {
    loop.inject(callerInvite("bob", "", n), CALLER);
    return loop.take().find(req("INVITE"))!;
  };
  // Four calls: the cheap route answers 503, the backup answers.
  for (let n = 1; n <= 4; n++) {
    const first = firstInvite(n);
    assert.equal(first.dest.port, 5090, `call ${n} tries the cheap route first`);
    loop.inject(answer(first.msg as SipRequest, 503, `c${n}`), first.dest);
    const second = loop.take().find(req("INVITE", 5091))!;
    assert.ok(second, `call ${n} fails over`);
    loop.inject(
      answer(second.msg as SipRequest, 200, `b${n}`, { contact: "<sip:b@10.0.0.3:5091>" }),
      second.dest,
    );
    assert.ok(loop.take().some(res(200)), `call ${n} answered`);
    loop.timers.advance(1000);
  }
  assert.match(metrics.expose(), /^tandem_route_degraded\{route="cheap"\} 1$/m);
  // ASR 0 over 4 calls: the next call tries the backup first, the cheap route after it.
  const fifth = firstInvite(5);
  assert.equal(fifth.dest.port, 5091, "degraded: tried after the backup");
  loop.inject(answer(fifth.msg as SipRequest, 503, "b5"), fifth.dest);
  assert.ok(loop.take().some(req("INVITE", 5090)), "still tried when the backup fails");
  // A minute and a tenth on, the window has emptied: the cheap route comes first again.
  loop.timers.advance(67_000);
  assert.equal(firstInvite(6).dest.port, 5090);
  assert.match(metrics.expose(), /^tandem_route_degraded\{route="cheap"\} 0$/m);
});

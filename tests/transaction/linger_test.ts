// The linger index (src/transaction/linger.ts) on its own, and the layer keeping finished
// transactions there: out of the live maps, still matched by retransmissions, ended on time.

import assert from "node:assert/strict";
import { type Lingerer, LingerIndex } from "../../src/transaction/linger.ts";
import { ManualClock, ManualTimers } from "../../src/util/timer-queue.ts";
import { reply, request, setup, UDP } from "./fake-transport.ts";
import type { ServerTransaction } from "../../src/transaction/mod.ts";

/** A transaction as the index sees it; ending takes it out, as the layer's transactions do. */
class Tx implements Lingerer {
  lingerUntil = 0;
  lingerGen: Map<string, Lingerer> | undefined;
  endedAt: number | undefined;
  constructor(
    readonly key: string,
    private readonly index: () => LingerIndex,
    private readonly clock: ManualClock,
    readonly mergeKey?: string,
  ) {}
  lingerExpired(): void {
    this.endedAt = this.clock.t;
    this.index().delete(this);
  }
}

function fixture() {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const index: LingerIndex = new LingerIndex(timers, () => clock.t);
  const tx = (key: string, mergeKey?: string) => new Tx(key, () => index, clock, mergeKey);
  return { clock, timers, index, tx };
}

Deno.test("linger: each transaction ends at its own deadline, found by key until then", () => {
  const { timers, index, tx } = fixture();
  const a = tx("a");
  index.add(a, 32_000);
  timers.advance(10_000);
  const b = tx("b");
  index.add(b, 32_000);
  assert.equal(index.get("a"), a);
  assert.equal(index.get("b"), b);
  timers.advance(22_000);
  assert.equal(a.endedAt, 32_000);
  assert.equal(index.get("a"), undefined);
  assert.equal(index.get("b"), b);
  timers.advance(10_000);
  assert.equal(b.endedAt, 42_000);
  assert.equal(index.size, 0);
});

Deno.test("linger: lifetimes keep their own queues (Timer K does not wait behind Timer J)", () => {
  const { timers, index, tx } = fixture();
  const j = tx("j");
  const k = tx("k");
  index.add(j, 32_000);
  index.add(k, 5_000);
  timers.advance(5_000);
  assert.equal(k.endedAt, 5_000);
  assert.equal(j.endedAt, undefined);
  timers.advance(27_000);
  assert.equal(j.endedAt, 32_000);
});

Deno.test("linger: many transactions over many generations end in order, in batched passes", () => {
  const { clock, timers, index, tx } = fixture();
  const all: Tx[] = [];
  // 4 per ms for 40 s: a thousand calls a second's worth of BYE transactions.
  for (let ms = 0; ms < 40_000; ms++) {
    for (let i = 0; i < 4; i++) {
      const t = tx(`k${ms}.${i}`);
      index.add(t, 32_000);
      all.push(t);
    }
    timers.advance(1);
  }
  timers.advance(33_000);
  assert.equal(index.size, 0);
  for (const t of all) {
    const late = t.endedAt! - t.lingerUntil;
    // Never early; late by at most one pass (20 ms).
    assert.ok(late >= 0 && late <= 20, `${t.key} ended ${late} ms after its deadline`);
  }
  assert.ok(clock.t >= 73_000);
});

Deno.test("linger: a transaction taken out early is neither found nor ended later", () => {
  const { timers, index, tx } = fixture();
  const a = tx("a", "m");
  index.add(a, 32_000, undefined, "m");
  assert.equal(index.get("m"), a);
  assert.equal(index.delete(a), true);
  assert.equal(index.delete(a), false);
  assert.equal(index.get("a"), undefined);
  assert.equal(index.get("m"), undefined);
  timers.advance(40_000);
  assert.equal(a.endedAt, undefined);
});

Deno.test("linger: an expired entry, left in its generation until the whole goes, is not found", () => {
  const { timers, index, tx } = fixture();
  const a = tx("a", "ma");
  index.add(a, 32_000, undefined, "ma");
  timers.advance(1_000);
  const b = tx("b"); // same generation (a span is 4 s), due 1 s later
  index.add(b, 32_000);
  timers.advance(31_500);
  assert.equal(a.endedAt, 32_000);
  assert.equal(b.endedAt, undefined);
  assert.equal(index.get("a"), undefined, "expired: not found by its key");
  assert.equal(index.get("ma"), undefined, "nor by its merge key");
  assert.equal(index.delete(a), false, "no longer lingering");
  assert.equal(index.size, 1);
  assert.equal(index.get("b"), b);
  timers.advance(1_000);
  assert.equal(b.endedAt, 33_000);
  assert.equal(index.size, 0);
});

Deno.test("linger: a key lingering again while its expired entry waits in the generation being passed ends too", () => {
  const { timers, index, tx } = fixture();
  // A deadline given as already past (Timer L, late ACK) ends the first at once while the timer's
  // passes stop at the second: the same key then comes back into that generation.
  const a = tx("a");
  index.add(a, 32, 0);
  const b = tx("b");
  index.add(b, 32);
  timers.advance(1);
  assert.equal(a.endedAt, 0);
  assert.equal(b.endedAt, undefined);
  const again = tx("a");
  index.add(again, 32, 2);
  assert.equal(index.get("a"), again);
  timers.advance(40);
  assert.equal(b.endedAt !== undefined, true);
  assert.equal(again.endedAt !== undefined, true, "the new entry was passed over by the timer");
  assert.equal(index.get("a"), undefined);
  assert.equal(index.size, 0);
});

Deno.test("linger: a deadline given from an earlier start (Timer L from the 2xx) is kept", () => {
  const { timers, index, tx } = fixture();
  timers.advance(1_000);
  const l = tx("l");
  index.add(l, 32_000, 32_000); // armed at 0, lingering from 1 s
  timers.advance(31_000);
  assert.equal(l.endedAt, 32_000);
});

Deno.test("layer: a finished transaction leaves the live map, resends its final, ends at Timer J", () => {
  const { layer, sender, timers, user } = setup();
  const txs: ServerTransaction[] = [];
  user.onNew = (_req, t) => txs.push(t);
  const bye = request("BYE", "z9hG4bKbye1");
  layer.receiveRequest(bye, UDP);
  txs[0].respond(reply(bye, 200, "tb"));
  const live = (layer as unknown as { servers: Map<string, unknown> }).servers;
  assert.equal(live.size, 0, "not in the live map while it only waits");
  assert.deepEqual(layer.size, { client: 0, server: 1 }, "still counted");
  timers.advance(20_000);
  layer.receiveRequest(request("BYE", "z9hG4bKbye1"), UDP);
  assert.equal(sender.responses().filter((r) => r.status === 200).length, 2, "200 resent");
  assert.equal(user.requests.length, 1, "the retransmission is not a new request");
  timers.advance(12_000);
  assert.equal(txs[0].state, "Terminated");
  assert.deepEqual(layer.size, { client: 0, server: 0 });
});

Deno.test("layer: an answered INVITE lingers after its ACK and still merges a forked copy (482)", () => {
  const { layer, sender, timers, user } = setup();
  const txs: ServerTransaction[] = [];
  user.onNew = (_req, t) => txs.push(t);
  const inv = request("INVITE", "z9hG4bKinv1");
  layer.receiveRequest(inv, UDP);
  const tx = txs[0];
  tx.respond(reply(inv, 200, "t2"));
  timers.advance(100);
  tx.acked();
  const live = (layer as unknown as { servers: Map<string, unknown> }).servers;
  assert.equal(live.size, 0);
  // The same INVITE by another path (another branch, no To tag): §8.2.2.2.
  layer.receiveRequest(request("INVITE", "z9hG4bKother"), UDP);
  assert.equal(sender.responses().at(-1)!.status, 482);
  // Timer L runs from the 2xx, not from the ACK.
  timers.advance(64 * 500 - 100);
  assert.equal(tx.state, "Terminated");
});

import assert from "node:assert/strict";
import { judgeSoak, type RestReading, sumSeries } from "../../scripts/bench/leak.ts";

const MB = 1024 * 1024;
const rest = (over: Partial<RestReading> = {}): RestReading => ({
  calls: 0,
  transactions: 0,
  legs: 0,
  timers: 0,
  heapBytes: 40 * MB,
  rssBytes: 300 * MB,
  ...over,
});

Deno.test("judgeSoak: containers back and the live heap within the slack is no leak", () => {
  const v = judgeSoak(rest(), rest({ heapBytes: 43 * MB, rssBytes: 520 * MB }), 1_200_000);
  assert.equal(v.leak, false, v.reason);
  assert.deepEqual(v.residue, { calls: 0, transactions: 0, legs: 0, timers: 0 });
  assert.equal(v.heapGrowthBytes, 3 * MB);
  assert.equal(v.rssGrowthBytes, 220 * MB);
  assert.match(v.reason, /containers back.*\+3\.0 MB over 1200000 calls/);
});

Deno.test("judgeSoak: anything left in a container is a leak, whatever the heap says", () => {
  const v = judgeSoak(rest({ timers: 2 }), rest({ transactions: 3, timers: 5 }), 1000);
  assert.equal(v.leak, true);
  assert.equal(v.reason, "still held after the quiet spell: 3 transactions, 3 timers");
  // Fewer than before (a quiet spell that ended the warm-up's leftovers) is not a residue.
  assert.equal(judgeSoak(rest({ legs: 4 }), rest(), 1000).leak, false);
});

Deno.test("judgeSoak: heap growth is a leak above the slack and 2 bytes per call", () => {
  // 30 MB over 1.2 M calls: 26 bytes a call.
  const big = judgeSoak(rest(), rest({ heapBytes: 70 * MB }), 1_200_000);
  assert.equal(big.leak, true);
  assert.equal(big.heapBytesPerCall, 26.21);
  assert.match(big.reason, /live heap grew 30\.0 MB \(26\.21 bytes per call\)/);
  // 30 MB over 100 M calls is under 2 bytes a call: compiler and table growth, not a leak.
  assert.equal(judgeSoak(rest(), rest({ heapBytes: 70 * MB }), 100_000_000).leak, false);
  // Under the slack, however few the calls.
  assert.equal(judgeSoak(rest(), rest({ heapBytes: 47 * MB }), 10).leak, false);
});

Deno.test("judgeSoak: where objects are counted they decide, not the heap's bytes", () => {
  // 30 MB more heap but the same objects: capacity kept from the peak.
  const kept = judgeSoak(
    rest({ objects: 500_000 }),
    rest({ objects: 505_000, heapBytes: 70 * MB }),
    1_200_000,
  );
  assert.equal(kept.leak, false, kept.reason);
  assert.equal(kept.objectGrowth, 5000);
  assert.match(kept.reason, /live objects \+5000 over 1200000 calls; heap \+30\.0 MB/);
  // 1.2 M calls, 60,000 objects more: one per 20 calls.
  const leaky = judgeSoak(rest({ objects: 500_000 }), rest({ objects: 560_000 }), 1_200_000);
  assert.equal(leaky.leak, true);
  assert.equal(leaky.reason, "60000 more live objects (0.050 per call)");
  // Under the slack, however few the calls.
  assert.equal(judgeSoak(rest({ objects: 1 }), rest({ objects: 15_000 }), 100).leak, false);
});

Deno.test("sumSeries adds every labelled series of a metric", () => {
  const text = [
    "# HELP tandem_transactions_active Live SIP transactions",
    "# TYPE tandem_transactions_active gauge",
    'tandem_transactions_active{kind="client_invite"} 3',
    'tandem_transactions_active{worker="1",kind="server_invite"} 4',
    "tandem_calls_active 7",
    'tandem_calls_active{worker="1"} 1',
  ].join("\n");
  assert.deepEqual(sumSeries(text), { tandem_transactions_active: 7, tandem_calls_active: 8 });
});

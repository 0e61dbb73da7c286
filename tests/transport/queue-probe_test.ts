// The queue probe's estimate (src/transport/queue-probe.ts) on a hand-moved clock: probes sent
// every 20 ms, each "arriving" after the wait the test decides.

import assert from "node:assert/strict";
import { PROBE_LENGTH, QueueProbe } from "../../src/transport/queue-probe.ts";

/** Send a probe every 20 ms from `from` to `to` (ms), each arriving `wait(t)` ms after it left. */
function run(p: QueueProbe, from: number, to: number, wait: (t: number) => number): void {
  const flight: { at: number; bytes: Uint8Array }[] = [];
  for (let t = from; t < to; t++) {
    if ((t - from) % 20 === 0) flight.push({ at: t + wait(t), bytes: p.next(t) });
    for (let i = 0; i < flight.length; i++) {
      if (flight[i].at <= t) {
        assert.equal(p.arrived(flight[i].bytes, t), true);
        flight.splice(i--, 1);
      }
    }
  }
}

Deno.test("Queue probe: an idle queue reads zero, a standing one its wait", () => {
  const p = new QueueProbe(100);
  assert.equal(p.delayMs(0), 0, "nothing sent yet");
  run(p, 0, 1000, () => 1);
  assert.equal(p.delayMs(1000), 1);
  run(p, 1000, 2000, () => 60);
  assert.ok(Math.abs(p.delayMs(2000) - 60) <= 20, `a standing 60 ms (${p.delayMs(2000)})`);
});

Deno.test("Queue probe: a burst of delay is not a standing queue", () => {
  const p = new QueueProbe(100);
  // A 150 ms pause around t = 500 delays the probes sent in it, then the queue is gone.
  // The probes it held arrive together at 650, having waited 150 ms down to 10 ms.
  run(p, 0, 655, (t) => (t >= 500 && t < 650 ? 650 - t : 1));
  assert.equal(p.delayMs(655), 10, "the least wait of the window, not the most");
  run(p, 655, 1000, () => 1);
  assert.equal(p.delayMs(1000), 1);
});

Deno.test("Queue probe: probes stuck in the queue count by their age, lost ones stop counting", () => {
  const p = new QueueProbe(100);
  run(p, 0, 500, () => 1);
  // Sent and not yet back: the oldest in flight is 300 ms old, 200 ms past a window.
  for (let t = 500; t < 800; t += 20) p.next(t);
  assert.equal(p.delayMs(590), 0, "held up for less than a window: no evidence yet");
  assert.equal(p.delayMs(800), 200, "stuck probes");
  // A later probe arrives: the ones before it were dropped (a full buffer) and no longer count.
  const late = p.next(800);
  assert.equal(p.arrived(late, 802), true);
  assert.equal(p.delayMs(802), 2);
  // Nothing back for longer than the ring remembers: still read as a long wait, not as none.
  for (let t = 820; t < 3000; t += 20) p.next(t);
  assert.ok(p.delayMs(3000) > 1000, `a queue that never drains (${p.delayMs(3000)})`);
});

Deno.test("Queue probe: other datagrams, duplicates and forged numbers are not counted", () => {
  const p = new QueueProbe(100);
  const a = p.next(0);
  assert.equal(a.length, PROBE_LENGTH);
  assert.equal(p.arrived(new TextEncoder().encode("\0TQP but longer than a probe"), 1), false);
  assert.equal(p.arrived(new Uint8Array(PROBE_LENGTH), 1), false, "NULs only: not a probe");
  const future = a.slice();
  future[7] = 9; // number 9: never sent
  assert.equal(p.arrived(future, 1), true);
  assert.equal(p.delayMs(1), 0, "a number never sent is ignored");
  assert.equal(p.arrived(a, 5), true);
  assert.equal(p.arrived(a, 500), true, "a duplicate is ours");
  assert.equal(p.delayMs(6), 5, "but counted once");
});

// The production timing wheel: never early, in deadline order, cancellation, long timers.

import assert from "node:assert/strict";
import { WheelTimers } from "../../src/util/timer-wheel.ts";

Deno.test("WheelTimers: timers fire after their delay, in order, and cancelled ones never", async () => {
  const w = new WheelTimers(5, 4); // 16 slots of 5 ms: an 80 ms revolution, to exercise rounds
  const t0 = performance.now();
  const fired: [string, number][] = [];
  const done = new Promise<void>((resolve) => {
    w.set(30, () => fired.push(["a", performance.now() - t0]));
    w.set(10, () => fired.push(["b", performance.now() - t0]));
    w.set(200, () => {
      fired.push(["long", performance.now() - t0]);
      resolve();
    });
    w.set(20, () => fired.push(["x", 0])).cancel();
  });
  await done;
  assert.deepEqual(fired.map(([n]) => n), ["b", "a", "long"]);
  for (const [name, at] of fired) {
    const want = name === "b" ? 10 : name === "a" ? 30 : 200;
    assert.ok(at >= want, `${name} fired early: ${at} < ${want}`);
  }
  assert.equal(w.size, 0);
  w.stop();
});

Deno.test("WheelTimers: a timer set from a callback fires later, not in the same sweep", async () => {
  const w = new WheelTimers(5, 3);
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    w.set(0, () => {
      order.push("first");
      w.set(0, () => {
        order.push("second");
        resolve();
      });
    });
  });
  assert.deepEqual(order, ["first", "second"]);
  w.stop();
});

Deno.test("WheelTimers: a timer set while the loop is behind still never fires early", async () => {
  const w = new WheelTimers(5, 4);
  const keepTicking = w.set(1000, () => {}); // the wheel runs; its cursor moves only per interval
  await new Promise((r) => setTimeout(r, 20));
  // Hold the loop for 60 ms (a GC pause, a burst of packets): the cursor is now ~12 ticks behind.
  const busyUntil = performance.now() + 60;
  while (performance.now() < busyUntil) { /* block */ }
  const t0 = performance.now();
  const at = await new Promise<number>((resolve) => w.set(50, () => resolve(performance.now())));
  assert.ok(at - t0 >= 50, `fired ${(at - t0).toFixed(1)} ms after a 50 ms timer was set`);
  keepTicking.cancel();
  w.stop();
});

Deno.test("WheelTimers: a cancelled timer leaves at once; the others in its slot still fire", async () => {
  const w = new WheelTimers(5, 4);
  const fired: number[] = [];
  let all!: () => void;
  const done = new Promise<void>((r) => all = r);
  // Ten timers in one slot; cancel the first, a middle one and the last (each swap-removal moves
  // another entry, which must still be found and fire).
  const hs = Array.from({ length: 10 }, (_, i) =>
    w.set(40, () => {
      fired.push(i);
      if (fired.length === 7) all();
    }));
  for (const i of [0, 5, 9]) hs[i].cancel();
  hs[5].cancel(); // twice: no effect
  assert.equal(w.size, 7, "cancelled timers are not pending any more");
  await done;
  assert.deepEqual(fired.sort((a, b) => a - b), [1, 2, 3, 4, 6, 7, 8]);
  hs[1].cancel(); // after it fired: no effect
  assert.equal(w.size, 0);
  w.stop();
});

Deno.test("WheelTimers: a callback cancelling a timer of the slot being swept stops it", async () => {
  const w = new WheelTimers(5, 4);
  const fired: string[] = [];
  let later!: { cancel(): void };
  await new Promise<void>((resolve) => {
    // Same delay, same slot: whichever runs first cancels the other.
    const first = w.set(20, () => {
      fired.push("first");
      later.cancel();
      resolve();
    });
    later = w.set(20, () => {
      fired.push("later");
      first.cancel();
      resolve();
    });
  });
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(fired.length, 1, `both fired: ${fired}`);
  assert.equal(w.size, 0);
  w.stop();
});

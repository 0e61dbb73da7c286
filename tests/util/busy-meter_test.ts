// The busy meter: a smoothed share of wall time the thread spent on CPU, from a CPU clock, and
// its demand (on CPU or waiting for a core).

import assert from "node:assert/strict";
import { BusyMeter, linuxSchedstat, shedShare } from "../../src/util/busy-meter.ts";

Deno.test("BusyMeter: follows the CPU share within a few samples, and one spike does not trip it", () => {
  let cpu = 0;
  const m = new BusyMeter(200, () => cpu);
  let wall = 1000;
  m.sample(wall); // baseline
  m.fraction = 0;
  for (let i = 0; i < 10; i++) {
    wall += 200;
    cpu += 198; // 99 % busy
    m.sample(wall);
  }
  assert.ok(m.fraction > 0.9, `saturated thread: ${m.fraction}`);
  for (let i = 0; i < 10; i++) {
    wall += 200;
    cpu += 60; // 30 %
    m.sample(wall);
  }
  assert.ok(m.fraction < 0.35, `recovered: ${m.fraction}`);
  wall += 200;
  cpu += 200; // one busy sample (a GC pause)
  m.sample(wall);
  assert.ok(m.fraction < 0.9, `one busy sample is not overload: ${m.fraction}`);
});

Deno.test("BusyMeter: demand counts the wait for a core, which the CPU share cannot see", () => {
  // A box whose other core is taken: the thread runs 80 % of the time and waits the other 20 %.
  let cpu = 0;
  let wait = 0;
  const m = new BusyMeter(200, () => cpu, () => wait);
  let wall = 0;
  m.sample(wall);
  for (let i = 0; i < 12; i++) {
    wall += 200;
    cpu += 160;
    wait += 38;
    m.sample(wall);
  }
  assert.ok(m.fraction > 0.75 && m.fraction < 0.81, `CPU share: ${m.fraction}`);
  assert.ok(m.demand > 0.95, `demand: ${m.demand}`);
  // Without a wait clock, demand is the CPU share.
  const plain = new BusyMeter(200, () => cpu);
  plain.sample(wall);
  cpu += 100;
  plain.sample(wall + 200);
  assert.equal(plain.demand, plain.fraction);
});

Deno.test("BusyMeter: on Linux the thread's own schedstat gives both clocks", () => {
  let linux = true;
  try {
    Deno.readTextFileSync("/proc/thread-self/schedstat");
  } catch {
    linux = false;
  }
  const m = new BusyMeter(200);
  m.start();
  const t0 = performance.now();
  while (performance.now() - t0 < 120) { /* spin */ }
  m.sample();
  m.stop();
  assert.ok(m.fraction > 0.1, `a spinning thread reads busy: ${m.fraction}`);
  assert.ok(m.demand >= m.fraction - 1e-9, `demand ${m.demand} below CPU ${m.fraction}`);
  if (!linux) return assert.equal(m.demand, m.fraction);
  // The clock itself: this thread's time on a core, in ms, grows by about what it spun.
  const read = linuxSchedstat()!;
  const [run0, wait0] = read();
  const t1 = performance.now();
  while (performance.now() - t1 < 50) { /* spin */ }
  const [run1, wait1] = read();
  assert.ok(run1 - run0 > 25 && run1 - run0 < 60 + (wait1 - wait0), `ran ${run1 - run0} ms`);
  assert.ok(wait1 >= wait0);
});

Deno.test("shedShare: none up to 0.85, all from 0.98, in proportion between", () => {
  assert.equal(shedShare(0.5), 0);
  assert.equal(shedShare(0.85), 0);
  assert.ok(Math.abs(shedShare(0.915) - 0.5) < 1e-9);
  assert.equal(shedShare(0.98), 1);
  assert.equal(shedShare(1), 1);
});

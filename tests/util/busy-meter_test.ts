// The busy meter: a smoothed share of wall time the thread spent on CPU, from a CPU clock.

import assert from "node:assert/strict";
import { BusyMeter, shedShare } from "../../src/util/busy-meter.ts";

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

Deno.test("BusyMeter: measures this thread under Deno (process.threadCpuUsage)", () => {
  const m = new BusyMeter(200);
  assert.equal(m.available, true);
  m.start();
  const t0 = performance.now();
  while (performance.now() - t0 < 120) { /* spin: the thread is busy */ }
  m.sample();
  m.stop();
  assert.ok(m.fraction > 0.1, `a spinning thread reads busy: ${m.fraction}`);
});

Deno.test("shedShare: none up to 0.85, all from 0.98, in proportion between", () => {
  assert.equal(shedShare(0.5), 0);
  assert.equal(shedShare(0.85), 0);
  assert.ok(Math.abs(shedShare(0.915) - 0.5) < 1e-9);
  assert.equal(shedShare(0.98), 1);
  assert.equal(shedShare(1), 1);
});

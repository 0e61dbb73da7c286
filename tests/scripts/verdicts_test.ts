// The targets checked against a run, and the box measured against the reference figures.

import assert from "node:assert/strict";
import type { MemoryResult, StepResult } from "../../scripts/bench/run.ts";
import {
  budgetLines,
  calibrate,
  calibrationLines,
  cpuBudget,
  targetVerdicts,
} from "../../scripts/bench/verdicts.ts";

function step(target: string, rate: number, o: Partial<StepResult> = {}): StepResult {
  const planned = rate * 20;
  return {
    target,
    rate,
    seconds: 20,
    planned,
    attempted: planned,
    succeeded: planned,
    failed: 0,
    retransUac: 0,
    retransUas: 0,
    failedUas: 0,
    shed: 0,
    offeredRate: rate,
    cpuS: null,
    cpuMsPerCall: 0.3,
    cpuPctCore: null,
    rssMB: null,
    rssMaxMB: null,
    sippCpuPctCore: 0,
    machineBusyPct: 0,
    latencyMs: null,
    aborted: null,
    clean: true,
    allSucceeded: true,
    errors: [],
    ...o,
  };
}

function held(calls: number, peakRssMB: number, rssPerCallKB: number): MemoryResult {
  return {
    target: "tandem-bun",
    calls,
    rate: 1000,
    holdS: 40,
    peakActive: calls,
    baseRssMB: 50,
    peakRssMB,
    afterRssMB: 0,
    baseHeapMB: 0,
    peakHeapMB: 0,
    afterHeapMB: 0,
    rssPerCallKB,
    heapPerCallKB: 4,
    settledRssMB: null,
    settledHeapMB: null,
    settledRssPerCallKB: null,
    settledHeapPerCallKB: null,
    setupS: null,
    teardownS: null,
    cpuMsPerCall: null,
    succeeded: calls,
    failed: 0,
    retransUac: 0,
    retransUas: 0,
    note: null,
  };
}

Deno.test("targets: a run below them says no, naming what it measured", () => {
  const steps = [
    step("tandem-bun", 2000, { cpuMsPerCall: 0.34 }),
    step("tandem-bun", 2500, { clean: false, retransUac: 100, cpuMsPerCall: 0.36 }),
    step("tandem-bun", 3000, { clean: false, allSucceeded: false, failed: 500, shed: 480 }),
    step("kamailio", 2000),
  ];
  // The smallest level carries the fixed part; the verdict is the largest one's.
  const v = targetVerdicts(steps, [held(100_000, 690, 6.5), held(20_000, 264, 10.9)]);
  assert.deepEqual(v.map((x) => x.met), [false, false, true, true, true]);
  assert.match(v[0].measured, /2500\/s \(with retransmissions\)/);
  assert.equal(v[1].measured, "0.340 at 2000/s, 0.360 at 2500/s");
  assert.match(v[4].measured, /3000\/s: 480 of 500 failures shed/);
  assert.match(
    v[2].measured,
    /at 20000, .* at 100000; 5\.45 KB per call more from 20000 to 100000/,
  );
});

Deno.test("targets: met when every 100 %-ok rung is, unmeasured ones say so", () => {
  const steps = [
    step("tandem-bun", 4000, { cpuMsPerCall: 0.24 }),
    step("tandem-bun", 5000, { cpuMsPerCall: 0.25, clean: false }),
    // Collapsing into failures that are not 503s is the failure the last target is about.
    step("tandem-bun", 6000, { clean: false, allSucceeded: false, failed: 900, shed: 100 }),
  ];
  const v = targetVerdicts(steps, [held(100_000, 1100, 11)]);
  assert.deepEqual(v.map((x) => x.met), [true, true, false, false, false]);
  const none = targetVerdicts([], []);
  assert.deepEqual(none.map((x) => x.met), [null, null, null, null, null]);
});

Deno.test("calibration: a factor only from a ceiling SIPp actually hit", () => {
  const ran = [
    step("sipp", 8000),
    step("sipp", 10000),
    step("sipp", 12000, { clean: false }),
    step("kamailio", 2500, { cpuMsPerCall: 0.66 }),
    step("kamailio", 2000, { cpuMsPerCall: 0.6 }),
  ];
  const c = calibrate(ran);
  assert.equal(c.sippClean, 10000);
  assert.equal(c.slowerBySipp, 2.8);
  assert.equal(c.kamailioRate, 2000); // its lowest rung, least disturbed by overload
  assert.equal(c.slowerByKamailio!.toFixed(2), "2.00");
  assert.equal(calibrationLines(c).length, 2);
  const topOnly = calibrate([step("sipp", 4000)]);
  assert.equal(topOnly.slowerBySipp, null);
  assert.match(calibrationLines(topOnly)[0], /no ceiling found/);
  assert.deepEqual(calibrationLines(calibrate([])), []);
});

Deno.test("budget: Tandem's and the SIPps' CPU per call against the cores, at the top ok rung", () => {
  const ran = [
    step("tandem-bun", 1000, { cpuMsPerCall: 0.5, sippCpuPctCore: 20 }),
    // 2,000/s: SIPps at 38 % of a core = 0.19 ms per call.
    step("tandem-bun", 2000, { cpuMsPerCall: 0.4, sippCpuPctCore: 38, mainThreadMsPerCall: 0.32 }),
    step("tandem-bun", 3000, { cpuMsPerCall: 0.3, sippCpuPctCore: 50, allSucceeded: false }),
    step("kamailio", 2000, { cpuMsPerCall: 0.5, sippCpuPctCore: 30 }),
  ];
  const b = cpuBudget(ran, 2)!;
  assert.equal(b.rate, 2000);
  assert.equal(b.sippMs.toFixed(3), "0.190");
  assert.equal(b.ceiling, 3389); // 2,000 ms of CPU per second / 0.59 ms
  assert.equal(b.tandemRoomMs.toFixed(3), "0.310"); // 0.5 ms per call at 4,000/s, less 0.19
  assert.equal(b.threadCeiling, 3125);
  assert.match(budgetLines(b, 2)[0], /hold at most 3,389 calls\/s.*busy all the time at 3,125/);
  assert.equal(cpuBudget(ran, 0), null, "no core count, no budget");
  assert.equal(cpuBudget([step("tandem-bun", 500, { sippCpuPctCore: 0 })], 2), null);
  assert.deepEqual(budgetLines(null, 2), []);
});

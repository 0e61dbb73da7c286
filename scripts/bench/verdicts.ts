// The performance issue's targets checked against one run, and this box measured against the
// box the reference figures came from (../shared/README.md). The targets are absolute figures
// for "this 2-core machine"; a VM's speed drifts with its neighbours, so the report also says how
// fast the box was during the run, from the two references that ran in it.

import type { MemoryResult, StepResult } from "./run.ts";

/** ../shared/README.md: the reference figures, and the targets. */
export const REFERENCE = {
  sippCleanRate: 28_000,
  kamailioRate: 3_750,
  kamailioCpuMsPerCall: 0.3,
} as const;
export const TARGETS = {
  rate: 4_000,
  cpuMsPerCall: 0.25,
  rssKBPerCall: 8,
  heldCalls: 100_000,
  heldRssMB: 1024,
} as const;

export interface Verdict {
  target: string;
  measured: string;
  met: boolean | null; // null: the run did not measure it
}

const fmt = (n: number, digits = 3) => n.toFixed(digits);

/** Each target of the issue against the run's results for `target` (the shipped binary). */
export function targetVerdicts(
  steps: StepResult[],
  memory: MemoryResult[],
  target = "tandem-bun",
): Verdict[] {
  const mine = steps.filter((s) => s.target === target).sort((a, b) => a.rate - b.rate);
  const allOk = mine.filter((s) => s.allSucceeded);
  const top = allOk.length ? allOk[allOk.length - 1] : undefined;
  const out: Verdict[] = [];
  out.push({
    target: `≥ ${TARGETS.rate} call setups/s at 100 % success`,
    measured: top
      ? `highest 100 %-ok rung ${top.rate}/s${top.clean ? " (clean)" : " (with retransmissions)"}` +
        ` of ${mine.map((s) => s.rate).join(", ")}`
      : mine.length
      ? "no rung with 100 % success"
      : "not run",
    met: mine.length ? (top?.rate ?? 0) >= TARGETS.rate : null,
  });
  const cpu = allOk.filter((s) => s.cpuMsPerCall !== null);
  out.push({
    target: `≤ ${TARGETS.cpuMsPerCall} ms CPU per call`,
    measured: cpu.length
      ? cpu.map((s) => `${fmt(s.cpuMsPerCall!)} at ${s.rate}/s`).join(", ")
      : "no 100 %-ok rung",
    met: mine.length
      ? cpu.length > 0 && cpu.every((s) => s.cpuMsPerCall! <= TARGETS.cpuMsPerCall)
      : null,
  });
  // Judged at the most calls held: (peak − base) / calls also carries what any loaded process
  // holds (compiled code, pools, set-up transactions still lingering), which weighs most on the
  // smallest level. The slope between the levels is the cost of one more call.
  const mem = memory.filter((m) => m.target === target && m.rssPerCallKB !== null)
    .sort((a, b) => a.calls - b.calls);
  const most = mem[mem.length - 1];
  const slope = mem.length > 1 && most.calls > mem[0].calls
    ? (most.peakRssMB - mem[0].peakRssMB) * 1024 / (most.calls - mem[0].calls)
    : undefined;
  out.push({
    target: `≤ ${TARGETS.rssKBPerCall} KB per concurrent call`,
    measured: most
      ? mem.map((m) => `${m.rssPerCallKB} KB RSS (${m.heapPerCallKB} KB heap) at ${m.calls}`)
        .join(", ") +
        (slope === undefined
          ? ""
          : `; ${fmt(slope, 2)} KB per call more from ${mem[0].calls} to ${most.calls}`)
      : "not run",
    met: most ? most.rssPerCallKB! <= TARGETS.rssKBPerCall : null,
  });
  const big = mem.find((m) => m.calls >= TARGETS.heldCalls && m.failed === 0);
  out.push({
    target: `${TARGETS.heldCalls.toLocaleString("en")} concurrent calls under 1 GiB RSS`,
    measured: big ? `${big.peakRssMB} MB at the peak (${big.peakActive} active)` : "not run",
    met: big ? big.peakRssMB < TARGETS.heldRssMB : null,
  });
  // Past capacity the wanted failure is a 503 Tandem chose, not a retransmission storm.
  const over = mine.filter((s) => !s.allSucceeded);
  const shed = over.reduce((n, s) => n + s.shed, 0);
  const failed = over.reduce((n, s) => n + s.failed, 0);
  out.push({
    target: "above capacity: sheds with 503 instead of collapsing",
    measured: over.length
      ? over.map((s) => `${s.rate}/s: ${s.shed} of ${s.failed} failures shed`).join("; ")
      : "no rung past capacity",
    met: over.length ? shed >= 0.9 * failed : null,
  });
  return out;
}

export interface Calibration {
  /** SIPp↔SIPp: highest clean rung, and whether a higher rung failed (a ceiling, not a floor). */
  sippClean: number | null;
  sippCeilingFound: boolean;
  /** Kamailio's CPU per call at its lowest rung. */
  kamailioCpu: number | null;
  kamailioRate: number | null;
  /** How many times slower than the reference box, by each reference (null: not measured). */
  slowerBySipp: number | null;
  slowerByKamailio: number | null;
}

/** How fast the box ran during this run, against the box of the reference figures. */
export function calibrate(steps: StepResult[]): Calibration {
  const sipp = steps.filter((s) => s.target === "sipp");
  const clean = sipp.filter((s) => s.clean).map((s) => s.rate);
  const sippClean = clean.length ? Math.max(...clean) : null;
  const sippCeilingFound = sippClean !== null && sipp.some((s) => s.rate > sippClean && !s.clean);
  const kam = steps.filter((s) => s.target === "kamailio" && s.cpuMsPerCall !== null)
    .sort((a, b) => a.rate - b.rate)[0];
  return {
    sippClean,
    sippCeilingFound,
    kamailioCpu: kam?.cpuMsPerCall ?? null,
    kamailioRate: kam?.rate ?? null,
    slowerBySipp: sippClean && sippCeilingFound ? REFERENCE.sippCleanRate / sippClean : null,
    slowerByKamailio: kam ? kam.cpuMsPerCall! / REFERENCE.kamailioCpuMsPerCall : null,
  };
}

/** Markdown lines for the calibration (empty when neither reference ran). */
export function calibrationLines(c: Calibration): string[] {
  const lines: string[] = [];
  if (c.sippClean !== null) {
    lines.push(
      `- SIPp↔SIPp clean to ${c.sippClean}/s` +
        (c.sippCeilingFound
          ? ` (the next rung was not clean): the reference box held ${REFERENCE.sippCleanRate}/s, ` +
            `${fmt(c.slowerBySipp!, 1)}× this run's ceiling.`
          : `, the highest rung tried: no ceiling found, no factor.`),
    );
  }
  if (c.kamailioCpu !== null) {
    lines.push(
      `- Kamailio spent ${fmt(c.kamailioCpu)} ms of CPU per call at ${c.kamailioRate}/s; the ` +
        `reference figure is about ${REFERENCE.kamailioCpuMsPerCall} ms: ` +
        `${fmt(c.slowerByKamailio!, 1)}× slower here.`,
    );
  }
  return lines;
}

export interface CpuBudget {
  /** Tandem's highest 100 %-ok rung with both CPU readings. */
  rate: number;
  tandemMs: number;
  /** Both SIPp processes' CPU per call at that rung. */
  sippMs: number;
  /** Calls/s the box's cores hold at that cost, with nothing else running and no queueing. */
  ceiling: number;
  /** What the target rate leaves Tandem per call once the SIPps are paid (may be negative). */
  tandemRoomMs: number;
  /** Calls/s that keep Tandem's JavaScript thread busy all the time (null: not measured). */
  threadCeiling: number | null;
}

/**
 * The rate target as a CPU budget: Tandem and the two SIPps share the box's cores, so at the
 * target rate Tandem can spend at most (cores / rate − SIPps' cost) per call. Taken at Tandem's
 * highest 100 %-ok rung, where SIPp's cost per call is read under the same load.
 */
export function cpuBudget(
  steps: StepResult[],
  cores: number,
  target = "tandem-bun",
): CpuBudget | null {
  const ok = steps.filter((s) =>
    s.target === target && s.allSucceeded && s.cpuMsPerCall !== null && s.offeredRate > 0 &&
    s.sippCpuPctCore > 0
  ).sort((a, b) => a.rate - b.rate);
  const s = ok[ok.length - 1];
  if (!s || !(cores > 0)) return null;
  const sippMs = (s.sippCpuPctCore * 10) / s.offeredRate;
  return {
    rate: s.rate,
    tandemMs: s.cpuMsPerCall!,
    sippMs,
    ceiling: Math.floor((cores * 1000) / (s.cpuMsPerCall! + sippMs)),
    tandemRoomMs: (cores * 1000) / TARGETS.rate - sippMs,
    threadCeiling: s.mainThreadMsPerCall ? Math.floor(1000 / s.mainThreadMsPerCall) : null,
  };
}

/** Markdown lines for the budget (empty when it could not be taken). */
export function budgetLines(b: CpuBudget | null, cores: number): string[] {
  if (!b) return [];
  return [
    `- At ${b.rate}/s Tandem spent ${fmt(b.tandemMs)} ms of CPU per call and both SIPps ` +
    `${fmt(b.sippMs)} ms: ${cores} cores hold at most ${b.ceiling.toLocaleString("en")} calls/s ` +
    `at that cost, with no room for queueing. At ${TARGETS.rate.toLocaleString("en")}/s the ` +
    `SIPps leave Tandem ${fmt(b.tandemRoomMs)} ms per call.` +
    (b.threadCeiling === null ? "" : ` Its JavaScript thread alone is busy all the time at ` +
      `${b.threadCeiling.toLocaleString("en")} calls/s.`),
  ];
}

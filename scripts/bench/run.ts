// One load step (a call rate held for N seconds) and one memory level (N calls held at once),
// measured on whatever target is running.

import {
  type Child,
  groupCpuSeconds,
  groupRssBytes,
  machineCpu,
  sleep,
  threadCpuSeconds,
  udpBound,
  waitFor,
} from "./proc.ts";
import {
  errorSample,
  type Latency,
  readRtt,
  readStats,
  type SippStats,
  startUac,
  startUas,
  UAC_PORT,
  UAS_PORT,
} from "./sipp.ts";
import { tandemMetrics, tandemShed, type Target } from "./targets.ts";

export interface StepResult {
  target: string;
  rate: number;
  seconds: number;
  planned: number;
  attempted: number;
  succeeded: number;
  failed: number;
  retransUac: number;
  retransUas: number;
  failedUas: number;
  /** Of the failed calls, those Tandem refused with 503 because it was saturated (load shed). */
  shed: number;
  /** Calls attempted per second of the caller's run (lower than `rate` when SIPp throttles). */
  offeredRate: number;
  /** CPU seconds of the target's process group over the step. */
  cpuS: number | null;
  cpuMsPerCall: number | null;
  /**
   * Tandem (one worker) only: CPU ms per call of its JavaScript thread (the process's first
   * thread), and of its other threads summed by name (collector, compiler, I/O pools). Threads
   * that end during the step are missed, which undercounts only short-lived helpers.
   */
  mainThreadMsPerCall?: number | null;
  otherThreadsMsPerCall?: Record<string, number> | null;
  /** Target CPU as % of one core over the step. */
  cpuPctCore: number | null;
  rssMB: number | null;
  rssMaxMB: number | null;
  /** Both SIPp processes' CPU, % of one core. */
  sippCpuPctCore: number;
  /** Whole machine busy, % of all cores. */
  machineBusyPct: number;
  latencyMs: Latency | null;
  aborted: string | null;
  clean: boolean;
  allSucceeded: boolean;
  errors: string[];
}

const HOLD_MS = 1000;
const RECV_TIMEOUT_MS = 5000;

async function freePorts(): Promise<void> {
  await waitFor(() => !udpBound(UAS_PORT) && !udpBound(UAC_PORT), 5000);
  if (udpBound(UAS_PORT) || udpBound(UAC_PORT)) {
    throw new Error(`UDP ${UAS_PORT} or ${UAC_PORT} still taken: another SIPp is using them?`);
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024 * 10) / 10;
}

export interface StepOptions {
  dir: string;
  uacXml: string;
  uasXml: string;
  rate: number;
  seconds: number;
  log: (line: string) => void;
}

type ThreadCpu = ReturnType<typeof threadCpuSeconds>;

/** CPU per call of the process's first thread and of the others by name, between two readings. */
function threadSplit(
  pid: number | undefined,
  before: ThreadCpu | undefined,
  after: ThreadCpu | undefined,
  calls: number,
): Pick<StepResult, "mainThreadMsPerCall" | "otherThreadsMsPerCall"> {
  if (pid === undefined || !before || !after || calls === 0) return {};
  const perCall = (s: number) => Math.round((s * 1e6) / calls) / 1000;
  let main = 0;
  const others: Record<string, number> = {};
  for (const [tid, t] of after) {
    const d = t.s - (before.get(tid)?.s ?? 0); // a thread started during the step counts from 0
    if (tid === pid) main = d;
    else if (d > 0) others[t.comm] = (others[t.comm] ?? 0) + d;
  }
  for (const k of Object.keys(others)) others[k] = perCall(others[k]);
  return { mainThreadMsPerCall: perCall(main), otherThreadsMsPerCall: others };
}

/** The caller of a step: `rate` calls/s of 1 s calls for `seconds`, through `t`. */
export function startStepCaller(
  t: Target,
  o: { dir: string; uacXml: string; rate: number; seconds: number },
): Child {
  return startUac(o.dir, o.uacXml, {
    target: t.address,
    rate: o.rate,
    calls: o.rate * o.seconds,
    holdMs: HOLD_MS,
    // Room for a backlog, so an overloaded target shows as failures and latency, not as SIPp
    // quietly offering fewer calls.
    limit: o.rate * 10,
    recvTimeoutMs: RECV_TIMEOUT_MS,
  });
}

/** Offer `rate` calls/s of 1 s calls for `seconds` through `t`; stop early past the knee. */
export async function runStep(t: Target, o: StepOptions): Promise<StepResult> {
  await Deno.mkdir(o.dir, { recursive: true });
  await freePorts();
  const planned = o.rate * o.seconds;
  const uas = startUas(o.dir, o.uasXml);
  if (!(await waitFor(() => uas.exited || udpBound(UAS_PORT), 5000)) || uas.exited) {
    throw new Error(`SIPp callee did not start: ${errorSample(`${o.dir}/uas.out`).join(" | ")}`);
  }
  const pgid = t.child?.pid;
  const isTandem = t.name.startsWith("tandem");
  const shed0 = isTandem ? (await tandemShed()) ?? 0 : 0;
  let shed = 0;
  const cpu0 = pgid ? groupCpuSeconds(pgid) : 0;
  const perThread = isTandem && pgid !== undefined && t.workers === 1;
  const threads0 = perThread ? threadCpuSeconds(pgid!) : undefined;
  const m0 = machineCpu();
  const t0 = performance.now();
  const uac = startStepCaller(t, o);
  const sippCpu0 = groupCpuSeconds(uas.pid) + groupCpuSeconds(uac.pid);
  let rssMax = 0;
  let aborted: string | null = null;
  const deadline = t0 + (o.seconds * 1000 + HOLD_MS + RECV_TIMEOUT_MS + 10_000);
  let sippCpu = 0;
  while (!uac.exited) {
    await Promise.race([uac.status, sleep(1000)]);
    if (pgid) rssMax = Math.max(rssMax, groupRssBytes(pgid));
    if (!uac.exited) sippCpu = groupCpuSeconds(uas.pid) + groupCpuSeconds(uac.pid) - sippCpu0;
    const s = readStats(`${o.dir}/uac.csv`);
    const elapsed = (performance.now() - t0) / 1000;
    const shedNow = isTandem ? await tandemShed() : undefined;
    if (shedNow !== undefined) shed = Math.max(shed, shedNow - shed0);
    if (s) {
      o.log(
        progress(
          t.name,
          o.rate,
          elapsed,
          s,
          pgid ? (groupCpuSeconds(pgid) - cpu0) / elapsed : null,
        ) + (shed ? `  shed ${shed}` : ""),
      );
      // Calls refused with 503 (load shedding) fail in SIPp too, but are the behaviour wanted
      // past the knee: only other failures stop the step.
      const unshed = s.failed - shed;
      if (!aborted && unshed > Math.max(20, 0.02 * s.outgoing)) {
        aborted = `failures piling up (${unshed} of ${s.outgoing}, not counting ${shed} shed)`;
      } else if (!aborted && s.current > o.rate * (HOLD_MS / 1000 + 4)) {
        aborted = `calls backing up (${s.current} open at ${o.rate}/s)`;
      }
    }
    if (aborted && !uac.exited) {
      o.log(`  ${t.name} ${o.rate}/s: stopping early: ${aborted}`);
      await uac.stop("SIGUSR1", 2000);
    }
    if (performance.now() > deadline && !uac.exited) {
      aborted = aborted ?? "step time limit";
      await uac.stop("SIGKILL", 500);
    }
  }
  const wall = (performance.now() - t0) / 1000;
  const cpuS = pgid ? groupCpuSeconds(pgid) - cpu0 : null;
  const threads1 = perThread ? threadCpuSeconds(pgid!) : undefined;
  const m1 = machineCpu();
  await sleep(1300); // the callee's next per-second stats line
  sippCpu = Math.max(sippCpu, groupCpuSeconds(uas.pid) - sippCpu0);
  await uas.stop("SIGKILL", 500);
  await uac.stop("SIGKILL", 500);
  const c: SippStats | undefined = readStats(`${o.dir}/uac.csv`);
  const s: SippStats | undefined = readStats(`${o.dir}/uas.csv`);
  const rss = pgid ? groupRssBytes(pgid) : 0;
  const shedEnd = isTandem ? await tandemShed() : undefined;
  if (shedEnd !== undefined) shed = Math.max(shed, shedEnd - shed0);
  const attempted = c?.outgoing ?? 0;
  const res: StepResult = {
    target: t.name,
    rate: o.rate,
    seconds: o.seconds,
    planned,
    attempted,
    succeeded: c?.successful ?? 0,
    failed: c?.failed ?? 0,
    retransUac: c?.retransmissions ?? 0,
    retransUas: s?.retransmissions ?? 0,
    failedUas: s?.failed ?? 0,
    shed,
    offeredRate: c && c.elapsedS > 0
      ? Math.round(attempted / Math.max(1, c.elapsedS - HOLD_MS / 1000))
      : 0,
    cpuS: cpuS === null ? null : Math.round(cpuS * 100) / 100,
    cpuMsPerCall: cpuS === null || attempted === 0
      ? null
      : Math.round((cpuS * 1e6) / attempted) / 1000,
    cpuPctCore: cpuS === null ? null : Math.round((cpuS / wall) * 1000) / 10,
    ...threadSplit(pgid, threads0, threads1, attempted),
    rssMB: pgid ? mb(rss) : null,
    rssMaxMB: pgid ? mb(Math.max(rss, rssMax)) : null,
    sippCpuPctCore: Math.round((sippCpu / wall) * 1000) / 10,
    machineBusyPct: Math.round(((m1.busy - m0.busy) / Math.max(0.01, m1.total - m0.total)) * 1000) /
      10,
    latencyMs: readRtt(o.dir, "uac_rr_") ?? null,
    aborted,
    clean: false,
    allSucceeded: false,
    errors: [...errorSample(`${o.dir}/uac_err.log`, 4), ...errorSample(`${o.dir}/uas_err.log`, 4)],
  };
  res.allSucceeded = !aborted && attempted >= planned && res.succeeded === planned &&
    res.failed === 0 &&
    res.failedUas === 0;
  res.clean = res.allSucceeded && res.retransUac === 0 && res.retransUas === 0;
  return res;
}

function progress(name: string, rate: number, t: number, s: SippStats, cpu: number | null): string {
  return `  ${name} ${rate}/s  t=${t.toFixed(0)}s  calls ${s.outgoing}  ok ${s.successful}  ` +
    `failed ${s.failed}  retrans ${s.retransmissions}  open ${s.current}` +
    (cpu === null ? "" : `  cpu ${(cpu * 100).toFixed(0)}%`);
}

/** Seconds past the peak for the settled reading: Timer L and M (64·T1 = 32 s) plus margin. */
export const SETTLE_S = 35;

export interface MemoryResult {
  target: string;
  calls: number;
  rate: number;
  holdS: number;
  peakActive: number;
  baseRssMB: number;
  peakRssMB: number;
  afterRssMB: number;
  baseHeapMB: number;
  peakHeapMB: number;
  afterHeapMB: number;
  rssPerCallKB: number | null;
  heapPerCallKB: number | null;
  /** Still all held, 35 s after the peak: the set-up transactions (Timers L, M: 32 s) are gone. */
  settledRssMB: number | null;
  settledHeapMB: number | null;
  settledRssPerCallKB: number | null;
  settledHeapPerCallKB: number | null;
  setupS: number | null;
  teardownS: number | null;
  cpuMsPerCall: number | null;
  succeeded: number;
  failed: number;
  retransUac: number;
  retransUas: number;
  note: string | null;
}

/**
 * Hold `calls` calls at once through Tandem (set up at `rate`/s); read /metrics at the peak and
 * again once the peak has lasted {@link SETTLE_S} s.
 */
export async function runMemory(
  t: Target,
  o: {
    dir: string;
    uacXml: string;
    uasXml: string;
    calls: number;
    rate: number;
    log: (s: string) => void;
  },
): Promise<MemoryResult> {
  await Deno.mkdir(o.dir, { recursive: true });
  await freePorts();
  const pgid = t.child!.pid;
  await sleep(1000);
  const base = await tandemMetrics();
  const setupPlanS = o.calls / o.rate;
  // Every call stays up long enough after the last set-up for the settled reading.
  const holdMs = Math.ceil(setupPlanS * 1.25 + SETTLE_S + 8) * 1000;
  const uas = startUas(o.dir, o.uasXml);
  await waitFor(() => uas.exited || udpBound(UAS_PORT), 5000);
  const cpu0 = groupCpuSeconds(pgid);
  const t0 = performance.now();
  const uac: Child = startUac(o.dir, o.uacXml, {
    target: t.address,
    rate: o.rate,
    calls: o.calls,
    holdMs,
    limit: o.calls,
    recvTimeoutMs: 30_000,
  });
  let peak = { active: 0, rss: 0, heap: 0, at: 0 };
  let settled: { active: number; rss: number; heap: number } | undefined;
  let lastAtPeak = 0;
  let zeroAt = 0;
  let lastLog = 0;
  const deadline = t0 + (2 * setupPlanS * 1000 + holdMs) * 1.5 + 60_000;
  let note: string | null = null;
  while (performance.now() < deadline) {
    await sleep(250);
    let m: Record<string, number>;
    try {
      m = await tandemMetrics();
    } catch (e) {
      note = `metrics unreachable: ${(e as Error).message}`;
      break;
    }
    const now = (performance.now() - t0) / 1000;
    const active = m.tandem_calls_active ?? 0;
    if (active > peak.active) {
      peak = {
        active,
        rss: m.tandem_process_resident_memory_bytes,
        heap: m.tandem_heap_used_bytes,
        at: now,
      };
    }
    if (peak.active > 0 && active >= peak.active * 0.995) {
      lastAtPeak = now;
      if (!settled && now - peak.at >= SETTLE_S) {
        settled = {
          active,
          rss: m.tandem_process_resident_memory_bytes,
          heap: m.tandem_heap_used_bytes,
        };
        o.log(
          `  ${t.name} hold ${o.calls}: settled: active ${active}  rss ${
            mb(settled.rss)
          } MB  heap ${mb(settled.heap)} MB`,
        );
      }
    }
    if (now - lastLog >= 2) {
      lastLog = now;
      o.log(
        `  ${t.name} hold ${o.calls}: t=${now.toFixed(0)}s active ${active}  rss ${
          mb(m.tandem_process_resident_memory_bytes)
        } MB  heap ${mb(m.tandem_heap_used_bytes)} MB`,
      );
    }
    if (peak.active > 0 && active === 0 && uac.exited) {
      zeroAt = now;
      break;
    }
    if (uac.exited && active === 0 && peak.active === 0) {
      note = "no call ever became active";
      break;
    }
  }
  if (!zeroAt && !note) note = "time limit before every call ended";
  const cpuS = groupCpuSeconds(pgid) - cpu0;
  await uac.stop("SIGUSR1", 2000);
  await sleep(1300);
  await uas.stop("SIGKILL", 500);
  await sleep(2000);
  let after: Record<string, number> = {};
  try {
    after = await tandemMetrics();
  } catch {
    // reported as 0
  }
  const c = readStats(`${o.dir}/uac.csv`);
  const s = readStats(`${o.dir}/uas.csv`);
  const perKB = (v: number, baseV: number, active = peak.active) =>
    active > 0 ? Math.round(((v - baseV) / active / 1024) * 100) / 100 : null;
  // The moment the peak was first reached ends setup; the last moment near it starts teardown.
  const firstNearPeak = peak.at;
  return {
    target: t.name,
    calls: o.calls,
    rate: o.rate,
    holdS: holdMs / 1000,
    peakActive: peak.active,
    baseRssMB: mb(base.tandem_process_resident_memory_bytes),
    peakRssMB: mb(peak.rss),
    afterRssMB: mb(after.tandem_process_resident_memory_bytes ?? 0),
    baseHeapMB: mb(base.tandem_heap_used_bytes),
    peakHeapMB: mb(peak.heap),
    afterHeapMB: mb(after.tandem_heap_used_bytes ?? 0),
    rssPerCallKB: perKB(peak.rss, base.tandem_process_resident_memory_bytes),
    heapPerCallKB: perKB(peak.heap, base.tandem_heap_used_bytes),
    settledRssMB: settled ? mb(settled.rss) : null,
    settledHeapMB: settled ? mb(settled.heap) : null,
    settledRssPerCallKB: settled
      ? perKB(settled.rss, base.tandem_process_resident_memory_bytes, settled.active)
      : null,
    settledHeapPerCallKB: settled
      ? perKB(settled.heap, base.tandem_heap_used_bytes, settled.active)
      : null,
    setupS: peak.active > 0 ? Math.round(firstNearPeak * 10) / 10 : null,
    teardownS: zeroAt ? Math.round((zeroAt - lastAtPeak) * 10) / 10 : null,
    cpuMsPerCall: c && c.outgoing > 0 ? Math.round((cpuS * 1e6) / c.outgoing) / 1000 : null,
    succeeded: c?.successful ?? 0,
    failed: c?.failed ?? 0,
    retransUac: c?.retransmissions ?? 0,
    retransUas: s?.retransmissions ?? 0,
    note,
  };
}

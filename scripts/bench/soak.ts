// The soak: a steady call rate for minutes through one Tandem process, then a quiet spell longer
// than every SIP timer, and the question whether Tandem went back to what it held before
// (scripts/bench/leak.ts judges). The heap is read right after POST /gc, so it is the live data
// and not whatever garbage the collector had not reached yet.
//
// "Before" is not the fresh process: a short sizing round at the same rate comes first. Maps and
// arrays keep the capacity the peak made them grow to (200,000 lingering transactions at 2,000
// calls/s), which is memory held but not a leak; after the sizing round they are at that size,
// and a leak is what the long round adds on top.

import { judgeSoak, type LeakVerdict, type RestReading, sumSeries } from "./leak.ts";
import { groupCpuSeconds, groupRssBytes, sleep, udpBound, waitFor } from "./proc.ts";
import { startStepCaller } from "./run.ts";
import { errorSample, readStats, startUas, UAC_PORT, UAS_PORT } from "./sipp.ts";
import { TANDEM_HTTP, tandemShed, type Target } from "./targets.ts";

/**
 * The quiet spell: longer than the longest chain of SIP timers a call can leave behind (a 2xx the
 * caller never ACKs, 32 s until Timer L, then the BYE ending the call unanswered, 32 s until
 * Timer F) and than one turn of the timer wheel (41 s).
 */
export const QUIET_S = 70;
/** The sizing round: past 32 s the lingering transactions are at their steady number. */
export const SIZING_S = 60;
const SAMPLE_S = 10;

export interface SoakSample {
  /** Seconds since the caller started. */
  t: number;
  attempted: number;
  succeeded: number;
  failed: number;
  calls: number;
  transactions: number;
  legs: number;
  timers: number;
  /** Heap in use at the sample (live data and garbage not yet collected), MB. */
  heapMB: number;
  rssMB: number;
}

/** The caller's counts over a round (SIPp's), and Tandem's 503s. */
interface CallCounts {
  attempted: number;
  succeeded: number;
  failed: number;
  shed: number;
  retransUac: number;
  retransUas: number;
}

export interface SoakResult extends CallCounts {
  target: string;
  rate: number;
  seconds: number;
  planned: number;
  cpuMsPerCall: number | null;
  /** The fresh process, after its warm-up. */
  fresh: RestReading;
  /** After the sizing round: the baseline the verdict compares with. */
  before: RestReading;
  after: RestReading;
  sizingSeconds: number;
  /** Time the SIP thread was held by the full collection after the soak, ms. */
  gcMs: number;
  peakRssMB: number;
  samples: SoakSample[];
  verdict: LeakVerdict;
  errors: string[];
}

const mb = (b: number) => Math.round(b / 1024 / 1024 * 10) / 10;

async function metricsNow(): Promise<Record<string, number>> {
  const r = await fetch(`${TANDEM_HTTP}/metrics`, { signal: AbortSignal.timeout(5000) });
  return sumSeries(await r.text());
}

/** Wait out the quiet spell, then collect and read Tandem at rest. */
async function atRest(
  log: (s: string) => void,
  what: string,
): Promise<{ reading: RestReading; gcMs: number }> {
  log(`  soak: quiet ${QUIET_S} s (${what})`);
  await sleep(QUIET_S * 1000);
  const r = await fetch(`${TANDEM_HTTP}/gc`, { method: "POST" });
  const gc = await r.json();
  if (r.status !== 200) throw new Error(`POST /gc: ${r.status} ${gc.error ?? ""}`);
  const m = await metricsNow();
  const reading: RestReading = {
    calls: m.tandem_calls_active ?? 0,
    transactions: m.tandem_transactions_active ?? 0,
    legs: m.tandem_leg_index_entries ?? 0,
    timers: m.tandem_timers_pending ?? 0,
    heapBytes: gc.heapAfterBytes,
    objects: gc.objects,
    rssBytes: m.tandem_process_resident_memory_bytes ?? 0,
  };
  log(
    `  soak: at rest ${what}: calls ${reading.calls}, transactions ${reading.transactions}, ` +
      `legs ${reading.legs}, timers ${reading.timers}, live heap ${mb(reading.heapBytes)} MB ` +
      (reading.objects === undefined ? "" : `(${reading.objects} objects) `) +
      `(collection ${gc.ms} ms), RSS ${mb(reading.rssBytes)} MB`,
  );
  return { reading, gcMs: gc.ms };
}

interface Round extends CallCounts {
  cpuS: number;
  peakRss: number;
  samples: SoakSample[];
  errors: string[];
}

interface SoakOptions {
  dir: string;
  uacXml: string;
  uasXml: string;
  rate: number;
  seconds: number;
  log: (s: string) => void;
}

/** `rate` calls/s of 1 s calls for `seconds` through `t`, sampled every {@link SAMPLE_S} s. */
async function round(t: Target, o: SoakOptions): Promise<Round> {
  await Deno.mkdir(o.dir, { recursive: true });
  const pgid = t.child!.pid;
  await waitFor(() => !udpBound(UAS_PORT) && !udpBound(UAC_PORT), 5000);
  const uas = startUas(o.dir, o.uasXml);
  await waitFor(() => uas.exited || udpBound(UAS_PORT), 5000);
  const shed0 = (await tandemShed()) ?? 0;
  const cpu0 = groupCpuSeconds(pgid);
  const t0 = performance.now();
  const uac = startStepCaller(t, o);
  const samples: SoakSample[] = [];
  let peakRss = 0;
  let lastSample = -SAMPLE_S;
  const deadline = t0 + (o.seconds + 60) * 1000;
  while (!uac.exited && performance.now() < deadline) {
    await Promise.race([uac.status, sleep(1000)]);
    peakRss = Math.max(peakRss, groupRssBytes(pgid));
    const now = (performance.now() - t0) / 1000;
    if (now - lastSample < SAMPLE_S) continue;
    lastSample = now;
    const s = readStats(`${o.dir}/uac.csv`);
    let m: Record<string, number> = {};
    try {
      m = await metricsNow();
    } catch {
      // a busy moment: this sample goes without Tandem's side
    }
    const sample: SoakSample = {
      t: Math.round(now),
      attempted: s?.outgoing ?? 0,
      succeeded: s?.successful ?? 0,
      failed: s?.failed ?? 0,
      calls: m.tandem_calls_active ?? NaN,
      transactions: m.tandem_transactions_active ?? NaN,
      legs: m.tandem_leg_index_entries ?? NaN,
      timers: m.tandem_timers_pending ?? NaN,
      heapMB: mb(m.tandem_heap_used_bytes ?? NaN),
      rssMB: mb(m.tandem_process_resident_memory_bytes ?? NaN),
    };
    samples.push(sample);
    o.log(
      `  soak ${o.rate}/s t=${sample.t}s  calls ${sample.attempted}  ok ${sample.succeeded}  ` +
        `failed ${sample.failed}  active ${sample.calls}  transactions ${sample.transactions}  ` +
        `legs ${sample.legs}  timers ${sample.timers}  heap ${sample.heapMB} MB  ` +
        `rss ${sample.rssMB} MB`,
    );
  }
  if (!uac.exited) await uac.stop("SIGUSR1", 2000);
  const cpuS = groupCpuSeconds(pgid) - cpu0;
  await sleep(1300);
  await uas.stop("SIGKILL", 500);
  await uac.stop("SIGKILL", 500);
  const c = readStats(`${o.dir}/uac.csv`);
  const s = readStats(`${o.dir}/uas.csv`);
  return {
    attempted: c?.outgoing ?? 0,
    succeeded: c?.successful ?? 0,
    failed: c?.failed ?? 0,
    shed: ((await tandemShed()) ?? shed0) - shed0,
    retransUac: c?.retransmissions ?? 0,
    retransUas: s?.retransmissions ?? 0,
    cpuS,
    peakRss,
    samples,
    errors: [...errorSample(`${o.dir}/uac_err.log`, 4), ...errorSample(`${o.dir}/uas_err.log`, 4)],
  };
}

/**
 * The fresh process at rest, a sizing round of min({@link SIZING_S}, seconds) at `rate`, rest,
 * the soak round of `seconds`, rest; judged on the last two rest readings.
 */
export async function runSoak(t: Target, o: SoakOptions): Promise<SoakResult> {
  const { reading: fresh } = await atRest(o.log, "fresh");
  const sizingSeconds = Math.min(SIZING_S, o.seconds);
  o.log(`  soak: sizing round, ${o.rate}/s for ${sizingSeconds} s`);
  const sizing = await round(t, { ...o, dir: `${o.dir}/sizing`, seconds: sizingSeconds });
  const { reading: before } = await atRest(o.log, "before (after the sizing round)");
  o.log(`  soak: ${o.rate}/s for ${o.seconds} s`);
  const r = await round(t, { ...o, dir: `${o.dir}/soak` });
  const { reading: after, gcMs } = await atRest(o.log, "after");
  return {
    target: t.name,
    rate: o.rate,
    seconds: o.seconds,
    planned: o.rate * o.seconds,
    attempted: r.attempted,
    succeeded: r.succeeded,
    failed: r.failed,
    shed: r.shed,
    retransUac: r.retransUac,
    retransUas: r.retransUas,
    cpuMsPerCall: r.attempted > 0 ? Math.round(r.cpuS * 1e6 / r.attempted) / 1000 : null,
    fresh,
    before,
    after,
    sizingSeconds,
    gcMs,
    peakRssMB: mb(Math.max(r.peakRss, sizing.peakRss)),
    samples: r.samples,
    verdict: judgeSoak(before, after, r.attempted),
    errors: [...sizing.errors, ...r.errors],
  };
}

// The soak's verdict (scripts/bench/soak.ts): after a long run of calls and a quiet spell longer
// than every SIP timer, does Tandem hold what it held before? Pure, so the rule is tested
// (tests/scripts/leak_test.ts) apart from the minutes of load it judges.

/** Tandem at rest: its containers' sizes and, right after a full collection, its heap. */
export interface RestReading {
  /** tandem_calls_active */
  calls: number;
  /** tandem_transactions_active, all kinds */
  transactions: number;
  /** tandem_leg_index_entries */
  legs: number;
  /** tandem_timers_pending */
  timers: number;
  /** Heap in use after POST /gc (the live data), bytes. */
  heapBytes: number;
  /** Live objects after POST /gc, where the runtime counts them (Bun). */
  objects?: number;
  rssBytes: number;
}

export interface LeakVerdict {
  /** What the containers hold more than before (all 0 when nothing is left behind). */
  residue: { calls: number; transactions: number; legs: number; timers: number };
  heapGrowthBytes: number;
  /** Heap growth over the calls of the soak; the rate at which a leak would fill memory. */
  heapBytesPerCall: number | null;
  /** Live objects gained, where counted. */
  objectGrowth: number | null;
  rssGrowthBytes: number;
  leak: boolean;
  /** Why it is or is not judged a leak, in words for the report. */
  reason: string;
}

/**
 * Where objects are counted they decide, not bytes: maps and arrays keep the capacity a peak gave
 * them (a few MB at 2,000 calls/s), which the heap's bytes show and the count does not. Tolerated
 * whatever the call count: objects of code the optimizing compilers still produce, metric series
 * first seen during the soak.
 */
export const OBJECT_SLACK = 20_000;
/** Above the slack, one object kept per 100 calls is a leak. */
export const LEAK_OBJECTS_PER_CALL = 0.01;

/**
 * Without a count: heap growth tolerated whatever the call count: code the optimizing compilers still produce,
 * the collector's own tables, metric series first seen during the soak. Measured: a few MB.
 */
export const HEAP_SLACK_BYTES = 8 * 1024 * 1024;
/**
 * Above the slack, this much growth per call is a leak: 2 bytes a call is 350 MB a day at
 * 2,000 calls/s, an operator's restart every few days.
 */
export const LEAK_BYTES_PER_CALL = 2;

/** Judge a soak of `calls` calls from the rest readings before and after it. */
export function judgeSoak(before: RestReading, after: RestReading, calls: number): LeakVerdict {
  const residue = {
    calls: after.calls - before.calls,
    transactions: after.transactions - before.transactions,
    legs: after.legs - before.legs,
    timers: after.timers - before.timers,
  };
  const heapGrowthBytes = after.heapBytes - before.heapBytes;
  const heapBytesPerCall = calls > 0 ? Math.round(heapGrowthBytes / calls * 100) / 100 : null;
  const objectGrowth = before.objects !== undefined && after.objects !== undefined
    ? after.objects - before.objects
    : null;
  const left = Object.entries(residue).filter(([, v]) => v > 0).map(([k, v]) => `${v} ${k}`);
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
  const signedMb = (b: number) => `${b >= 0 ? "+" : ""}${mb(b)}`;
  let leak = false;
  let reason: string;
  if (left.length > 0) {
    leak = true;
    reason = `still held after the quiet spell: ${left.join(", ")}`;
  } else if (objectGrowth !== null) {
    const perCall = calls > 0 ? objectGrowth / calls : 0;
    leak = objectGrowth > OBJECT_SLACK && perCall > LEAK_OBJECTS_PER_CALL;
    reason = leak
      ? `${objectGrowth} more live objects (${perCall.toFixed(3)} per call)`
      : `containers back to their sizes; live objects ${objectGrowth >= 0 ? "+" : ""}` +
        `${objectGrowth} over ${calls} calls; heap ${signedMb(heapGrowthBytes)}`;
  } else if (
    heapGrowthBytes > HEAP_SLACK_BYTES &&
    calls > 0 && heapGrowthBytes / calls > LEAK_BYTES_PER_CALL
  ) {
    leak = true;
    reason = `live heap grew ${mb(heapGrowthBytes)} (${heapBytesPerCall} bytes per call)`;
  } else {
    reason = `containers back to their sizes; live heap ${signedMb(heapGrowthBytes)} over ` +
      `${calls} calls`;
  }
  return {
    residue,
    heapGrowthBytes,
    heapBytesPerCall,
    objectGrowth,
    rssGrowthBytes: after.rssBytes - before.rssBytes,
    leak,
    reason,
  };
}

/**
 * Sum every series of each metric in a Prometheus exposition (labels ignored): one number per
 * name, e.g. tandem_transactions_active over its four kinds and over SIP workers.
 */
export function sumSeries(exposition: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of exposition.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)$/.exec(line.trim());
    if (m) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

// When to refuse new calls: the share of new INVITEs answered 503 (with Retry-After) from what
// the process can see of its own load. Calls already up are never shed.

import { shedShare } from "../util/busy-meter.ts";

/** Event-loop lateness (ms, smoothed) above which new INVITEs are refused with 503. */
export const OVERLOAD_LAG_MS = 80;
/**
 * Share of one core used by the JavaScript thread (smoothed) from which a growing share of new
 * INVITEs is refused with 503, and at which all are: past it the receive queue grows and every
 * call already up slows down.
 */
export const OVERLOAD_BUSY_FROM = 0.85;
export const OVERLOAD_BUSY_ALL = 0.98;
/**
 * The same for the thread's demand (on a core or waiting for one; Linux): on a box whose other
 * cores are busy the thread runs at 0.8 while it never runs out of work. Higher than the CPU
 * share's: some wait is normal beside other busy processes. Measured on the bench box (`deno task
 * bench`, 2 cores shared with SIPp): demand 0.65-0.83 at 2,000/s, clean; 0.95-0.99 at 3,000/s,
 * where the CPU share stayed at 0.81-0.84 and calls failed by retransmission instead of 503.
 */
export const OVERLOAD_DEMAND_FROM = 0.9;
export const OVERLOAD_DEMAND_ALL = 0.99;
/**
 * Where the UDP receive queue can be timed (src/transport/queue-probe.ts), the thread's CPU share
 * and demand shed only while the queue stands at least this long (ms): a thread near its
 * threshold that still drains its queue is keeping up. On a box shared with other busy processes
 * the share a rate needs varies by tens of percent from minute to minute, and a peak of it (a
 * collection, a neighbour) shed calls while the queue drained in under a millisecond (the
 * twenty-fourth session, docs/benchmarks.md).
 */
export const OVERLOAD_QUEUE_GATE_MS = 2;
/**
 * And on its own, the standing delay of the queue: from this many ms a growing share of new
 * INVITEs is refused, at the second all are. Well under T1 (500 ms), since a call's INVITE and
 * its answer both wait in the queue before a caller's Timer A fires.
 */
export const OVERLOAD_QUEUE_FROM_MS = 30;
export const OVERLOAD_QUEUE_ALL_MS = 150;
/** Below this demand the queue's estimate is not used (see overloadShare). */
export const OVERLOAD_QUEUE_MIN_DEMAND = 0.5;

/**
 * The share of new INVITEs to refuse (0..1) at the JavaScript thread's smoothed CPU share and
 * demand (busy-meter.ts) and the UDP receive queue's standing delay in ms (queue-probe.ts;
 * undefined where no probe runs).
 */
export function overloadShare(busy: number, demand: number, queueMs: number | undefined): number {
  const cpu = Math.max(
    shedShare(busy, OVERLOAD_BUSY_FROM, OVERLOAD_BUSY_ALL),
    shedShare(demand, OVERLOAD_DEMAND_FROM, OVERLOAD_DEMAND_ALL),
  );
  // A mostly idle thread holds no queue up, whatever a probe says: a guard against a probe path
  // that stops delivering (a firewall rule on the listener's address).
  if (queueMs === undefined || demand < OVERLOAD_QUEUE_MIN_DEMAND) return cpu;
  if (queueMs < OVERLOAD_QUEUE_GATE_MS) return 0;
  return Math.max(cpu, shedShare(queueMs, OVERLOAD_QUEUE_FROM_MS, OVERLOAD_QUEUE_ALL_MS));
}

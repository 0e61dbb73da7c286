// How much of one core the JavaScript thread is using, from the runtime's per-thread CPU clock
// (process.threadCpuUsage: Bun and Deno; Node lacks it, and the meter then reads 0).
//
// Event-loop lag alone misses saturation: Bun reads a bounded batch of datagrams per loop turn,
// so under overload the turns stay short and timers stay nearly on time while the kernel's
// receive queue grows by seconds. The thread's CPU share shows it: it sits at 100 %.
//
// Unless the box itself is full: when the load generator, a neighbour or the collector's threads
// take the other cores, the thread gets 80 % of one and never reaches 100 %, while it has work
// all the time and its queue grows just the same. Linux tells that apart: schedstat counts the
// time a thread waited in the run queue for a core, and run + wait is the thread's demand.

import { readFileSync } from "node:fs";
import process from "node:process";

type ThreadCpu = (prev?: { user: number; system: number }) => { user: number; system: number };

/** Smoothed busy fraction (0..1) of the main thread, sampled every `periodMs`. */
export class BusyMeter {
  /** Smoothed fraction of wall time the thread spent on CPU (0 when unmeasurable). */
  fraction = 0;
  /**
   * Smoothed fraction of wall time the thread was on CPU or waiting for one: its demand. The same
   * as `fraction` where the wait cannot be read.
   */
  demand = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastCpu = 0;
  private lastWait = 0;
  private lastWall = 0;
  /** ms the thread has been on a core and ms it has waited for one (0 where unknown). */
  private readonly read: (() => [number, number]) | undefined;

  /**
   * @param cpu ms of CPU the thread has used (default: Linux schedstat, else
   *   process.threadCpuUsage)
   * @param wait ms the thread has waited for a core (default: Linux schedstat, else none)
   */
  constructor(private readonly periodMs = 200, cpu?: () => number, wait?: () => number) {
    const tcu = (process as unknown as { threadCpuUsage?: ThreadCpu }).threadCpuUsage;
    // One schedstat read per sample gives both clocks.
    this.read = cpu ? () => [cpu(), wait?.() ?? 0] : linuxSchedstat() ??
      (typeof tcu === "function"
        ? () => {
          const u = tcu.call(process);
          return [(u.user + u.system) / 1000, 0]; // µs → ms
        }
        : undefined);
  }

  /** Whether this runtime can measure the thread's CPU time. */
  get available(): boolean {
    return this.read !== undefined;
  }

  start(): void {
    if (!this.read || this.timer) return;
    [this.lastCpu, this.lastWait] = this.read();
    this.lastWall = performance.now();
    this.timer = setInterval(() => this.sample(), this.periodMs);
    // Never keep the process alive for this.
    (this.timer as unknown as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Take one sample now (the interval calls this; tests call it with their own clock). */
  sample(wallNow = performance.now()): void {
    if (!this.read) return;
    const [cpu, wait] = this.read();
    const dt = wallNow - this.lastWall;
    if (dt <= 0) return;
    const ran = cpu - this.lastCpu;
    const f = Math.min(1, Math.max(0, ran / dt));
    const d = Math.min(1, Math.max(0, (ran + wait - this.lastWait) / dt));
    this.lastCpu = cpu;
    this.lastWait = wait;
    this.lastWall = wallNow;
    // About five samples (1 s) to follow a change: one GC pause or JIT burst is not overload.
    this.fraction = this.fraction * 0.7 + f * 0.3;
    this.demand = this.demand * 0.7 + d * 0.3;
  }
}

/**
 * A reader of Linux's /proc/thread-self/schedstat for the calling thread: [ms on a core, ms
 * waiting in the run queue]; undefined where there is none.
 */
export function linuxSchedstat(): (() => [number, number]) | undefined {
  const read = (): [number, number] => {
    const f = readFileSync("/proc/thread-self/schedstat", "utf8").split(" ");
    return [Number(f[0]) / 1e6, Number(f[1]) / 1e6];
  };
  try {
    const [run, wait] = read();
    return Number.isFinite(run) && Number.isFinite(wait) ? read : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The share of new calls to refuse at a smoothed busy fraction: none up to `from`, all from
 * `all`, in proportion between. Refusing every new call for a whole sample as soon as a
 * threshold is crossed turns a brief peak into hundreds of 503s; a share that grows with the
 * excess keeps the accepted rate near what the thread can carry.
 */
export function shedShare(busy: number, from = 0.85, all = 0.98): number {
  if (busy <= from) return 0;
  if (busy >= all) return 1;
  return (busy - from) / (all - from);
}

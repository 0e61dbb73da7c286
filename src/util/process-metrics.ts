// Process gauges for /metrics and /health: event-loop lag, memory, CPU and uptime. node:process
// gives memoryUsage() and cpuUsage() with the same shape under Deno and Bun, so this needs no
// runtime adapter. Names follow Prometheus conventions (base units, `_total` on counters) so
// `promtool check metrics` passes.

import process from "node:process";
import { type Metric, metrics, type Registry } from "./metrics.ts";

/** Options of {@link registerProcessMetrics}. */
export interface ProcessMetricsOptions {
  /** How often the lag probe timer fires (ms). Default 500. */
  intervalMs?: number;
  /** The lag gauge reports the largest sample within this window (ms). Default 10000. */
  windowMs?: number;
}

/**
 * Process metrics registered on one registry. Memory, CPU and uptime are read at scrape time;
 * event-loop lag needs {@link ProcessMetrics.start} because it is sampled by a timer.
 */
export class ProcessMetrics {
  /** Latest event-loop lag sample in milliseconds (0 before the first sample). */
  lagMs = 0;
  private readonly intervalMs: number;
  private readonly windowMs: number;
  // Recent samples, oldest first; bounded by windowMs / intervalMs entries.
  private samples: { at: number; lagMs: number }[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly lag: Metric;

  constructor(registry: Registry, opts: ProcessMetricsOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 500;
    this.windowMs = opts.windowMs ?? 10_000;
    // The window maximum rather than the latest sample: with a 15 s scrape interval a 200 ms
    // stall would otherwise almost never be seen.
    this.lag = registry.gauge(
      "tandem_event_loop_lag_seconds",
      "Largest event-loop delay seen by a probe timer over the last few seconds, in seconds.",
    );
    const rss = registry.gauge(
      "tandem_process_resident_memory_bytes",
      "Resident set size of the Tandem process in bytes.",
    );
    const heap = registry.gauge(
      "tandem_heap_used_bytes",
      "JavaScript heap in use in bytes.",
    );
    const cpu = registry.counter(
      "tandem_process_cpu_seconds_total",
      "User and system CPU time spent by the Tandem process in seconds.",
    );
    const uptime = registry.gauge(
      "tandem_uptime_seconds",
      "Seconds since the Tandem process started.",
    );
    registry.onCollect(() => {
      const mem = process.memoryUsage();
      rss.set(mem.rss);
      heap.set(mem.heapUsed);
      const { user, system } = process.cpuUsage();
      cpu.set((user + system) / 1e6);
      uptime.set(process.uptime());
      this.lag.set(this.maxLagMs / 1000);
    });
  }

  /** Largest lag sample (ms) within the window; what /health and the gauge report. */
  get maxLagMs(): number {
    const cutoff = performance.now() - this.windowMs;
    let max = 0;
    for (const s of this.samples) if (s.at >= cutoff && s.lagMs > max) max = s.lagMs;
    return max;
  }

  /** Start sampling event-loop lag. Idempotent. The timer never keeps the process alive. */
  start(): void {
    if (this.timer !== undefined) return;
    let expected = performance.now() + this.intervalMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      // A timer cannot fire early, so any drift is time the loop was busy elsewhere.
      this.lagMs = Math.max(0, now - expected);
      expected = now + this.intervalMs;
      this.samples.push({ at: now, lagMs: this.lagMs });
      while (this.samples.length && this.samples[0].at < now - this.windowMs) this.samples.shift();
    }, this.intervalMs);
    unref(this.timer);
  }

  /** Stop sampling; the gauge keeps its last value. Idempotent. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

// Deno returns a number (unref through Deno.unrefTimer); Bun and Node return an object.
function unref(timer: ReturnType<typeof setInterval>): void {
  const t = timer as unknown;
  if (typeof t === "object" && t !== null && "unref" in t) {
    (t as { unref(): void }).unref();
  } else if (typeof t === "number") {
    const deno = (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno;
    deno?.unrefTimer(t);
  }
}

const registered = new WeakMap<Registry, ProcessMetrics>();

/**
 * Register the process metrics on `registry` (the process-wide one by default). Calling it again
 * for the same registry returns the same instance, so scrape hooks are never doubled.
 */
export function registerProcessMetrics(
  registry: Registry = metrics,
  opts: ProcessMetricsOptions = {},
): ProcessMetrics {
  let pm = registered.get(registry);
  if (!pm) registered.set(registry, pm = new ProcessMetrics(registry, opts));
  return pm;
}

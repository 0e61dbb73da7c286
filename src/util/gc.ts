// A full garbage collection on demand, for leak hunting: the heap read right after one is the
// live data, where a reading at any other moment also holds garbage not yet collected. Feature
// detection rather than a runtime adapter: Bun always has Bun.gc; Deno (V8) has globalThis.gc
// only when started with --v8-flags=--expose-gc.

import process from "node:process";

/** What one collection freed (this thread's heap only). */
export interface GcReport {
  heapBeforeBytes: number;
  heapAfterBytes: number;
  /** Wall time the collection held the thread, ms. */
  ms: number;
}

type GcHooks = { Bun?: { gc(force: boolean): void }; gc?: () => void };

/** The runtime's synchronous full collection, or undefined when it exposes none. */
export function fullCollector(g: GcHooks = globalThis as GcHooks): (() => void) | undefined {
  if (g.Bun && typeof g.Bun.gc === "function") return () => g.Bun!.gc(true);
  if (typeof g.gc === "function") return () => g.gc!();
  return undefined;
}

/** Collect now and report the heap before and after; undefined when the runtime cannot. */
export function collectGarbage(collect = fullCollector()): GcReport | undefined {
  if (!collect) return undefined;
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  collect();
  const ms = performance.now() - t0;
  return {
    heapBeforeBytes: before,
    heapAfterBytes: process.memoryUsage().heapUsed,
    ms: Math.round(ms * 10) / 10,
  };
}

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
  /**
   * Live objects after the collection (Bun: JavaScriptCore's census; absent under Deno). Unlike
   * the heap's bytes it does not include the capacity maps and arrays keep from a peak.
   */
  objects?: number;
}

type GcHooks = { Bun?: { gc(force: boolean): void }; gc?: () => void };

/** The runtime's synchronous full collection, or undefined when it exposes none. */
export function fullCollector(g: GcHooks = globalThis as GcHooks): (() => void) | undefined {
  if (g.Bun && typeof g.Bun.gc === "function") return () => g.Bun!.gc(true);
  if (typeof g.gc === "function") return () => g.gc!();
  return undefined;
}

/** Live objects on the heap where the runtime counts them (Bun), else undefined. */
export async function objectCount(g: GcHooks = globalThis as GcHooks): Promise<number | undefined> {
  if (!g.Bun) return undefined;
  const spec = "bun:jsc"; // not a literal, so Deno's type checker does not try to resolve it
  const jsc = await import(spec) as { heapStats(): { objectCount: number } };
  return jsc.heapStats().objectCount;
}

/** Collect now and report the heap before and after; undefined when the runtime cannot. */
export async function collectGarbage(
  collect = fullCollector(),
  count: () => Promise<number | undefined> = objectCount,
): Promise<GcReport | undefined> {
  if (!collect) return undefined;
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  collect();
  const ms = performance.now() - t0;
  const r: GcReport = {
    heapBeforeBytes: before,
    heapAfterBytes: process.memoryUsage().heapUsed,
    ms: Math.round(ms * 10) / 10,
  };
  const objects = await count();
  if (objects !== undefined) r.objects = objects;
  return r;
}

// Quality-based routing (a route's `quality`): the answer share (ASR) and post-dial delay (PDD)
// of each route's recent attempts, and whether they make it degraded. A degraded route is not
// skipped, only tried after the routes that are not: a carrier that answers few calls or
// answers late stops taking the first attempt of every call, and still takes calls when nothing
// better is left. What OpenSIPS's qrouting and carriers' softswitches do by ASR and PDD.
//
// Figures come from a sliding window of ten buckets per route; an attempt counts when it is
// settled (answered, or failed). A degraded route gets few first attempts, so its window
// empties and it comes back under `min_calls`: it is tried first again, and judged again.

import type { RouteConfig, RouteQualityConfig } from "../config/types.ts";

const BUCKETS = 10;

/** One bucket of a route's window: from `start` (monotonic ms) for window / BUCKETS. */
interface Bucket {
  start: number;
  calls: number;
  answered: number;
  pddSum: number;
  pddCount: number;
}

/** A route's figures over its window. */
export interface QualityFigures {
  calls: number;
  /** Answered share, 0..1 (0 with no calls). */
  asr: number;
  /** Mean post-dial delay in ms of the attempts that had one; undefined with none. */
  pddMs?: number;
  degraded: boolean;
}

/** How an attempt was settled, for its route's figures. */
export interface SettledAttempt {
  answered: boolean;
  /** From its INVITE to its first provisional (or its answer, or giving up waiting), ms. */
  pddMs?: number;
}

class RouteWindow {
  readonly buckets: Bucket[] = [];
  degraded = false;
  constructor(public settings: RouteQualityConfig) {}

  add(now: number, a: SettledAttempt): void {
    const span = this.settings.window / BUCKETS;
    let b = this.buckets.at(-1);
    if (!b || now >= b.start + span) {
      b = { start: now - (now % span), calls: 0, answered: 0, pddSum: 0, pddCount: 0 };
      this.buckets.push(b);
      if (this.buckets.length > BUCKETS + 1) this.buckets.shift();
    }
    b.calls++;
    if (a.answered) b.answered++;
    if (a.pddMs !== undefined) {
      b.pddSum += a.pddMs;
      b.pddCount++;
    }
  }

  figures(now: number): Omit<QualityFigures, "degraded"> {
    let calls = 0, answered = 0, pddSum = 0, pddCount = 0;
    const from = now - this.settings.window;
    for (const b of this.buckets) {
      if (b.start + this.settings.window / BUCKETS <= from) continue;
      calls += b.calls;
      answered += b.answered;
      pddSum += b.pddSum;
      pddCount += b.pddCount;
    }
    return {
      calls,
      asr: calls ? answered / calls : 0,
      ...(pddCount ? { pddMs: pddSum / pddCount } : {}),
    };
  }
}

/** Whether figures fall short of the settings. */
function fallsShort(f: Omit<QualityFigures, "degraded">, q: RouteQualityConfig): boolean {
  if (f.calls < q.minCalls) return false;
  if (q.minAsr !== undefined && f.asr < q.minAsr) return true;
  return q.maxPdd !== undefined && f.pddMs !== undefined && f.pddMs > q.maxPdd;
}

/** The figures of every route with `quality`, by route name (so they survive a reload). */
export class RouteQuality {
  private readonly windows = new Map<string, RouteWindow>();

  /**
   * @param onChange told when a route becomes degraded or recovers (logs and the gauge)
   */
  constructor(
    private readonly onChange: (route: string, f: QualityFigures) => void = () => {},
  ) {}

  /** Counts a settled attempt of `route` (one with `quality`; others are not counted). */
  record(route: RouteConfig, now: number, a: SettledAttempt): void {
    const q = route.quality;
    if (!q) return;
    let w = this.windows.get(route.name);
    if (!w) this.windows.set(route.name, w = new RouteWindow(q));
    if (w.settings !== q) w.settings = q; // a reload changed them: judged by the new ones
    w.add(now, a);
    this.judge(route.name, w, now);
  }

  /** The route's figures now; undefined for a route never counted. */
  figures(name: string, now: number): QualityFigures | undefined {
    const w = this.windows.get(name);
    if (!w) return undefined;
    this.judge(name, w, now);
    return { ...w.figures(now), degraded: w.degraded };
  }

  /**
   * `routes` with the degraded ones moved after the others, each group in its order; the same
   * array when none is degraded (the common case allocates nothing).
   */
  order<T extends RouteConfig>(routes: T[], now: number): T[] {
    let any = false;
    for (const r of routes) {
      if (r.quality && this.isDegraded(r.name, now)) {
        any = true;
        break;
      }
    }
    if (!any) return routes;
    const good: T[] = [], poor: T[] = [];
    for (const r of routes) (r.quality && this.isDegraded(r.name, now) ? poor : good).push(r);
    return [...good, ...poor];
  }

  private isDegraded(name: string, now: number): boolean {
    const w = this.windows.get(name);
    if (!w) return false;
    return this.judge(name, w, now);
  }

  private judge(name: string, w: RouteWindow, now: number): boolean {
    const f = w.figures(now);
    const degraded = fallsShort(f, w.settings);
    if (degraded !== w.degraded) {
      w.degraded = degraded;
      this.onChange(name, { ...f, degraded });
    }
    return degraded;
  }
}

// Call limits of rules (what a customer may send) and routes (what a trunk may carry): calls at
// once and new calls per second. A carrier counts a ringing call as a busy channel, so a route's
// count runs from its INVITE until the attempt fails, is given up, or its call ends.
//
// Counters are kept by name and outlive reloads: a call holds the counter it took, so a reload
// that changes a limit (or removes a rule) still releases into the right one, and the new limit
// applies to the next call.

import type { CallLimits } from "../config/types.ts";
import type { Clock } from "../util/clock.ts";
import { TokenBucket } from "../util/token-bucket.ts";

/** Why a new call or attempt was refused. */
export type LimitRefusal = "calls" | "cps";

/**
 * One rule's or route's use. `take` admits or refuses; every admitted use is released exactly
 * once (see {@link Slot}).
 */
export class Usage {
  /** Calls (rule) or attempts and answered calls (route) holding this counter now. */
  live = 0;
  /** New uses admitted since start, and refusals by reason (for /metrics). */
  admitted = 0;
  readonly refused = { calls: 0, cps: 0 };
  private limits: CallLimits = {};
  private perSecond: TokenBucket | undefined;

  constructor(limits: CallLimits) {
    this.setLimits(limits);
  }

  /** New limits (a reload): the count stays, and so does what the rate's bucket holds. */
  setLimits(limits: CallLimits): void {
    this.limits = limits;
    const cps = limits.maxCps;
    if (cps === undefined) this.perSecond = undefined;
    else if (this.perSecond) this.perSecond.setRate(cps);
    else this.perSecond = new TokenBucket(cps);
  }

  /**
   * Admit one new use, or say which limit refuses it; the clock is read only for a rate limit.
   * `always`: count it whatever the limits say (a call that takes another's place).
   */
  take(clock: Clock, always = false): Slot | LimitRefusal {
    if (!always) {
      const max = this.limits.maxCalls;
      if (max !== undefined && this.live >= max) {
        this.refused.calls++;
        return "calls";
      }
      if (this.perSecond && !this.perSecond.take(clock.now())) {
        this.refused.cps++;
        return "cps";
      }
    }
    this.live++;
    this.admitted++;
    return new Slot(this);
  }
}

/** One admitted use of a {@link Usage}; releasing it twice releases once. */
export class Slot {
  constructor(private usage: Usage | undefined) {}

  release(): void {
    if (this.usage) this.usage.live--;
    this.usage = undefined;
  }
}

/** Counters by name for rules and for routes. */
export class LimitTable {
  readonly rules = new Map<string, Usage>();
  readonly routes = new Map<string, Usage>();

  /**
   * Take the counters a configuration names: every rule, and every route of a rule (by route
   * name: routes of one name share one counter, as one trunk). Existing counters keep their
   * count and get the new limits; counters no longer named are dropped once idle.
   */
  configure(
    rules: readonly {
      name: string;
      limits?: CallLimits;
      routes: readonly { name: string; limits?: CallLimits }[];
    }[],
    /** Routes known by name only (top-level `routes`, which route tables name). */
    named: readonly { name: string; limits?: CallLimits }[] = [],
  ): void {
    const ruleNames = new Set<string>();
    const routeNames = new Set<string>();
    for (const rule of rules) {
      ruleNames.add(rule.name);
      upsert(this.rules, rule.name, rule.limits);
      for (const route of rule.routes) {
        routeNames.add(route.name);
        upsert(this.routes, route.name, route.limits);
      }
    }
    for (const route of named) {
      routeNames.add(route.name);
      upsert(this.routes, route.name, route.limits);
    }
    prune(this.rules, ruleNames);
    prune(this.routes, routeNames);
  }

  /** The counter of a configured rule, or undefined (a rule no configuration names). */
  rule(name: string): Usage | undefined {
    return this.rules.get(name);
  }

  /**
   * The counter of a configured route, or undefined: routes made up per call (a RADIUS target,
   * a Replaces peer) are neither limited nor counted, so their names never become labels.
   */
  route(name: string): Usage | undefined {
    return this.routes.get(name);
  }
}

const NONE: CallLimits = {};

function upsert(map: Map<string, Usage>, name: string, limits: CallLimits | undefined): void {
  const u = map.get(name);
  if (u) u.setLimits(limits ?? NONE);
  else map.set(name, new Usage(limits ?? NONE));
}

function prune(map: Map<string, Usage>, keep: Set<string>): void {
  for (const [name, u] of map) {
    if (!keep.has(name) && u.live === 0) map.delete(name);
  }
}

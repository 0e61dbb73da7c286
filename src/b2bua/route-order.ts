// The order a call tries its rule's routes in (`order` of a rule): as listed, rotated one
// further for each call (round-robin), or drawn by weight. Every order holds all the routes, so
// failover still reaches each of them; only which one is tried first changes from call to call.

import type { RouteConfig, RuleConfig } from "../config/types.ts";
import type { Random } from "../util/clock.ts";

export class RouteOrder {
  /** Round-robin: the next call's first route, per rule name (kept across reloads). */
  private turns = new Map<string, number>();

  /** The routes of `rule` in the order this call tries them; the rule's own array when listed. */
  next(rule: RuleConfig, random: Random): RouteConfig[] {
    const routes = rule.routes;
    if (rule.order === "listed" || routes.length < 2) return routes;
    if (rule.order === "weighted") return weightedOrder(routes, random);
    // Modulo the list as it is now: a reload may have shortened it.
    const k = (this.turns.get(rule.name) ?? 0) % routes.length;
    this.turns.set(rule.name, k + 1 === routes.length ? 0 : k + 1);
    return k === 0 ? routes : [...routes.slice(k), ...routes.slice(0, k)];
  }
}

/**
 * A random order in which each route comes first with odds proportional to its weight, and so
 * on for the routes left (drawn without replacement).
 */
export function weightedOrder<T extends { weight: number }>(
  items: readonly T[],
  random: Random,
): T[] {
  const left = [...items];
  let total = left.reduce((s, r) => s + r.weight, 0);
  const out: T[] = [];
  while (left.length > 0) {
    let draw = random() * total;
    let i = 0;
    for (; i < left.length - 1; i++) {
      draw -= left[i].weight;
      if (draw < 0) break;
    }
    total -= left[i].weight;
    out.push(left.splice(i, 1)[0]);
  }
  return out;
}

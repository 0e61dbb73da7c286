// What to do with a failed attempt: answer the challenge, try the next route, follow a redirect,
// or give the final answer to the caller. Pure, so every branch is unit-tested.

import type { RouteConfig } from "../config/types.ts";

/** The outcome of an attempt, as far as failover cares. */
export type AttemptFailure =
  | { kind: "response"; status: number }
  | { kind: "timeout" }
  | { kind: "transport-error" };

/** The decision taken on a failed attempt. */
export type FailoverDecision =
  | "authenticate" // answer 401/407 with the route's credentials and retry the same route
  | "follow-redirect" // try the 3xx Contact
  | "next-route" // fail over
  | "relay"; // give the caller this final answer (or our own for timeouts)

/** Decide, given the route, whether auth was already tried and whether another route exists. */
export function decideFailover(
  f: AttemptFailure,
  route: RouteConfig,
  authTried: boolean,
  hasNext: boolean,
): FailoverDecision {
  if (f.kind !== "response") {
    return route.failoverOnTimeout && hasNext ? "next-route" : "relay";
  }
  const s = f.status;
  if ((s === 401 || s === 407) && route.auth && !authTried) return "authenticate";
  if (s >= 300 && s < 400) return route.followRedirects ? "follow-redirect" : "relay";
  if (route.stopCodes.includes(s)) return "relay";
  return hasNext ? "next-route" : "relay";
}

// Time and randomness are injected so state machines can be stepped in tests without sleeping.

/** A source of monotonic milliseconds and of wall-clock time. */
export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  now(): number;
  /** Wall-clock milliseconds since the epoch (for CDRs and logs). */
  wallNow(): number;
}

/** Handle returned by a {@link Timers} scheduler; cancel is idempotent. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Receives the timers set with {@link Timers.setFor}. An object that arms timers over and over
 * (a transaction: Timers A/B, E/F, G/H...) answers them through one method instead of holding a
 * closure per timer, which for 100,000 lingering transactions is a few hundred thousand
 * functions and scopes fewer.
 */
export interface TimerTarget {
  onTimer(slot: number): void;
}

/** Schedules callbacks on the injected clock. */
export interface Timers {
  set(delayMs: number, fn: () => void): TimerHandle;
  /** Call `target.onTimer(slot)` after `delayMs`. */
  setFor(delayMs: number, target: TimerTarget, slot: number): TimerHandle;
}

/** Run what a timer entry holds: a callback, or a target and its slot. */
export function fireTimer(fn: (() => void) | TimerTarget, slot: number): void {
  if (typeof fn === "function") fn();
  else fn.onTimer(slot);
}

/** Source of randomness (tags, branches, Call-IDs, jitter). */
export type Random = () => number;

/** The real clock: performance.now() and Date.now(). */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

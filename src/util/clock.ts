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

/** Schedules callbacks on the injected clock. */
export interface Timers {
  set(delayMs: number, fn: () => void): TimerHandle;
}

/** Source of randomness (tags, branches, Call-IDs, jitter). */
export type Random = () => number;

/** The real clock: performance.now() and Date.now(). */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

// RFC 3261 §17: every transaction machine has at most one retransmission timer (A, E, G or the
// 2xx resend) and one lifetime timer (B, D, F, H, I, J, K, L, M) armed at a time. The two
// callbacks are allocated once per transaction and dispatch on its state.

import type { TimerHandle } from "../util/clock.ts";
import type { TxContext } from "./context.ts";

/** The two timer slots shared by client and server transactions. */
export abstract class TimerSlots {
  protected retransmitTimer: TimerHandle | undefined;
  protected lifetimeTimer: TimerHandle | undefined;
  /** Current retransmission interval. */
  protected interval = 0;

  protected readonly onRetransmitTimer = (): void => this.retransmitFired();
  protected readonly onLifetimeTimer = (): void => this.lifetimeFired();

  constructor(protected readonly ctx: TxContext) {}

  protected abstract retransmitFired(): void;
  protected abstract lifetimeFired(): void;

  /** Arm the retransmission timer for `ms`. */
  protected armRetransmit(ms: number): void {
    this.interval = ms;
    this.retransmitTimer = this.ctx.timers.set(ms, this.onRetransmitTimer);
  }

  /** Replace the lifetime timer. */
  protected armLifetime(ms: number): void {
    this.lifetimeTimer?.cancel();
    this.lifetimeTimer = this.ctx.timers.set(ms, this.onLifetimeTimer);
  }

  protected stopRetransmit(): void {
    this.retransmitTimer?.cancel();
    this.retransmitTimer = undefined;
  }

  protected stopTimers(): void {
    this.stopRetransmit();
    this.lifetimeTimer?.cancel();
    this.lifetimeTimer = undefined;
  }
}

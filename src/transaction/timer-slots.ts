// RFC 3261 §17: every transaction machine has at most one retransmission timer (A, E, G or the
// 2xx resend) and one lifetime timer (B, D, F, H, I, J, K, L, M) armed at a time. The timers call
// the transaction itself (onTimer) and it dispatches on its state: no closure per transaction.

import type { TimerHandle, TimerTarget } from "../util/clock.ts";
import type { TxContext } from "./context.ts";
import type { Lingerer } from "./linger.ts";

/** The two timer slots shared by client and server transactions. */
const RETRANSMIT = 0;
const LIFETIME = 1;

export abstract class TimerSlots implements TimerTarget {
  protected retransmitTimer: TimerHandle | undefined;
  protected lifetimeTimer: TimerHandle | undefined;
  /** Current retransmission interval. */
  protected interval = 0;
  /** While lingering: when its last timer is due, and where it sits (see linger.ts). */
  lingerUntil = 0;
  lingerGen: Map<string, Lingerer> | undefined = undefined;

  constructor(protected readonly ctx: TxContext) {}

  /** A timer set by {@link armRetransmit} or {@link armLifetime} is due. */
  onTimer(slot: number): void {
    if (slot === RETRANSMIT) this.retransmitFired();
    else this.lifetimeFired();
  }

  protected abstract retransmitFired(): void;
  protected abstract lifetimeFired(): void;

  /** Arm the retransmission timer for `ms`. */
  protected armRetransmit(ms: number): void {
    this.interval = ms;
    this.retransmitTimer = this.ctx.timers.setFor(ms, this, RETRANSMIT);
  }

  /** Replace the lifetime timer. */
  protected armLifetime(ms: number): void {
    this.lifetimeTimer?.cancel();
    this.lifetimeTimer = this.ctx.timers.setFor(ms, this, LIFETIME);
  }

  protected stopRetransmit(): void {
    this.retransmitTimer?.cancel();
    this.retransmitTimer = undefined;
  }

  protected stopLifetime(): void {
    this.lifetimeTimer?.cancel();
    this.lifetimeTimer = undefined;
  }

  protected stopTimers(): void {
    this.stopRetransmit();
    this.stopLifetime();
  }

  /** The last timer is due while lingering: the same as the lifetime timer firing. */
  lingerExpired(): void {
    this.lifetimeFired();
  }
}

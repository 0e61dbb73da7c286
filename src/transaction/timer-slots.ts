// RFC 3261 §17: every transaction machine has at most one retransmission timer (A, E, G or the
// 2xx resend) and one lifetime timer (B, D, F, H, I, J, K, L, M) armed at a time. The timers call
// the transaction itself (onTimer) and it dispatches on its state: no closure per transaction.

import type { TimerHandle, TimerTarget } from "../util/clock.ts";
import type { TxContext } from "./context.ts";
import type { Lingerer } from "./linger.ts";
import { NONE } from "./linger-records.ts";

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
  /** While lingering as a record (linger-records.ts): its number; NONE otherwise. */
  lingerRec = NONE;

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

  /**
   * Its state as the TU sees it: `own` until it lingers as a record, then Terminated once the
   * record has ended (the record does not point back to tell it).
   */
  protected seen<S>(own: S): S | "Terminated" {
    return this.lingerRec === NONE || this.ctx.recordKind(this.lingerRec) !== 0
      ? own
      : "Terminated";
  }

  /** The last timer is due while lingering: the same as the lifetime timer firing. */
  lingerExpired(): void {
    this.lifetimeFired();
  }
}

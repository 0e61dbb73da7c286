// The production timer store: a hashed timing wheel (Varghese & Lauck). Setting and cancelling
// a timer are O(1) and allocation-light, which matters with several timers per transaction and
// 100,000 live calls; a heap pays O(log n) per operation and keeps cancelled entries around.
// Timers fire on the tick after their deadline (never early, at most two ticks late), which is
// well inside what RFC 3261 timers tolerate. Tests use ManualTimers for exact deadlines.
//
// A cancelled timer leaves its slot at once (swapped with the slot's last entry), not when the
// slot comes round: nearly every transaction cancels a 32 s timer (B, F) soon after setting it,
// and at 2,000 calls/s lazily swept entries were half of the 400,000 the wheel held.

import { fireTimer, type TimerHandle, type Timers, type TimerTarget } from "./clock.ts";

class WheelEntry implements TimerHandle {
  constructor(
    public fn: (() => void) | TimerTarget | null,
    public slot: number,
    public rounds: number,
    /** The wheel's slot array this entry is in, and where. */
    public bucket: WheelEntry[],
    public index: number,
    private readonly wheel: WheelTimers,
  ) {}
  cancel(): void {
    if (this.fn === null) return; // fired or cancelled already
    this.fn = null;
    this.wheel.remove(this);
  }
}

/** Hashed timing wheel on the real clock, woken by one interval while timers are pending. */
export class WheelTimers implements Timers {
  private readonly slots: WheelEntry[][];
  private readonly mask: number;
  private cursor = 0;
  private origin = performance.now();
  private pending = 0;
  /** The slot being swept: its entries are cancelled in place (the sweep drops them). */
  private sweeping: WheelEntry[] | undefined;
  private interval: ReturnType<typeof setInterval> | undefined;

  /**
   * @param resolutionMs tick length (default 10 ms)
   * @param slotBits log2 of the slot count (default 12: 4096 slots, a 41 s revolution at 10 ms)
   */
  constructor(private readonly resolutionMs = 10, slotBits = 12) {
    const n = 1 << slotBits;
    this.mask = n - 1;
    this.slots = Array.from({ length: n }, () => []);
  }

  /** Timers set and not yet fired or cancelled. */
  get size(): number {
    return this.pending;
  }

  set(delayMs: number, fn: () => void): TimerHandle {
    return this.add(delayMs, fn, 0);
  }

  setFor(delayMs: number, target: TimerTarget, slot: number): TimerHandle {
    return this.add(delayMs, target, slot);
  }

  private add(delayMs: number, fn: (() => void) | TimerTarget, slot: number): WheelEntry {
    // Count from real time, not from the cursor: while the loop is busy (a GC pause, a burst of
    // packets) the cursor lags by many ticks, and counting from it fired timers early by as much.
    // +1: "now" is partway into its tick.
    let behind = 0;
    if (this.interval !== undefined) {
      behind = Math.max(
        0,
        Math.floor((performance.now() - this.origin) / this.resolutionMs) - this.cursor,
      );
    }
    const ticks = behind + Math.ceil(Math.max(0, delayMs) / this.resolutionMs) + 1;
    const n = this.mask + 1;
    const bucket = this.slots[(this.cursor + ticks) & this.mask];
    const e = new WheelEntry(fn, slot, Math.floor(ticks / n), bucket, bucket.length, this);
    bucket.push(e);
    if (this.pending++ === 0) this.startTicking();
    return e;
  }

  private startTicking(): void {
    if (this.interval !== undefined) return;
    // Re-anchor the cursor to now so an idle period does not replay thousands of empty ticks.
    this.origin = performance.now() - this.cursor * this.resolutionMs;
    this.interval = setInterval(() => this.advance(), this.resolutionMs);
  }

  /**
   * Smoothed lateness of the ticks (ms): how far behind real time the event loop runs. Rises
   * when the process is saturated, which is the moment to shed new work.
   */
  lagMs = 0;

  private advance(): void {
    const now = performance.now();
    const target = Math.floor((now - this.origin) / this.resolutionMs);
    // The interval should fire once per tick; extra elapsed ticks are lateness.
    const late = Math.max(0, (target - this.cursor - 1) * this.resolutionMs);
    // A slow average (about 20 ticks): one garbage-collection pause is not overload, a loop
    // that stays behind is.
    this.lagMs = this.lagMs * 0.95 + late * 0.05;
    while (this.cursor < target) {
      this.cursor++;
      this.sweep(this.slots[this.cursor & this.mask]);
    }
    if (this.pending === 0) this.stop();
  }

  /** A cancelled entry leaves its slot now, unless that slot is being swept. */
  remove(e: WheelEntry): void {
    const bucket = e.bucket;
    if (bucket === this.sweeping) return;
    const last = bucket.pop()!;
    if (last !== e) {
      bucket[e.index] = last;
      last.index = e.index;
    }
    this.pending--;
  }

  private sweep(slot: WheelEntry[]): void {
    if (slot.length === 0) return;
    this.sweeping = slot;
    let keep = 0;
    // Entries set from a callback land in other slots (ticks ≥ 1), so this slot's length is
    // fixed while it is swept.
    const len = slot.length;
    for (let i = 0; i < len; i++) {
      const e = slot[i];
      if (e.fn === null) {
        this.pending--;
        continue;
      }
      if (e.rounds > 0) {
        e.rounds--;
        e.index = keep;
        slot[keep++] = e;
        continue;
      }
      const fn = e.fn;
      e.fn = null;
      this.pending--;
      try {
        fireTimer(fn, e.slot);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    // Anything appended during the sweep (a full revolution ahead) is kept too, unless cancelled
    // meanwhile.
    for (let i = len; i < slot.length; i++) {
      const e = slot[i];
      if (e.fn === null) this.pending--;
      else {
        e.index = keep;
        slot[keep++] = e;
      }
    }
    slot.length = keep;
    this.sweeping = undefined;
  }

  /** Stop ticking (pending timers stay queued and resume with the next set). */
  stop(): void {
    if (this.interval !== undefined) clearInterval(this.interval);
    this.interval = undefined;
  }
}

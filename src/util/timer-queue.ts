// One timer store for every SIP timer in the process: a binary min-heap of deadlines driven by a
// single runtime timeout. 100,000 live transactions must not mean 100,000 OS timers, and
// cancellation must be O(1) (a cancelled entry is skipped when it reaches the top).

import { type Clock, fireTimer, type TimerHandle, type Timers, type TimerTarget } from "./clock.ts";

class Entry implements TimerHandle {
  constructor(
    public at: number,
    public seq: number,
    public fn: (() => void) | TimerTarget | null,
    public slot: number,
  ) {}
  cancel(): void {
    this.fn = null;
  }
}

/**
 * Heap-backed scheduler. `drive` decides how the queue wakes up: {@link realTimers} arms one
 * setTimeout for the earliest deadline; {@link ManualTimers} is advanced by tests.
 */
export class TimerQueue implements Timers {
  private heap: Entry[] = [];
  private seq = 0;
  private live = 0;
  constructor(protected clock: Clock, private onEarliest: (at: number) => void = () => {}) {}

  /** Number of pending (not cancelled, not fired) timers; cancelled ones count until popped. */
  get size(): number {
    return this.heap.length;
  }

  set(delayMs: number, fn: () => void): TimerHandle {
    return this.add(delayMs, fn, 0);
  }

  setFor(delayMs: number, target: TimerTarget, slot: number): TimerHandle {
    return this.add(delayMs, target, slot);
  }

  private add(delayMs: number, fn: (() => void) | TimerTarget, slot: number): Entry {
    const e = new Entry(this.clock.now() + Math.max(0, delayMs), this.seq++, fn, slot);
    this.push(e);
    this.live++;
    if (this.heap[0] === e) this.onEarliest(e.at);
    return e;
  }

  /** Deadline of the earliest pending entry, or Infinity. */
  nextDeadline(): number {
    while (this.heap.length && this.heap[0].fn === null) this.pop();
    return this.heap.length ? this.heap[0].at : Infinity;
  }

  /** Fire every entry due at or before `now` (in deadline order). Returns how many fired. */
  runDue(now = this.clock.now()): number {
    let n = 0;
    while (this.heap.length) {
      const top = this.heap[0];
      if (top.fn === null) {
        this.pop();
        continue;
      }
      if (top.at > now) break;
      this.pop();
      const fn = top.fn;
      top.fn = null;
      n++;
      try {
        fireTimer(fn, top.slot);
      } catch (err) {
        // A failing timer callback must not stop the others; surface it asynchronously.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    return n;
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      const t = h[i];
      h[i] = h[p];
      h[p] = t;
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        const t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
      }
    }
    return top;
  }
}

/** Timer queue on the real clock, woken by one runtime setTimeout at the earliest deadline. */
export class RealTimers extends TimerQueue {
  private armedAt = Infinity;
  private handle: ReturnType<typeof setTimeout> | undefined;
  constructor(clock: Clock) {
    super(clock, (at) => this.arm(at));
  }
  private arm(at: number): void {
    if (at >= this.armedAt) return;
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.armedAt = at;
    this.handle = setTimeout(() => this.tick(), Math.max(0, at - this.clock.now()));
  }
  private tick(): void {
    this.handle = undefined;
    this.armedAt = Infinity;
    this.runDue();
    const next = this.nextDeadline();
    if (next !== Infinity) this.arm(next);
  }
  /** Stop the runtime timeout (pending entries stay queued). */
  stop(): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
    this.armedAt = Infinity;
  }
}

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(public t = 0, public wall = Date.UTC(2026, 10, 24, 14, 2, 32)) {}
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.wall + this.t;
  }
}

/** Timers on a {@link ManualClock}: `advance(ms)` fires everything due, in order. */
export class ManualTimers extends TimerQueue {
  constructor(public readonly manual: ManualClock = new ManualClock()) {
    super(manual);
  }
  /** Move time forward by `ms`, firing each due timer at its own deadline. */
  advance(ms: number): void {
    const end = this.manual.t + ms;
    for (;;) {
      const next = this.nextDeadline();
      if (next > end) break;
      this.manual.t = Math.max(this.manual.t, next);
      this.runDue(this.manual.t);
    }
    this.manual.t = end;
  }
}

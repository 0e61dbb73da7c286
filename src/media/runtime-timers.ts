// Per-request timers for relay control (retransmission of ng / rtpproxy commands). Each entry is
// one runtime timeout that is cleared on cancel, so an answered request leaves nothing pending.

import type { Timers, TimerTarget } from "../util/clock.ts";

/** {@link Timers} on the runtime's setTimeout/clearTimeout. */
export const runtimeTimers: Timers = {
  set(delayMs, fn) {
    const h = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(h) };
  },
  setFor(delayMs: number, target: TimerTarget, slot: number) {
    return this.set(delayMs, () => target.onTimer(slot));
  },
};

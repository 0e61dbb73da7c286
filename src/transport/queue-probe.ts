// How long a datagram waits before the JavaScript thread reads it: the delay of a UDP
// listener's receive queue, measured by sending the listener a small timestamped probe from a
// socket of our own and timing its arrival. The queue is first in, first out, so a probe waits
// exactly as long as a new INVITE sent at the same moment would.
//
// Why measure the queue as well as the thread's CPU share: on a box shared with other busy
// processes the share a thread needs for a given rate varies by tens of percent from minute to
// minute, and a threshold on it alone sheds calls while the thread still drains its queue in a
// few milliseconds. What callers feel, and what their retransmission timers (T1 = 500 ms) react
// to, is the wait (src/app/load-shedding.ts uses both).
//
// A burst (a collector's pause, a timer pass) delays a few probes and clears; a standing queue
// delays all of them. The estimate is therefore the least delay seen over a window (the idea of
// CoDel, RFC 8289), raised to the age of the oldest probe still on its way less that window: when
// the queue grows faster than it drains, or drops what it cannot hold, the probes in it are the
// evidence.

/** A probe's bytes: NUL (no SIP message starts with it), "TQP", then a 32-bit sequence number. */
const MAGIC = [0, 0x54, 0x51, 0x50];
export const PROBE_LENGTH = 12;
/** Probes remembered while in flight: enough for RING × period of queue (64 × 20 ms). */
const RING = 64;

/** The queue delay of one UDP listener, from probes sent to it. Pure: time is passed in. */
export class QueueProbe {
  private readonly sentAt = new Float64Array(RING);
  private seq = 0;
  /** The newest probe that arrived (its number), -1 before any. */
  private lastArrived = -1;
  /** Arrivals in the window: when, and how long each waited. */
  private readonly arrivedAt = new Float64Array(RING);
  private readonly waited = new Float64Array(RING);
  private arrivals = 0;

  /** @param windowMs the span over which the least delay is taken */
  constructor(readonly windowMs = 100) {}

  /** The bytes of the next probe, sent at `now` (ms). */
  next(now: number): Uint8Array {
    const n = this.seq++;
    // Overwriting a slot forgets a probe RING periods old: it was lost (a full buffer drops it).
    this.sentAt[n % RING] = now;
    const b = new Uint8Array(PROBE_LENGTH);
    b.set(MAGIC);
    new DataView(b.buffer).setUint32(4, n >>> 0);
    return b;
  }

  /**
   * A datagram that may be one of our probes (the listener saw a leading NUL): true when it was
   * and is counted, false when it is something else to handle as usual.
   */
  arrived(data: Uint8Array, now: number): boolean {
    if (data.length !== PROBE_LENGTH) return false;
    for (let i = 0; i < 4; i++) if (data[i] !== MAGIC[i]) return false;
    const n = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(4);
    // Only a probe in flight counts: not one from the future, nor one overtaken or forgotten.
    if (n >= this.seq || n <= this.lastArrived || this.seq - n > RING) return true;
    this.lastArrived = n;
    const slot = this.arrivals++ % RING;
    this.arrivedAt[slot] = now;
    this.waited[slot] = Math.max(0, now - this.sentAt[n % RING]);
    return true;
  }

  /**
   * The standing delay at `now` (ms): the least wait of the probes that arrived in the last
   * window, or, when more, the age of the oldest one still in flight less a window (a probe held
   * up by a pause shorter than that is a burst, like one that arrived late).
   */
  delayMs(now: number): number {
    let least = Infinity;
    const from = now - this.windowMs;
    const n = Math.min(this.arrivals, RING);
    for (let k = 1; k <= n; k++) {
      const slot = (this.arrivals - k) % RING;
      if (this.arrivedAt[slot] < from) break;
      if (this.waited[slot] < least) least = this.waited[slot];
    }
    if (least === Infinity) least = 0;
    // Past the ring, the oldest remembered probe stands for the ones forgotten.
    const oldest = Math.max(this.lastArrived + 1, this.seq - RING);
    if (oldest < this.seq) {
      const age = now - this.sentAt[oldest % RING] - this.windowMs;
      if (age > least) least = age;
    }
    return least;
  }
}

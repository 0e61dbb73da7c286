// Where finished transactions wait out their last timer (J, K, L, M, D, I: 32 s over UDP for
// most), still found by retransmissions, out of the maps of live transactions.
//
// Why not a map entry and a timer each, as live transactions have: at thousands of calls per
// second, half a minute of finished transactions is over a hundred thousand entries. A map that
// large costs several times more per insert and delete (cache misses; measured: 4-5x at 200,000
// keys against 5,000), and JavaScriptCore, having no card marking, likely revisits a whole map
// written between collections: the live maps, at every young collection, for the sake of entries
// that only wait. Here each lifetime has a queue of generations, one map per span of time; only
// the newest is written, older ones are only read (a retransmission) or emptied in order, and one
// timer per lifetime ends what is due, in the order it came.

import type { TimerHandle, Timers, TimerTarget } from "../util/clock.ts";

/** A transaction as the linger index keeps it. */
export interface Lingerer {
  /** Its key in the layer's map of live transactions. */
  readonly key: string;
  /** A second key it may be found by (a server transaction's §8.2.2.2 merge key). */
  readonly mergeKey?: string;
  /** When its last timer is due (clock ms); set by the index. */
  lingerUntil: number;
  /** The generation it sits in while it lingers; set and cleared by the index. */
  lingerGen: Map<string, Lingerer> | undefined;
  /** Its last timer is due: it terminates, and removes itself through {@link LingerIndex.delete}. */
  lingerExpired(): void;
}

/** How many generations a lifetime's queue spreads over: more, smaller maps, more to probe. */
export const GENERATIONS = 8;
/**
 * The least time between two passes of a queue's timer: one pass ends every transaction due in
 * it, so at high rates the timer does not fire per transaction. A transaction ends at most this
 * late.
 */
export const PASS_MS = 20;

/**
 * The index of the queue for lifetime `ms` in `queues`, made (spread over GENERATIONS) when
 * missing. A loop, not findIndex: no closure per transaction.
 */
export function queueSlot<Q extends { readonly lifetime: number }>(
  queues: Q[],
  ms: number,
  Make: new (lifetime: number, span: number) => Q,
): number {
  let slot = 0;
  while (slot < queues.length && queues[slot].lifetime !== ms) slot++;
  if (slot === queues.length) queues.push(new Make(ms, Math.max(1, ms / GENERATIONS)));
  return slot;
}

/** The transactions of one lifetime, oldest generation first. */
class Queue {
  readonly gens: Map<string, Lingerer>[] = [];
  /**
   * Where the timer's passes have got to in the oldest generation: the entries before it have
   * expired and stay in the map until the whole generation is dropped.
   */
  cursor: Iterator<Lingerer> | undefined;
  /** The entry the cursor last gave that was not yet due. */
  next: Lingerer | undefined;
  /** When the newest generation began. */
  newestStart = 0;
  timer: TimerHandle | undefined;
  constructor(readonly lifetime: number, readonly span: number) {}
}

/** The lingering transactions of one side (client or server) of the layer. */
export class LingerIndex implements TimerTarget {
  private readonly queues: Queue[] = [];
  /**
   * The transaction whose last timer is running out now: its delete leaves the map alone. At
   * thousands of calls per second, deleting each expired key one by one from maps of tens of
   * thousands was 3-4 % of the thread (profiled); the generation goes as a whole instead, and
   * until then lookups skip what it holds that has expired.
   */
  private expiring: Lingerer | undefined;

  constructor(private readonly timers: Timers, private readonly now: () => number) {}

  /**
   * Keep `tx` for `ms` (its last timer), found by its key (and merge key) until then; `until`
   * when the timer began earlier (Timer L runs from the 2xx, the transaction lingers from the
   * ACK). Deadlines in a queue are then nearly, not strictly, in order: one due a little later
   * holds those behind it back by that little. `key2`: a second key it is found by.
   */
  add(tx: Lingerer, ms: number, until?: number, key2?: string): void {
    const slot = queueSlot(this.queues, ms, Queue);
    const q = this.queues[slot];
    const t = this.now();
    let g = q.gens[q.gens.length - 1];
    if (g === undefined || t - q.newestStart >= q.span) {
      g = new Map();
      q.gens.push(g);
      q.newestStart = t;
    }
    if (q.cursor !== undefined && g === q.gens[0]) {
      // The timer's passes are partway through this generation: a key already here (expired,
      // see `expiring`) would keep its place, behind the cursor, and never be ended.
      g.delete(tx.key);
      if (key2 !== undefined) g.delete(key2);
    }
    g.set(tx.key, tx);
    if (key2 !== undefined) g.set(key2, tx);
    tx.lingerGen = g;
    tx.lingerUntil = until ?? t + ms;
    if (q.timer === undefined) {
      q.timer = this.timers.setFor(Math.max(0, tx.lingerUntil - t), this, slot);
    }
  }

  /** The lingering transaction with this key (or merge key), if any. */
  get(key: string): Lingerer | undefined {
    const qs = this.queues;
    for (let i = 0; i < qs.length; i++) {
      const gens = qs[i].gens;
      for (let j = gens.length - 1; j >= 0; j--) {
        const g = gens[j];
        if (g.size === 0) continue;
        const tx = g.get(key);
        if (tx !== undefined && tx.lingerGen === g) return tx;
      }
    }
    return undefined;
  }

  /** Forget `tx` (it terminated: its timer, or early); false when it was not lingering. */
  delete(tx: Lingerer): boolean {
    const g = tx.lingerGen;
    if (g === undefined) return false;
    tx.lingerGen = undefined;
    if (tx === this.expiring) return true; // it goes with its generation
    g.delete(tx.key);
    if (tx.mergeKey !== undefined && g.get(tx.mergeKey) === tx) g.delete(tx.mergeKey);
    return true;
  }

  /** A queue's timer: end what is due, oldest first, and wait for the next. */
  onTimer(slot: number): void {
    const q = this.queues[slot];
    q.timer = undefined;
    const t = this.now();
    while (q.gens.length > 0) {
      const g = q.gens[0];
      // A map's iterator stays valid while entries are added (the oldest generation may also be
      // the newest) or deleted (a transaction ended early).
      const it = q.cursor ??= g.values();
      for (;;) {
        let tx = q.next;
        q.next = undefined;
        if (tx === undefined) {
          const r = it.next();
          if (r.done) break;
          tx = r.value;
        }
        if (tx.lingerGen !== g) continue; // expired (a merge key's second entry) or ended early
        if (tx.lingerUntil > t) {
          q.next = tx;
          q.timer = this.timers.setFor(Math.max(PASS_MS, tx.lingerUntil - t), this, slot);
          return;
        }
        this.expiring = tx;
        try {
          tx.lingerExpired();
        } finally {
          this.expiring = undefined;
        }
        // A transaction that did not take itself out (it should) is not kept for ever.
        if (tx.lingerGen === g) tx.lingerGen = undefined;
      }
      q.cursor = undefined;
      q.gens.shift();
    }
  }

  /** Transactions lingering (tests; the layer keeps its own counts). */
  get size(): number {
    const seen = new Set<Lingerer>();
    for (const q of this.queues) {
      for (const g of q.gens) {
        for (const tx of g.values()) if (tx.lingerGen === g) seen.add(tx);
      }
    }
    return seen.size;
  }
}

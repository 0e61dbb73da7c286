// Finished transactions kept as records in typed arrays, not as objects, while they wait out
// their last timer (J, K, L, M, D, I).
//
// Why: at thousands of calls a second, 32 s of finished transactions are over a hundred thousand
// objects, each with a key string or two, the bytes it resends and a map entry. The collector
// marks all of them again at every full collection, on the cores the traffic needs, and those
// collections are where the latency spikes at 4,000 calls/s came from (docs/benchmarks.md,
// twenty-second session: a build that kept nothing ran that rate clean at 9 % less CPU). What a
// finished transaction still needs is small and flat: its key (and merge key), what it answers a
// retransmission with (the bytes of its final or ACK, a To header or tag), where those go, and
// when it ends. Here that lives in typed arrays the collector does not look into.
//
// The layout follows linger.ts: per lifetime a queue of generations (a span of time each), only
// the newest written, the oldest emptied in order by one timer and then reused whole. A record
// does not point to its transaction object; the object (when its TU still holds it) points to
// its record by a number, and reads its state from there.

import type { Endpoint } from "../transport/types.ts";
import type { TimerHandle, Timers, TimerTarget } from "../util/clock.ts";
import { PASS_MS, queueSlot } from "./linger.ts";

/** No record. */
export const NONE = -1;

/** What a record is, which says what it does with a retransmission. 0: ended. */
export const RecordKind = {
  /** INVITE server, Accepted after the ACK (RFC 6026 Timer L): absorbs the INVITE. */
  InviteAccepted: 1,
  /** INVITE server, Confirmed (Timer I): absorbs the INVITE and the ACK. */
  InviteConfirmed: 2,
  /** Non-INVITE server, Completed (Timer J): resends its final. */
  NonInviteCompleted: 3,
  /** Non-INVITE client, Completed (Timer K): absorbs the final. */
  ClientNonInviteCompleted: 4,
  /** INVITE client, Completed (Timer D): ACKs a retransmitted non-2xx final again. */
  ClientInviteCompleted: 5,
  /** INVITE client, Accepted with the TU's ACK sent (Timer M): ACKs a retransmitted 2xx again. */
  ClientInviteAccepted: 6,
} as const;

/** A record's number: its generation's serial times this, plus its index there. */
const SERIAL = 0x1000000;
/** Per-record int32 fields: key, merge key, string, bytes (offset and length each). */
const FIELDS = 8;
/** Generations kept for reuse (their arrays keep their grown size). */
const POOL = 8;
/** Method names told apart in the retransmission metric; later ones count as the last slot. */
const METHODS = 255;
/**
 * Counters of the filter that answers most lookups (a new request's key is found nowhere)
 * without probing every generation's table, by default: 4 MiB, two per key; at 4,000 calls/s
 * about half a million transaction keys linger, and about 1 lookup in 20 of a key not there
 * gets past the filter.
 */
const FILTER_BITS = 22;

/** One span of time's records. */
class Generation {
  serial = 0;
  /** Records used. */
  n = 0;
  kind = new Uint8Array(256);
  method = new Uint8Array(256);
  until = new Float64Array(256);
  fields = new Int32Array(256 * FIELDS);
  /** The hash of the key (2r) and merge key (2r+1) of record r. */
  hash = new Int32Array(512);
  /** Where record r resends to (2r) and its peer (2r+1), as numbers in {@link Addresses}. */
  dests = new Int32Array(512);
  chars = new Uint16Array(16384);
  charLen = 0;
  bytes = new Uint8Array(65536);
  byteLen = 0;
  /**
   * Open addressing, two ints a slot: (2r + which) + 1 (0: empty) and that key's hash, so that a
   * probe reads one place. Never deleted from: records end in place.
   */
  table = new Int32Array(2048);
  used = 0;

  reset(serial: number): void {
    this.serial = serial;
    this.n =
      this.charLen =
      this.byteLen =
      this.used =
        0;
    this.table.fill(0);
  }

  /** Room for one more record. */
  grow(): void {
    const cap = this.kind.length;
    if (this.n < cap) return;
    this.kind = widen(this.kind, new Uint8Array(cap * 2));
    this.method = widen(this.method, new Uint8Array(cap * 2));
    this.until = widen(this.until, new Float64Array(cap * 2));
    this.fields = widen(this.fields, new Int32Array(cap * 2 * FIELDS));
    this.hash = widen(this.hash, new Int32Array(cap * 4));
    this.dests = widen(this.dests, new Int32Array(cap * 4));
  }

  /** Append `s`'s UTF-16 code units; its offset. */
  putChars(s: string): number {
    const off = this.charLen;
    const len = s.length;
    if (off + len > this.chars.length) {
      this.chars = widen(this.chars, new Uint16Array(Math.max(this.chars.length * 2, off + len)));
    }
    const c = this.chars;
    for (let i = 0; i < len; i++) c[off + i] = s.charCodeAt(i);
    this.charLen = off + len;
    return off;
  }

  putBytes(b: Uint8Array): number {
    const off = this.byteLen;
    if (off + b.length > this.bytes.length) {
      this.bytes = widen(
        this.bytes,
        new Uint8Array(Math.max(this.bytes.length * 2, off + b.length)),
      );
    }
    this.bytes.set(b, off);
    this.byteLen = off + b.length;
    return off;
  }

  /** Index entry `e` (2r + which) under hash `h`. */
  insert(e: number, h: number): void {
    // At most half the slots used (a slot is two ints).
    if ((this.used + 1) * 4 > this.table.length) this.rehash();
    place(this.table, e + 1, h);
    this.used++;
  }

  private rehash(): void {
    const old = this.table;
    const t = this.table = new Int32Array(old.length * 2);
    for (let j = 0; j < old.length; j += 2) {
      if (old[j] !== 0) place(t, old[j], old[j + 1]);
    }
  }

  /** The live record whose key (or merge key) is `key` with hash `h`, or NONE. */
  find(key: string, h: number): number {
    const t = this.table;
    const mask = (t.length >> 1) - 1;
    const len = key.length;
    const f = this.fields;
    const c = this.chars;
    for (let i = h & mask;; i = (i + 1) & mask) {
      const v = t[2 * i];
      if (v === 0) return NONE;
      if (t[2 * i + 1] !== h) continue;
      const e = v - 1;
      const r = e >> 1;
      if (this.kind[r] === 0) continue;
      const at = r * FIELDS + (e & 1) * 2;
      if (f[at + 1] !== len) continue;
      const off = f[at];
      let j = 0;
      while (j < len && c[off + j] === key.charCodeAt(j)) j++;
      if (j === len) return r;
    }
  }

  /** The string field `at` (its offset; length next) of record r, if set. */
  text(r: number, at: number): string | undefined {
    const off = this.fields[r * FIELDS + at];
    if (off < 0) return undefined;
    const len = this.fields[r * FIELDS + at + 1];
    return String.fromCharCode.apply(
      null,
      this.chars.subarray(off, off + len) as unknown as number[],
    );
  }
}

/** Put `v` in the first free slot from `h`'s (two ints a slot: value, hash). */
function place(t: Int32Array, v: number, h: number): void {
  const mask = (t.length >> 1) - 1;
  let i = h & mask;
  while (t[2 * i] !== 0) i = (i + 1) & mask;
  t[2 * i] = v;
  t[2 * i + 1] = h;
}

function widen<T extends Uint8Array | Uint16Array | Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}

/** FNV-1a over UTF-16 code units. */
function hashOf(s: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h;
}

/** A second hash from the first, for the filter's second counter (its high bits, as the first's). */
function remix(h: number): number {
  return Math.imul(h, 0x9e3779b1);
}

/**
 * The addresses records name, by number, counted: a record holds a number, not an object the
 * collector would visit (an array of references is visited slot by slot, and the newest
 * generation's again at every young collection, being written). Most records name one of a few
 * shared addresses (shared-endpoints.ts); an address goes when no record names it.
 */
class Addresses {
  private readonly ids = new Map<Endpoint, number>();
  private readonly all: (Endpoint | undefined)[] = [];
  private refs = new Int32Array(64);
  private readonly free: number[] = [];

  /** The number of `ep` (NONE for none), counted once more. */
  ref(ep: Endpoint | undefined): number {
    if (ep === undefined) return NONE;
    let id = this.ids.get(ep);
    if (id === undefined) {
      id = this.free.pop() ?? this.all.length;
      this.all[id] = ep;
      this.ids.set(ep, id);
      if (id >= this.refs.length) {
        this.refs = widen(this.refs, new Int32Array(this.refs.length * 2));
      }
    }
    this.refs[id]++;
    return id;
  }

  unref(id: number): void {
    if (id === NONE || --this.refs[id] !== 0) return;
    this.ids.delete(this.all[id]!);
    this.all[id] = undefined;
    this.free.push(id);
  }

  get(id: number): Endpoint | undefined {
    return id === NONE ? undefined : this.all[id];
  }
}

/** The records of one lifetime, oldest generation first. */
class Queue {
  readonly gens: Generation[] = [];
  /** The next record of the oldest generation the timer's passes will look at. */
  cursor = 0;
  newestStart = 0;
  timer: TimerHandle | undefined;
  constructor(readonly lifetime: number, readonly span: number) {}
}

/** The lingering transactions of a layer, client and server (their keys never coincide). */
export class LingerRecords implements TimerTarget {
  private readonly queues: Queue[] = [];
  private readonly bySerial = new Map<number, Generation>();
  private readonly pool: Generation[] = [];
  private serial = 0;
  private readonly methodIds = new Map<string, number>();
  private readonly methodNames: string[] = [];
  /** The generation of the record last looked up by number (most lookups follow a find). */
  private hit: Generation | undefined;
  /**
   * A counting filter over every live record's keys (two counters each, see FILTER_BITS): a
   * lookup that finds a zero knows no generation holds the key. Counters stuck at 255 stay.
   */
  private readonly filter: Uint8Array;
  private readonly addresses = new Addresses();
  /** Where the filter's counters start in a hash: 32 less the filter's bits. */
  private readonly shift: number;
  private live = 0;

  constructor(
    private readonly timers: Timers,
    private readonly now: () => number,
    /** A record's last timer ran out (not called for {@link end}). */
    private readonly expired: (kind: number) => void,
    /** The filter's size, as a power of two: about 8 counters per key expected at once. */
    filterBits = FILTER_BITS,
  ) {
    this.filter = new Uint8Array(1 << filterBits);
    this.shift = 32 - filterBits;
  }

  /**
   * Keep a record for `ms` (from now, or until `until` when its timer began earlier): what it
   * is, its method, key and merge key, the string and bytes it answers with, where it resends
   * to and the peer it belongs to. Its number.
   */
  add(
    kind: number,
    method: string,
    ms: number,
    until: number | undefined,
    key: string,
    key2: string | undefined,
    str: string | undefined,
    data: Uint8Array | undefined,
    to: Endpoint | undefined,
    peer: Endpoint | undefined,
  ): number {
    const slot = queueSlot(this.queues, ms, Queue);
    const q = this.queues[slot];
    const t = this.now();
    let g = q.gens[q.gens.length - 1];
    if (g === undefined || t - q.newestStart >= q.span || g.n >= SERIAL - 1) {
      g = this.pool.pop() ?? new Generation();
      g.reset(++this.serial);
      this.bySerial.set(g.serial, g);
      q.gens.push(g);
      q.newestStart = t;
    }
    g.grow();
    const r = g.n++;
    this.live++;
    g.kind[r] = kind;
    g.method[r] = this.methodId(method);
    g.until[r] = until ?? t + ms;
    const f = r * FIELDS;
    const fields = g.fields;
    const h1 = hashOf(key);
    fields[f] = g.putChars(key);
    fields[f + 1] = key.length;
    g.hash[2 * r] = h1;
    g.insert(2 * r, h1);
    this.count(h1, 1);
    if (key2 !== undefined) {
      const h2 = hashOf(key2);
      fields[f + 2] = g.putChars(key2);
      fields[f + 3] = key2.length;
      g.hash[2 * r + 1] = h2;
      g.insert(2 * r + 1, h2);
      this.count(h2, 1);
    } else fields[f + 2] = NONE;
    if (str !== undefined) {
      fields[f + 4] = g.putChars(str);
      fields[f + 5] = str.length;
    } else fields[f + 4] = NONE;
    if (data !== undefined) {
      fields[f + 6] = g.putBytes(data);
      fields[f + 7] = data.length;
    } else fields[f + 6] = NONE;
    g.dests[2 * r] = this.addresses.ref(to);
    g.dests[2 * r + 1] = this.addresses.ref(peer);
    if (q.timer === undefined) {
      q.timer = this.timers.setFor(Math.max(0, g.until[r] - t), this, slot);
    }
    return g.serial * SERIAL + r;
  }

  /** The live record with this key (or merge key), or NONE. */
  find(key: string): number {
    const qs = this.queues;
    if (qs.length === 0) return NONE;
    const h = hashOf(key);
    const fl = this.filter;
    if (fl[h >>> this.shift] === 0 || fl[remix(h) >>> this.shift] === 0) return NONE;
    for (let i = 0; i < qs.length; i++) {
      const gens = qs[i].gens;
      for (let j = gens.length - 1; j >= 0; j--) {
        const g = gens[j];
        if (g.used === 0) continue;
        const r = g.find(key, h);
        if (r !== NONE) {
          this.hit = g;
          return g.serial * SERIAL + r;
        }
      }
    }
    return NONE;
  }

  private gen(rec: number): Generation | undefined {
    const serial = Math.floor(rec / SERIAL);
    const hit = this.hit;
    if (hit !== undefined && hit.serial === serial) return hit;
    const g = this.bySerial.get(serial);
    if (g !== undefined) this.hit = g;
    return g;
  }

  /** What record `rec` is; 0 once it has ended. */
  kind(rec: number): number {
    const g = this.gen(rec);
    return g === undefined ? 0 : g.kind[rec % SERIAL];
  }

  /** End a record before its timer (its transaction was terminated); the kind it had, or 0. */
  end(rec: number): number {
    const g = this.gen(rec);
    if (g === undefined) return 0;
    const r = rec % SERIAL;
    const k = g.kind[r];
    if (k !== 0) this.ended(g, r);
    return k;
  }

  /** Record r of `g` ends: it is no longer found, nor counted in the filter. */
  private ended(g: Generation, r: number): void {
    g.kind[r] = 0;
    this.live--;
    this.addresses.unref(g.dests[2 * r]);
    this.addresses.unref(g.dests[2 * r + 1]);
    this.count(g.hash[2 * r], -1);
    if (g.fields[r * FIELDS + 2] !== NONE) this.count(g.hash[2 * r + 1], -1);
  }

  private count(h: number, by: 1 | -1): void {
    const fl = this.filter;
    const a = h >>> this.shift;
    const b = remix(h) >>> this.shift;
    if (fl[a] !== 255) fl[a] += by;
    if (fl[b] !== 255) fl[b] += by;
  }

  method(rec: number): string {
    const g = this.gen(rec);
    return g === undefined ? "" : this.methodNames[g.method[rec % SERIAL]];
  }

  /** The string it was kept with (a To header, an ACKed To tag). */
  str(rec: number): string | undefined {
    return this.gen(rec)?.text(rec % SERIAL, 4);
  }

  /** A copy of the bytes it resends (a copy: a send may outlive the generation's reuse). */
  data(rec: number): Uint8Array | undefined {
    const g = this.gen(rec);
    if (g === undefined) return undefined;
    const f = (rec % SERIAL) * FIELDS;
    const off = g.fields[f + 6];
    return off < 0 ? undefined : g.bytes.slice(off, off + g.fields[f + 7]);
  }

  /** Where it resends to. */
  to(rec: number): Endpoint | undefined {
    const g = this.gen(rec);
    return g === undefined ? undefined : this.addresses.get(g.dests[2 * (rec % SERIAL)]);
  }

  /** The peer it was with (the request's source, or where it went). */
  peer(rec: number): Endpoint | undefined {
    const g = this.gen(rec);
    return g === undefined ? undefined : this.addresses.get(g.dests[2 * (rec % SERIAL) + 1]);
  }

  /** A queue's timer: end what is due, oldest first, and wait for the next. */
  onTimer(slot: number): void {
    const q = this.queues[slot];
    q.timer = undefined;
    const t = this.now();
    while (q.gens.length > 0) {
      const g = q.gens[0];
      for (; q.cursor < g.n; q.cursor++) {
        const r = q.cursor;
        const k = g.kind[r];
        if (k === 0) continue; // ended early
        if (g.until[r] > t) {
          q.timer = this.timers.setFor(Math.max(PASS_MS, g.until[r] - t), this, slot);
          return;
        }
        this.ended(g, r);
        this.expired(k);
      }
      q.cursor = 0;
      q.gens.shift();
      this.retire(g);
    }
  }

  private retire(g: Generation): void {
    this.bySerial.delete(g.serial);
    if (this.hit === g) this.hit = undefined;
    if (this.pool.length < POOL) this.pool.push(g);
  }

  private methodId(method: string): number {
    let id = this.methodIds.get(method);
    if (id === undefined) {
      if (this.methodNames.length >= METHODS - 1) {
        this.methodNames[METHODS - 1] = "other";
        return METHODS - 1;
      }
      id = this.methodNames.length;
      this.methodNames.push(method);
      this.methodIds.set(method, id);
    }
    return id;
  }

  /** Records not ended. */
  get size(): number {
    return this.live;
  }
}

// The wire between the Bun UDP listener and its send thread (bun-udp-sender.ts): a batch of
// datagrams packed into one transferable ArrayBuffer, each record a length, a socket address
// laid out as the kernel reads it (struct sockaddr_in / sockaddr_in6), and the bytes. Packing
// costs a copy; posting moves the buffer; the thread hands the records to sendmmsg in place.
//
//   record = u32 length (little-endian) | 28-byte address slot | `length` bytes
//   slot   = sockaddr_in  (16 bytes used): u16 AF_INET, u16 port (big-endian), 4 address bytes
//          | sockaddr_in6 (28 bytes):      u16 AF_INET6, u16 port, u32 flow, 16 bytes, u32 scope

import { ipBytes } from "./hep.ts";

export const AF_INET = 2;
export const AF_INET6 = 10;
/** Bytes before a record's data: its length and the address slot. */
export const RECORD_HEAD = 4 + 28;

/** What the listener posts: the packed records, how many, and a number to report failures by. */
export interface BatchMessage {
  batch: number;
  buf: ArrayBuffer;
  count: number;
}

/** A datagram the thread could not send: its index, errno, and errno of the one retry (0: sent). */
export interface SendFailureReport {
  batch: number;
  /** Flat [index, errno, retryErrno] triples. */
  failures: number[];
}

/**
 * A socket address slot for `host` (an IP literal, no zone) on a socket of `family`, port left
 * zero; undefined when the host cannot be written there (a name, a zone, IPv6 on an IPv4 socket).
 * On an IPv6 socket an IPv4 host becomes ::ffff:a.b.c.d, as the kernel expects on a dual stack.
 */
export function addressSlot(host: string, family: 4 | 6): Uint8Array | undefined {
  if (host.indexOf("%") >= 0) return undefined;
  const ip = ipBytes(host);
  if (!ip) return undefined;
  const slot = new Uint8Array(28);
  const v = new DataView(slot.buffer);
  if (family === 4) {
    if (ip.length !== 4) return undefined;
    v.setUint16(0, AF_INET, true);
    slot.set(ip, 4);
    return slot;
  }
  v.setUint16(0, AF_INET6, true);
  if (ip.length === 4) {
    slot[18] = 0xff;
    slot[19] = 0xff;
    slot.set(ip, 20);
  } else slot.set(ip, 8);
  return slot;
}

/**
 * Packs datagrams for the send thread. Address slots are made once per host (the peers of a
 * B2BUA are few and repeat) and copied per record.
 */
export class BatchPacker {
  private readonly slots = new Map<string, Uint8Array | null>();
  /** The slots of the batch being packed (reused). */
  private readonly picked: Uint8Array[] = [];

  constructor(private readonly family: 4 | 6) {}

  /** The slot for `host`, cached; null when it cannot be packed. */
  slotFor(host: string): Uint8Array | null {
    let s = this.slots.get(host);
    if (s === undefined) {
      s = addressSlot(host, this.family) ?? null;
      // Bounded: a flood of distinct sources cannot grow it without limit.
      if (this.slots.size >= 4096) this.slots.clear();
      this.slots.set(host, s);
    }
    return s;
  }

  /**
   * One buffer holding the [data, port, host] triples (as Bun's sendMany takes them), or
   * undefined when some host cannot be packed (the caller then sends that batch itself).
   */
  pack(triples: (Uint8Array | number | string)[]): ArrayBuffer | undefined {
    const picked = this.picked;
    picked.length = 0;
    let size = 0;
    for (let i = 0; i < triples.length; i += 3) {
      const slot = this.slotFor(triples[i + 2] as string);
      if (slot === null) return undefined;
      picked.push(slot);
      size += RECORD_HEAD + (triples[i] as Uint8Array).length;
    }
    const buf = new ArrayBuffer(size);
    const bytes = new Uint8Array(buf);
    const view = new DataView(buf);
    let off = 0;
    for (let i = 0, r = 0; i < triples.length; i += 3, r++) {
      const d = triples[i] as Uint8Array;
      view.setUint32(off, d.length, true);
      bytes.set(picked[r], off + 4);
      view.setUint16(off + 6, triples[i + 1] as number, false);
      bytes.set(d, off + RECORD_HEAD);
      off += RECORD_HEAD + d.length;
    }
    picked.length = 0;
    return buf;
  }
}

// Bencoding (BitTorrent BEP 3 §"bencoding"), the body format of the rtpengine ng control protocol
// (rtpengine docs "ng Control Protocol": "<cookie> <bencoded dictionary>"). Pure, no I/O.
//
// Byte strings decode to JS strings through UTF-8 (SDP and ng keys are text); integers to
// numbers. Dictionary keys are written in sorted byte order as BEP 3 requires.

import { BencodeError } from "./errors.ts";

/** A bencodable value. `undefined` dictionary entries are skipped on encode. */
export type BValue = string | number | Uint8Array | BValue[] | {
  [key: string]: BValue | undefined;
};

/** A decoded value: byte strings become strings. */
export type BDecoded = string | number | BDecoded[] | { [key: string]: BDecoded };

const enc = new TextEncoder();
const dec = new TextDecoder();
const D = 0x64, E = 0x65, I = 0x69, L = 0x6c, COLON = 0x3a, MINUS = 0x2d;

/** Encode a value to bencode bytes. Non-integer numbers are rejected (bencode has none). */
export function bencode(value: BValue): Uint8Array {
  const parts: Uint8Array[] = [];
  write(value, parts);
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function write(v: BValue, out: Uint8Array[]): void {
  if (typeof v === "string") return writeBytes(enc.encode(v), out);
  if (v instanceof Uint8Array) return writeBytes(v, out);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new TypeError(`bencode: ${v} is not a safe integer`);
    out.push(enc.encode(`i${v}e`));
    return;
  }
  if (Array.isArray(v)) {
    out.push(Uint8Array.of(L));
    for (const x of v) write(x, out);
    out.push(Uint8Array.of(E));
    return;
  }
  out.push(Uint8Array.of(D));
  // BEP 3: keys sorted as raw byte strings; for the ASCII keys ng uses this equals code order.
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).map((k) =>
    [k, enc.encode(k)] as const
  )
    .sort((a, b) => compareBytes(a[1], b[1]));
  for (const [k, kb] of keys) {
    writeBytes(kb, out);
    write(v[k]!, out);
  }
  out.push(Uint8Array.of(E));
}

function writeBytes(b: Uint8Array, out: Uint8Array[]): void {
  out.push(enc.encode(`${b.length}:`), b);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Decode exactly one bencoded value filling `bytes`; throws {@link BencodeError} otherwise. */
export function bdecode(bytes: Uint8Array): BDecoded {
  const r = { pos: 0 };
  const v = read(bytes, r, 0);
  if (r.pos !== bytes.length) throw new BencodeError(r.pos, "end of input", describe(bytes, r.pos));
  return v;
}

const MAX_DEPTH = 64;

function describe(b: Uint8Array, pos: number): string {
  return pos >= b.length ? "end of input" : JSON.stringify(String.fromCharCode(b[pos]));
}

function read(b: Uint8Array, r: { pos: number }, depth: number): BDecoded {
  if (depth > MAX_DEPTH) throw new BencodeError(r.pos, `nesting under ${MAX_DEPTH}`, "deeper");
  const c = b[r.pos];
  if (c === I) {
    r.pos++;
    return readInt(b, r, E);
  }
  if (c === L) {
    r.pos++;
    const list: BDecoded[] = [];
    while (b[r.pos] !== E) {
      if (r.pos >= b.length) throw new BencodeError(r.pos, "list item or 'e'", "end of input");
      list.push(read(b, r, depth + 1));
    }
    r.pos++;
    return list;
  }
  if (c === D) {
    r.pos++;
    const dict: { [k: string]: BDecoded } = {};
    while (b[r.pos] !== E) {
      if (r.pos >= b.length) throw new BencodeError(r.pos, "dictionary key or 'e'", "end of input");
      if (b[r.pos] < 0x30 || b[r.pos] > 0x39) {
        throw new BencodeError(r.pos, "byte-string dictionary key", describe(b, r.pos));
      }
      const k = readString(b, r);
      // defineProperty: a "__proto__" key from the wire stays data, never a prototype.
      Object.defineProperty(dict, k, {
        value: read(b, r, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    r.pos++;
    return dict;
  }
  if (c !== undefined && c >= 0x30 && c <= 0x39) return readString(b, r);
  throw new BencodeError(r.pos, "'i', 'l', 'd' or a string length", describe(b, r.pos));
}

function readInt(b: Uint8Array, r: { pos: number }, end: number): number {
  const start = r.pos;
  if (b[r.pos] === MINUS) r.pos++;
  const digits = r.pos;
  while (b[r.pos] >= 0x30 && b[r.pos] <= 0x39) r.pos++;
  if (r.pos === digits) throw new BencodeError(r.pos, "a digit", describe(b, r.pos));
  if (b[r.pos] !== end) {
    throw new BencodeError(r.pos, `'${String.fromCharCode(end)}'`, describe(b, r.pos));
  }
  const text = dec.decode(b.subarray(start, r.pos));
  r.pos++;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new BencodeError(start, "a safe integer", text);
  return n;
}

function readString(b: Uint8Array, r: { pos: number }): string {
  const at = r.pos;
  const len = readInt(b, r, COLON);
  if (len < 0) throw new BencodeError(at, "a non-negative string length", String(len));
  if (r.pos + len > b.length) {
    throw new BencodeError(r.pos, `${len} bytes of string`, `${b.length - r.pos} bytes`);
  }
  const s = dec.decode(b.subarray(r.pos, r.pos + len));
  r.pos += len;
  return s;
}

// ITU-T X.690 DER, strictly: a bounds-checked reader for the structures X.509 and PKCS#8 use, the
// few encodings a key wrapper needs, and PEM (RFC 7468) blocks. Anything not DER is "malformed".

import { CertificateError } from "./errors.ts";

/** Bytes backed by a plain ArrayBuffer, which is what crypto.subtle accepts. */
export type Bytes = Uint8Array<ArrayBuffer>;

export function malformed(offset: number, message: string): CertificateError {
  return new CertificateError("malformed", `DER at offset ${offset}: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// DER reading (X.690 §8 and §10)

/** Universal tags, and the context-specific ones X.509 uses. */
export const DerTag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** [n] constructed, i.e. EXPLICIT: 0xa0 + n. */
  CONTEXT: 0xa0,
} as const;

/** One DER element. */
export interface Tlv {
  tag: number;
  /** Offset of the tag byte in the outermost data read, for messages. */
  offset: number;
  /** The element's contents (no tag, no length). */
  value: Bytes;
  /** The whole element: tag, length and contents. */
  raw: Bytes;
}

export function tagName(tag: number): string {
  return `0x${tag.toString(16).padStart(2, "0")}`;
}

/**
 * A cursor over the DER elements of `buf`. Every read is bounds-checked against `buf`, which is
 * the parent's contents only, so a nested reader can never run into its parent's bytes; anything
 * not DER throws "malformed". `base` is `buf`'s offset in the outermost data, for messages.
 */
export class DerReader {
  private pos = 0;

  constructor(private readonly buf: Bytes, private readonly base = 0) {}

  /** A reader over the contents of `tlv`. */
  static of(tlv: Tlv): DerReader {
    return new DerReader(tlv.value, tlv.offset + tlv.raw.length - tlv.value.length);
  }

  /** Absolute offset of the next element. */
  get offset(): number {
    return this.base + this.pos;
  }

  get atEnd(): boolean {
    return this.pos >= this.buf.length;
  }

  /** The next element's tag, or undefined at the end. */
  peekTag(): number | undefined {
    return this.atEnd ? undefined : this.buf[this.pos];
  }

  /** The next element, whatever its tag. */
  read(what: string): Tlv {
    const buf = this.buf;
    const start = this.pos;
    const at = (p: number) => this.base + p;
    if (start >= buf.length) throw malformed(at(start), `expected ${what}, found end of data`);
    const tag = buf[start];
    // High-tag-number form (X.690 §8.1.2.4) never occurs in the structures read here.
    if ((tag & 0x1f) === 0x1f) {
      throw malformed(at(start), `expected ${what}, found a multi-byte tag`);
    }
    let p = start + 1;
    if (p >= buf.length) {
      throw malformed(at(p), `expected the length of ${what}, found end of data`);
    }
    const first = buf[p++];
    let length: number;
    if (first < 0x80) {
      length = first;
    } else if (first === 0x80) {
      throw malformed(at(start + 1), `expected a definite length for ${what}, found indefinite`);
    } else {
      const n = first & 0x7f;
      if (n > 4) throw malformed(at(start + 1), `expected at most 4 length bytes, found ${n}`);
      if (p + n > buf.length) {
        throw malformed(at(p), `expected ${n} length bytes, found end of data`);
      }
      if (buf[p] === 0) throw malformed(at(p), "expected a minimal length, found a leading 0");
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + buf[p++];
      if (length < 0x80) {
        throw malformed(at(start + 1), `expected the short length form for ${length}, found long`);
      }
    }
    if (length > buf.length - p) {
      throw malformed(
        at(start),
        `${what} (tag ${tagName(tag)}) is ${length} bytes long, only ${buf.length - p} remain`,
      );
    }
    this.pos = p + length;
    return {
      tag,
      offset: at(start),
      value: buf.subarray(p, p + length),
      raw: buf.subarray(start, p + length),
    };
  }

  /** The next element, which must have tag `tag`. */
  expect(tag: number, what: string): Tlv {
    const found = this.peekTag();
    if (found !== tag) {
      throw malformed(
        this.offset,
        `expected ${what} (tag ${tagName(tag)}), found ` +
          (found === undefined ? "end of data" : `tag ${tagName(found)}`),
      );
    }
    return this.read(what);
  }

  /** The next element if it has tag `tag`, else undefined (for OPTIONAL and DEFAULT fields). */
  optional(tag: number, what: string): Tlv | undefined {
    return this.peekTag() === tag ? this.read(what) : undefined;
  }

  /** A reader over the contents of the next element, which must have tag `tag`. */
  enter(tag: number, what: string): DerReader {
    return DerReader.of(this.expect(tag, what));
  }

  /** Throws unless every byte was read: DER has exactly one encoding, trailing bytes are not. */
  finish(what: string): void {
    if (!this.atEnd) {
      throw malformed(
        this.offset,
        `expected the end of ${what}, found ${this.buf.length - this.pos} more bytes`,
      );
    }
  }
}

/** Dotted form of an OBJECT IDENTIFIER's contents (X.690 §8.19). */
export function decodeOid(tlv: Tlv): string {
  const v = tlv.value;
  if (v.length === 0) throw malformed(tlv.offset, "expected an OBJECT IDENTIFIER, found 0 bytes");
  const arcs: bigint[] = [];
  let arc = 0n;
  let arcBytes = 0;
  for (let i = 0; i < v.length; i++) {
    if (arcBytes === 0 && v[i] === 0x80) {
      throw malformed(tlv.offset, "expected a minimal OID arc, found a leading 0x80");
    }
    // 20 bytes hold the 128-bit UUID arcs of 2.25; longer ones only make BigInt work hard.
    if (++arcBytes > 20) throw malformed(tlv.offset, "expected OID arcs of at most 20 bytes");
    arc = (arc << 7n) | BigInt(v[i] & 0x7f);
    if ((v[i] & 0x80) === 0) {
      arcs.push(arc);
      arc = 0n;
      arcBytes = 0;
    }
  }
  const fresh = arcBytes === 0;
  if (!fresh) throw malformed(tlv.offset, "expected the OID's last arc to end, found end of data");
  const first = arcs[0] < 40n ? 0n : arcs[0] < 80n ? 1n : 2n;
  return [first, arcs[0] - first * 40n, ...arcs.slice(1)].join(".");
}

/** The contents of a DER INTEGER, checked to be minimal (X.690 §8.3.2). */
export function integerBytes(tlv: Tlv): Bytes {
  const v = tlv.value;
  if (v.length === 0) throw malformed(tlv.offset, "expected an INTEGER, found 0 bytes");
  if (v.length > 1 && ((v[0] === 0 && v[1] < 0x80) || (v[0] === 0xff && v[1] >= 0x80))) {
    throw malformed(tlv.offset, "expected a minimal INTEGER, found a redundant leading byte");
  }
  return v;
}

/** A small non-negative INTEGER (version numbers, path lengths). */
export function smallInteger(tlv: Tlv, what: string): number {
  const v = integerBytes(tlv);
  if (v[0] >= 0x80 || v.length > 4) {
    throw malformed(tlv.offset, `expected a small non-negative ${what}, found ${v.length} bytes`);
  }
  return v.reduce((n, b) => n * 256 + b, 0);
}

export function decodeBoolean(tlv: Tlv, what: string): boolean {
  // DER (X.690 §11.1) allows only 0x00 and 0xff.
  if (tlv.value.length !== 1 || (tlv.value[0] !== 0 && tlv.value[0] !== 0xff)) {
    throw malformed(tlv.offset, `expected ${what} as one byte 0x00 or 0xff`);
  }
  return tlv.value[0] === 0xff;
}

/** The bits of a BIT STRING whose length is a whole number of bytes (keys, signatures). */
export function octetAlignedBits(tlv: Tlv, what: string): Bytes {
  if (tlv.value.length === 0 || tlv.value[0] !== 0) {
    throw malformed(tlv.offset, `expected ${what} as a BIT STRING with 0 unused bits`);
  }
  return tlv.value.subarray(1);
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Byte-wise equality, e.g. of an issuer Name and a subject Name. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Wraps `content` as one DER element; for the few structures built rather than read. */
export function encodeTlv(tag: number, content: Uint8Array): Bytes {
  const n = content.length;
  const length = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : n < 0x1000000
    ? [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]
    : [0x84, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + length.length + n);
  out[0] = tag;
  out.set(length, 1);
  out.set(content, 1 + length.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// PEM (RFC 7468)

/** DER of every `-----BEGIN <label>-----` block of `text`, in order. */
export function pemBlocks(text: string, label = "CERTIFICATE"): Bytes[] {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const out: Bytes[] = [];
  let at = text.indexOf(begin);
  while (at >= 0) {
    const bodyStart = at + begin.length;
    const bodyEnd = text.indexOf(end, bodyStart);
    if (bodyEnd < 0) {
      throw new CertificateError(
        "malformed",
        `PEM: expected '${end}' after the '${begin}' at character ${at}, found none`,
      );
    }
    out.push(base64Decode(text.slice(bodyStart, bodyEnd), label));
    at = text.indexOf(begin, bodyEnd + end.length);
  }
  return out;
}

function base64Decode(body: string, label: string): Bytes {
  const compact = body.replace(/\s+/g, "");
  let binary: string;
  try {
    binary = atob(compact);
  } catch (e) {
    const header = /^[A-Za-z-]+:/m.test(body) ? " (found RFC 1421 headers, e.g. encryption)" : "";
    throw new CertificateError(
      "malformed",
      `PEM: expected base64 in the '${label}' block${header}`,
      { cause: e },
    );
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

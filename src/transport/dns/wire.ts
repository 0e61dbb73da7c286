// RFC 1035 §4 DNS messages, as much as RFC 3263 (locating SIP servers) needs: A, AAAA (RFC 3596),
// SRV (RFC 2782), NAPTR (RFC 3403) and CNAME answers, the SOA of negative answers (RFC 2308) and
// an EDNS0 OPT record (RFC 6891). Pure: no I/O, web-standard APIs only. Every packet is
// untrusted input, so every read is bounds-checked and any defect is a DnsError.

/** Record types the stub resolver asks for and decodes. */
export type RecordType = "A" | "AAAA" | "SRV" | "NAPTR" | "CNAME";

/** RFC 1035 §3.2.2 / RFC 3596 / RFC 2782 / RFC 3403 type codes. */
export const TYPE_CODE: Readonly<Record<RecordType, number>> = Object.freeze({
  A: 1,
  CNAME: 5,
  AAAA: 28,
  SRV: 33,
  NAPTR: 35,
});

const SOA = 6;
const OPT = 41;
const CLASS_IN = 1;
/** RFC 6891 §6.2.5 and the DNS Flag Day 2020 advice: no IP fragmentation on any usual path. */
export const EDNS_UDP_SIZE = 1232;

/** Failure families of the resolver; `code` tells the caller what happened. */
export type DnsErrorCode =
  | "EMALFORMED" // a packet that does not parse
  | "EBADNAME" // a name that cannot be asked (label > 63, name > 253, empty label, non-ASCII)
  | "ETIMEOUT" // no server answered
  | "ESERVFAIL" // RCODE 2
  | "EREFUSED" // RCODE 5
  | "ERCODE" // another error RCODE (FORMERR, NOTIMP...)
  | "ETRUNCATED" // TC set: the answer did not fit in UDP
  | "ESOCKET" // a socket could not be opened or a datagram not sent
  | "ECLOSED"; // the client was closed

/** A DNS failure: malformed packet, bad name, server error, timeout or closed client. */
export class DnsError extends Error {
  override name = "DnsError";
  constructor(message: string, readonly code: DnsErrorCode, options?: { cause?: unknown }) {
    super(message, options);
  }
}

interface RecordBase {
  /** Owner name, lowercase, no trailing dot. */
  name: string;
  /** Seconds. */
  ttl: number;
}

/** A decoded resource record; names are lowercase without the trailing dot ("" is the root). */
export type DnsRecord =
  | RecordBase & { type: "A"; address: string }
  | RecordBase & { type: "AAAA"; address: string }
  | RecordBase & { type: "SRV"; priority: number; weight: number; port: number; target: string }
  | RecordBase & {
    type: "NAPTR";
    order: number;
    preference: number;
    /** As sent; RFC 3403 §4.1 makes flags and service case-insensitive. */
    flags: string;
    service: string;
    regexp: string;
    replacement: string;
  }
  | RecordBase & { type: "CNAME"; target: string };

/** The question of a message; `type` is the numeric QTYPE. */
export interface DnsQuestion {
  name: string;
  type: number;
}

/** A decoded message. */
export interface DnsResponse {
  id: number;
  /** QR: false for a query (a server never sends one; the client ignores it). */
  isResponse: boolean;
  rcode: number;
  /** TC: the message was cut to fit; its record sections are not decoded (RFC 2181 §9). */
  truncated: boolean;
  question?: DnsQuestion;
  answers: DnsRecord[];
  additionals: DnsRecord[];
  /** Seconds a negative answer may be cached: min(SOA TTL, SOA MINIMUM), RFC 2308 §5. */
  negativeTtl?: number;
}

/** RCODEs the client tells apart (RFC 1035 §4.1.1). */
export const RCODE = Object.freeze({ NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 });

const MAX_NAME_WIRE = 255; // RFC 1035 §2.3.4, length octets and the root included
const MAX_POINTERS = 32; // more than any honest message needs; stops pointer loops

function malformed(what: string, off: number): DnsError {
  return new DnsError(`malformed DNS message: ${what} at offset ${off}`, "EMALFORMED");
}

/**
 * A query for `name`/`type`, class IN, recursion desired, with an EDNS0 OPT record offering
 * 1232 bytes so SRV and NAPTR answers with their additional records come back whole.
 */
export function encodeQuery(id: number, name: string, type: RecordType): Uint8Array {
  const text = name.endsWith(".") ? name.slice(0, -1) : name;
  if (text.length === 0) throw badName(name, "empty name");
  if (text.length > 253) throw badName(name, "longer than 253 characters");
  const qname = text.length + 2;
  const buf = new Uint8Array(12 + qname + 4 + 11);
  buf[0] = (id >>> 8) & 0xff;
  buf[1] = id & 0xff;
  buf[2] = 0x01; // RD
  buf[5] = 1; // QDCOUNT
  buf[11] = 1; // ARCOUNT: the OPT record
  let lenAt = 12;
  let off = 13;
  for (let i = 0; i <= text.length; i++, off++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      const len = off - lenAt - 1;
      if (len === 0) throw badName(name, "empty label");
      if (len > 63) throw badName(name, "label longer than 63 bytes");
      buf[lenAt] = len;
      lenAt = off;
    } else if (c <= 0x20 || c >= 0x7f) {
      // Names come from SIP URIs and configuration: refuse anything but printable ASCII.
      throw badName(name, "not printable ASCII");
    } else {
      buf[off] = c;
    }
  }
  // buf[lenAt] is the root label, already 0.
  off = lenAt + 1;
  const code = TYPE_CODE[type];
  buf[off + 1] = code;
  buf[off + 3] = CLASS_IN;
  off += 4;
  // OPT: root name, TYPE 41, CLASS = UDP payload size, TTL 0 (no DO bit), RDLENGTH 0.
  buf[off + 2] = OPT;
  buf[off + 3] = EDNS_UDP_SIZE >>> 8;
  buf[off + 4] = EDNS_UDP_SIZE & 0xff;
  return buf;
}

function badName(name: string, why: string): DnsError {
  return new DnsError(`cannot ask for ${JSON.stringify(name)}: ${why}`, "EBADNAME");
}

/** Decode a message; throws DnsError("EMALFORMED") for anything that does not parse. */
export function decodeResponse(buf: Uint8Array): DnsResponse {
  if (buf.length < 12) throw malformed("header shorter than 12 bytes", 0);
  const r = new Reader(buf);
  const id = r.u16(0);
  const flags = r.u16(2);
  const qd = r.u16(4);
  const counts = [r.u16(6), r.u16(8), r.u16(10)];
  const res: DnsResponse = {
    id,
    isResponse: (flags & 0x8000) !== 0,
    rcode: flags & 0x0f,
    truncated: (flags & 0x0200) !== 0,
    answers: [],
    additionals: [],
  };
  r.off = 12;
  for (let i = 0; i < qd; i++) {
    const name = r.name(buf.length);
    const type = r.u16(r.off);
    r.u16(r.off + 2); // QCLASS must be there too
    r.off += 4;
    if (i === 0) res.question = { name, type };
  }
  if (res.truncated) return res;
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section]; i++) {
      const rec = r.record();
      if (rec === undefined) continue;
      if (rec.type === "SOA") {
        if (section === 1 && res.negativeTtl === undefined) {
          res.negativeTtl = Math.min(rec.ttl, rec.minimum);
        }
      } else if (section === 0) res.answers.push(rec);
      else if (section === 2) res.additionals.push(rec);
    }
  }
  return res;
}

type Soa = { type: "SOA"; ttl: number; minimum: number };

/** A cursor over one message; every read checks its bounds. */
class Reader {
  off = 0;
  constructor(readonly buf: Uint8Array) {}

  u16(at: number): number {
    if (at + 2 > this.buf.length) throw malformed("16-bit field past the end", at);
    return (this.buf[at] << 8) | this.buf[at + 1];
  }

  u32(at: number): number {
    if (at + 4 > this.buf.length) throw malformed("32-bit field past the end", at);
    return ((this.buf[at] << 24) | (this.buf[at + 1] << 16) | (this.buf[at + 2] << 8) |
      this.buf[at + 3]) >>> 0;
  }

  /**
   * A possibly compressed name (RFC 1035 §4.1.4) starting at `off`; inline labels must end
   * before `end` (the end of the RDATA they sit in). Pointers may go anywhere in the message
   * but are counted, and the expanded name is held to 255 bytes, so a loop cannot spin.
   */
  name(end: number): string {
    const buf = this.buf;
    let at = this.off;
    let limit = Math.min(end, buf.length);
    let wire = 1;
    let jumps = 0;
    let after = -1;
    let out = "";
    for (;;) {
      // Written so that NaN fails too: whatever goes wrong upstream, this loop cannot spin.
      if (!(at < limit)) throw malformed("name runs past its end", at);
      const len = buf[at];
      if (len === 0) {
        at++;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (at + 1 >= limit) throw malformed("compression pointer cut short", at);
        if (++jumps > MAX_POINTERS) throw malformed("too many compression pointers", at);
        if (after < 0) after = at + 2;
        at = ((len & 0x3f) << 8) | buf[at + 1];
        limit = buf.length;
        continue;
      }
      if ((len & 0xc0) !== 0) throw malformed(`label type 0x${len.toString(16)}`, at);
      wire += len + 1;
      if (wire > MAX_NAME_WIRE) throw malformed("name longer than 255 bytes", at);
      if (at + 1 + len > limit) throw malformed("label runs past its end", at);
      if (out.length > 0) out += ".";
      out += labelText(buf, at + 1, len);
      at += 1 + len;
    }
    this.off = after >= 0 ? after : at;
    return out;
  }

  /** RFC 1035 §3.3: a <character-string> inside RDATA ending at `end`. */
  charString(end: number): string {
    const at = this.off;
    if (!(at < end)) throw malformed("character-string past RDATA", at);
    const len = this.buf[at];
    if (at + 1 + len > end) throw malformed("character-string past RDATA", at);
    this.off = at + 1 + len;
    return utf8.decode(this.buf.subarray(at + 1, at + 1 + len));
  }

  /** One resource record; undefined for classes and types the resolver does not use. */
  record(): DnsRecord | Soa | undefined {
    const name = this.name(this.buf.length);
    const at = this.off;
    const type = this.u16(at);
    const klass = this.u16(at + 2);
    const raw = this.u32(at + 4);
    const rdlen = this.u16(at + 8);
    const start = at + 10;
    const end = start + rdlen;
    if (end > this.buf.length) throw malformed("RDATA past the end", at + 8);
    // RFC 2181 §8: a TTL with the top bit set is taken as zero.
    const ttl = raw > 0x7fffffff ? 0 : raw;
    this.off = start;
    let rec: DnsRecord | Soa | undefined;
    if (type === OPT || klass !== CLASS_IN) rec = undefined;
    else if (type === TYPE_CODE.A) {
      if (rdlen !== 4) throw malformed(`A RDLENGTH ${rdlen}`, at + 8);
      const b = this.buf;
      rec = {
        name,
        ttl,
        type: "A",
        address: `${b[start]}.${b[start + 1]}.${b[start + 2]}.${b[start + 3]}`,
      };
    } else if (type === TYPE_CODE.AAAA) {
      if (rdlen !== 16) throw malformed(`AAAA RDLENGTH ${rdlen}`, at + 8);
      rec = { name, ttl, type: "AAAA", address: ipv6Text(this.buf.subarray(start, end)) };
    } else if (type === TYPE_CODE.CNAME) {
      rec = { name, ttl, type: "CNAME", target: this.name(end) };
    } else if (type === TYPE_CODE.SRV) {
      if (rdlen < 7) throw malformed(`SRV RDLENGTH ${rdlen}`, at + 8);
      const priority = this.u16(start);
      const weight = this.u16(start + 2);
      const port = this.u16(start + 4);
      this.off = start + 6;
      rec = { name, ttl, type: "SRV", priority, weight, port, target: this.name(end) };
    } else if (type === TYPE_CODE.NAPTR) {
      if (rdlen < 8) throw malformed(`NAPTR RDLENGTH ${rdlen}`, at + 8);
      const order = this.u16(start);
      const preference = this.u16(start + 2);
      this.off = start + 4;
      const flags = this.charString(end);
      const service = this.charString(end);
      const regexp = this.charString(end);
      const replacement = this.name(end);
      rec = { name, ttl, type: "NAPTR", order, preference, flags, service, regexp, replacement };
    } else if (type === SOA) {
      this.name(end); // MNAME
      this.name(end); // RNAME
      if (this.off + 20 > end) throw malformed("SOA RDATA too short", this.off);
      rec = { type: "SOA", ttl, minimum: this.u32(this.off + 16) };
    }
    // RDATA that says it is longer than its fields is accepted; the next record starts after it.
    if (rec !== undefined && this.off > end) throw malformed("RDATA overrun", start);
    this.off = end;
    return rec;
  }
}

const utf8 = new TextDecoder();

/**
 * A label as text: ASCII lowercased; dots, backslashes and bytes outside printable ASCII as
 * RFC 1035 §5.1 "\DDD" escapes, so a hostile label cannot pose as two labels or smuggle controls.
 */
function labelText(buf: Uint8Array, at: number, len: number): string {
  let s = "";
  for (let i = at; i < at + len; i++) {
    const c = buf[i];
    if (c >= 0x41 && c <= 0x5a) s += String.fromCharCode(c + 32);
    else if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) s += String.fromCharCode(c);
    else s += "\\" + String(c).padStart(3, "0");
  }
  return s;
}

/** RFC 5952 text of a 16-byte address: lowercase, longest zero run as "::", mapped IPv4 dotted. */
export function ipv6Text(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let best = -1;
  let bestLen = 1; // RFC 5952 §4.2.2: a single zero group is not shortened
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(":");
  return best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLen, 8)}`;
}

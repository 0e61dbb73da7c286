// RFC 3261 §7 SIP messages. Start line and headers are split once; a header's grammar is parsed
// only when read, and cached until the header list changes. Unknown headers keep their value
// byte for byte.

import { SipParseError } from "./errors.ts";
import { canonicalName, headerKey, LIST_HEADERS } from "./headers.ts";
import { NameAddr, parseNameAddr } from "./name-addr.ts";
import { parseUri, type Uri } from "./uri.ts";
import { parseVia, type Via } from "./via.ts";

/** One header line: lowercase long-form key, output name, value (unfolded, trimmed). */
export interface Header {
  key: string;
  name: string;
  value: string;
}

/** A CSeq value (RFC 3261 §20.16). */
export interface CSeq {
  seq: number;
  method: string;
}

const EMPTY = new Uint8Array(0);

/**
 * Split a list header value on commas outside quotes and <> (RFC 3261 §7.3.1). Empty elements
 * are kept (as "") so the grammar parser rejects them (RFC 4475 §3.1.2.1 badinv01).
 */
export function splitList(value: string): string[] {
  // Fast path: most list headers hold one value.
  if (value.indexOf(",") < 0) return [value.trim()];
  const out: string[] = [];
  let start = 0;
  let inQ = false;
  let inA = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQ) {
      if (c === 92) i++; // backslash escapes the next char
      else if (c === 34) inQ = false;
    } else if (c === 34) inQ = true;
    else if (c === 60) inA = true;
    else if (c === 62) inA = false;
    else if (c === 44 && !inA) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out;
}

/** Parse a CSeq value; the number must fit 32 bits (RFC 3261 §8.1.1.5, §20.16). */
export function parseCSeq(value: string): CSeq {
  const len = value.length;
  let i = 0;
  while (i < len && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++;
  const ns = i;
  while (i < len && value.charCodeAt(i) >= 48 && value.charCodeAt(i) <= 57) i++;
  const ne = i;
  while (i < len && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++;
  const ms = i;
  while (i < len && value.charCodeAt(i) > 32 && value.charCodeAt(i) !== 127) i++;
  const me = i;
  while (i < len && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++;
  if (ne === ns || ms === ne || me === ms || i !== len) {
    throw new SipParseError("CSeq", `expected "number method", got "${value.slice(0, 40)}"`);
  }
  const digits = value.slice(ns, ne);
  const seq = Number(digits);
  // Leading zeros are legal (RFC 4475 wsinv "0009"); the value is what must fit.
  if (seq > 0xffffffff) {
    throw new SipParseError("CSeq", `sequence number ${digits.slice(0, 24)} above 2^32-1`);
  }
  return { seq, method: value.slice(ms, me) };
}

/** Parse Max-Forwards: 1*DIGIT, 0..255 (RFC 3261 §20.22; leading zeros are legal). */
export function parseMaxForwards(value: string): number {
  const v = value.trim();
  let ok = v.length > 0;
  for (let i = 0; ok && i < v.length; i++) {
    const c = v.charCodeAt(i);
    ok = c >= 48 && c <= 57;
  }
  const n = ok ? Number(v) : NaN;
  if (!(n <= 255)) {
    throw new SipParseError("Max-Forwards", `expected 0..255, got "${v.slice(0, 24)}"`);
  }
  return n;
}

const parseContact = (v: string) => parseNameAddr(v, "Contact");
const parseRoute = (v: string) => parseNameAddr(v, "Route");
const parseRecordRoute = (v: string) => parseNameAddr(v, "Record-Route");

/** Reject CR and LF in header names and values we are asked to write (header injection). */
function checkValue(name: string, value: string): void {
  if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
    throw new SipParseError(name.replace(/[\r\n]/g, " "), "CR or LF in a header name or value");
  }
}

/**
 * Parsed header grammar of one message. A class with every field declared, so every cache has
 * one shape (an object grown key by key in whatever order the getters run takes a new shape per
 * order) and a read is a field load, with no closure to build on every access.
 */
class ParsedHeaders {
  via: Via[] | undefined = undefined;
  cseq: CSeq | undefined = undefined;
  from: NameAddr | undefined = undefined;
  to: NameAddr | undefined = undefined;
  contact: NameAddr[] | undefined = undefined;
  recordRoute: NameAddr[] | undefined = undefined;
  route: NameAddr[] | undefined = undefined;
}

/** Common part of requests and responses. */
export abstract class SipMessage {
  private cache: ParsedHeaders | undefined;

  constructor(public headers: Header[] = [], public body: Uint8Array = EMPTY) {}

  abstract readonly isRequest: boolean;

  /** First value of a header (the whole line's value), or undefined. */
  get(name: string): string | undefined {
    return this.first(headerKey(name));
  }
  /**
   * {@link get} by key (the lower-case long name a Header holds, "call-id"): no name to fold,
   * for the lookups every message makes.
   */
  first(key: string): string | undefined {
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) if (hs[i].key === key) return hs[i].value;
    return undefined;
  }
  /** Every value of a header: lines in order, list headers split on commas. */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    const list = LIST_HEADERS.has(key);
    for (const h of this.headers) {
      if (h.key !== key) continue;
      if (list) { for (const v of splitList(h.value)) out.push(v); }
      else out.push(h.value);
    }
    return out;
  }
  /** Whether at least one line of the header is present. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  /** Replace every line of a header with one (appended where the first one was, or at the end). */
  set(name: string, value: string): this {
    checkValue(name, value);
    const { key, name: canonical } = namesOf(name);
    const i = this.headers.findIndex((h) => h.key === key);
    const h: Header = { key, name: canonical, value };
    if (i < 0) this.headers.push(h);
    else {
      this.headers[i] = h;
      this.headers = this.headers.filter((x, j) => j <= i || x.key !== key);
    }
    this.cache = undefined;
    return this;
  }
  /** Append a header line. */
  add(name: string, value: string): this {
    checkValue(name, value);
    const n = namesOf(name);
    this.headers.push({ key: n.key, name: n.name, value });
    this.cache = undefined;
    return this;
  }
  /** Insert a header line before the first existing line of that header (e.g. a new top Via). */
  prepend(name: string, value: string): this {
    checkValue(name, value);
    const n = namesOf(name);
    const hs = this.headers;
    let i = 0;
    while (i < hs.length && hs[i].key !== n.key) i++;
    // At the end when there is none: splice there is a push.
    hs.splice(i, 0, { key: n.key, name: n.name, value });
    this.cache = undefined;
    return this;
  }
  /** Remove every line of a header. */
  remove(name: string): this {
    const key = headerKey(name);
    this.headers = this.headers.filter((h) => h.key !== key);
    this.cache = undefined;
    return this;
  }

  // The parsed values of every line of a list header, split on commas, in order; `skipStar`
  // drops "*" (Contact). One loop, no intermediate arrays: runs for every message.
  private parseList<T>(key: string, parse: (v: string) => T, skipStar = false): T[] {
    const out: T[] = [];
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) {
      const h = hs[i];
      if (h.key !== key) continue;
      const v = h.value;
      if (v.indexOf(",") < 0) {
        const t = v.trim();
        if (!skipStar || t !== "*") out.push(parse(t));
      } else {
        for (const t of splitList(v)) if (!skipStar || t !== "*") out.push(parse(t));
      }
    }
    return out;
  }

  /** Every Via, top first. */
  get vias(): Via[] {
    const c = this.cache ??= new ParsedHeaders();
    return c.via ??= this.parseList("via", parseVia);
  }
  /** The top Via (where responses go, §18.2.2), or undefined when there is none. */
  get topVia(): Via | undefined {
    return this.vias[0];
  }
  /** Call-ID value ("" when absent). */
  get callId(): string {
    return this.first("call-id") ?? "";
  }
  /** The CSeq (first line); throws {@link SipParseError} when absent or malformed. */
  get cseq(): CSeq {
    const c = this.cache ??= new ParsedHeaders();
    if (c.cseq !== undefined) return c.cseq;
    const v = this.first("cseq");
    if (v === undefined) throw new SipParseError("CSeq", "missing");
    return c.cseq = parseCSeq(v);
  }
  /** The From value (first line); throws {@link SipParseError} when absent or malformed. */
  get from(): NameAddr {
    const c = this.cache ??= new ParsedHeaders();
    return c.from ??= parseNameAddr(this.must("from", "From"), "From");
  }
  /** The To value (first line); throws {@link SipParseError} when absent or malformed. */
  get to(): NameAddr {
    const c = this.cache ??= new ParsedHeaders();
    return c.to ??= parseNameAddr(this.must("to", "To"), "To");
  }
  /** Contact values (none for "*" or when absent). */
  get contacts(): NameAddr[] {
    const c = this.cache ??= new ParsedHeaders();
    return c.contact ??= this.parseList("contact", parseContact, true);
  }
  /** Record-Route values, top first. */
  get recordRoutes(): NameAddr[] {
    const c = this.cache ??= new ParsedHeaders();
    return c.recordRoute ??= this.parseList("record-route", parseRecordRoute);
  }
  /** Route values, top first. */
  get routes(): NameAddr[] {
    const c = this.cache ??= new ParsedHeaders();
    return c.route ??= this.parseList("route", parseRoute);
  }
  /** Max-Forwards, or undefined when absent; throws {@link SipParseError} when malformed. */
  get maxForwards(): number | undefined {
    const v = this.first("max-forwards");
    return v === undefined ? undefined : parseMaxForwards(v);
  }

  private must(key: string, part: string): string {
    const v = this.first(key);
    if (v === undefined) throw new SipParseError(part, "expected the header, it is missing");
    return v;
  }
  /** Drop cached header grammar after editing `headers` directly. */
  invalidate(): void {
    this.cache = undefined;
  }
}

/** A request: method and Request-URI text, parsed to a {@link Uri} on first read. */
export class SipRequest extends SipMessage {
  readonly isRequest = true;
  private _ruri: Uri | undefined;
  // The text _ruri was parsed from: `uri` is a public field and may be reassigned directly.
  private _ruriText: string | undefined;
  constructor(
    public method: string,
    public uri: string,
    headers: Header[] = [],
    body: Uint8Array = EMPTY,
  ) {
    super(headers, body);
  }
  /** The Request-URI parsed (any scheme; see isSupportedScheme), cached until set. */
  get ruri(): Uri {
    if (this._ruri === undefined || this._ruriText !== this.uri) {
      this._ruri = parseUri(this.uri, "Request-URI");
      this._ruriText = this.uri;
    }
    return this._ruri;
  }
  set ruri(u: Uri) {
    this._ruri = u;
    this.uri = this._ruriText = u.toString();
  }
}

/** A response: status code and reason phrase. */
export class SipResponse extends SipMessage {
  readonly isRequest = false;
  constructor(
    public status: number,
    public reason: string,
    headers: Header[] = [],
    body: Uint8Array = EMPTY,
  ) {
    super(headers, body);
  }
}

/** Build a header list from [name, value] pairs (names may be any case or compact). */
export function headerList(pairs: [string, string][]): Header[] {
  const out = new Array<Header>(pairs.length);
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i];
    const n = namesOf(p[0]);
    out[i] = { key: n.key, name: n.name, value: p[1] };
  }
  return out;
}

/** A header name as given → its key and output name, memoized (bounded) like headerKey. */
const NAMES = new Map<string, { key: string; name: string }>();
function namesOf(given: string): { key: string; name: string } {
  let n = NAMES.get(given);
  if (n === undefined) {
    const key = headerKey(given);
    n = { key, name: canonicalName(key) };
    if (NAMES.size < 2048) NAMES.set(given, n);
  }
  return n;
}

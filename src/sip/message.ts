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

/** Split a list header value on commas outside quotes and <> (RFC 3261 §7.3.1). */
export function splitList(value: string): string[] {
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

/** Parse a CSeq value; the number must fit 32 bits (RFC 3261 §8.1.1.5). */
export function parseCSeq(value: string): CSeq {
  const m = /^\s*([0-9]+)\s+([^\s]+)\s*$/.exec(value);
  if (!m) throw new SipParseError("CSeq", `malformed CSeq "${value.slice(0, 40)}"`);
  if (m[1].length > 10 || Number(m[1]) > 0xffffffff) {
    throw new SipParseError("CSeq", "sequence number above 2^32-1");
  }
  return { seq: Number(m[1]), method: m[2] };
}

/** Common part of requests and responses. */
export abstract class SipMessage {
  private cache: Map<string, unknown> | undefined;

  constructor(public headers: Header[] = [], public body: Uint8Array = EMPTY) {}

  abstract readonly isRequest: boolean;

  /** First value of a header (the whole line's value), or undefined. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const h of this.headers) if (h.key === key) return h.value;
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
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  /** Replace every line of a header with one (appended where the first one was, or at the end). */
  set(name: string, value: string): this {
    const key = headerKey(name);
    const i = this.headers.findIndex((h) => h.key === key);
    const h: Header = { key, name: canonicalName(key), value };
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
    const key = headerKey(name);
    this.headers.push({ key, name: canonicalName(key), value });
    this.cache = undefined;
    return this;
  }
  /** Insert a header line before the first existing line of that header (e.g. a new top Via). */
  prepend(name: string, value: string): this {
    const key = headerKey(name);
    const i = this.headers.findIndex((h) => h.key === key);
    const h = { key, name: canonicalName(key), value };
    if (i < 0) this.headers.push(h);
    else this.headers.splice(i, 0, h);
    this.cache = undefined;
    return this;
  }
  remove(name: string): this {
    const key = headerKey(name);
    this.headers = this.headers.filter((h) => h.key !== key);
    this.cache = undefined;
    return this;
  }

  private cached<T>(k: string, f: () => T): T {
    const c = this.cache ??= new Map();
    if (c.has(k)) return c.get(k) as T;
    const v = f();
    c.set(k, v);
    return v;
  }

  /** Every Via, top first. */
  get vias(): Via[] {
    return this.cached("via", () => this.getAll("via").map(parseVia));
  }
  get topVia(): Via | undefined {
    return this.vias[0];
  }
  get callId(): string {
    return this.get("call-id") ?? "";
  }
  get cseq(): CSeq {
    return this.cached("cseq", () => {
      const v = this.get("cseq");
      if (v === undefined) throw new SipParseError("CSeq", "missing");
      return parseCSeq(v);
    });
  }
  get from(): NameAddr {
    return this.cached("from", () => parseNameAddr(this.get("from") ?? "", "From"));
  }
  get to(): NameAddr {
    return this.cached("to", () => parseNameAddr(this.get("to") ?? "", "To"));
  }
  /** Contact values (none for "*" or when absent). */
  get contacts(): NameAddr[] {
    return this.cached(
      "contact",
      () => this.getAll("contact").filter((v) => v !== "*").map((v) => parseNameAddr(v, "Contact")),
    );
  }
  get recordRoutes(): NameAddr[] {
    return this.cached(
      "record-route",
      () => this.getAll("record-route").map((v) => parseNameAddr(v, "Record-Route")),
    );
  }
  get routes(): NameAddr[] {
    return this.cached("route", () => this.getAll("route").map((v) => parseNameAddr(v, "Route")));
  }
  /** Max-Forwards, or undefined when absent. */
  get maxForwards(): number | undefined {
    const v = this.get("max-forwards");
    if (v === undefined) return undefined;
    return Number(v.trim());
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
  constructor(
    public method: string,
    public uri: string,
    headers: Header[] = [],
    body: Uint8Array = EMPTY,
  ) {
    super(headers, body);
  }
  get ruri(): Uri {
    return this._ruri ??= parseUri(this.uri);
  }
  set ruri(u: Uri) {
    this._ruri = u;
    this.uri = u.toString();
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
  return pairs.map(([n, v]) => {
    const key = headerKey(n);
    return { key, name: canonicalName(key), value: v };
  });
}

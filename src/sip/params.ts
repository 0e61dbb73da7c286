// RFC 3261 §25.1 generic-param lists (";name=value"), used by URIs (§19.1.1 uri-parameters),
// Via (§20.42 via-params) and name-addr headers (§20.10 contact-params, §20.39 to-param).
// Names compare case-insensitively; output keeps the order and spelling received.

import { SipParseError } from "./errors.ts";

type ParamList = [string, string | null][];

/**
 * The list of every Params without parameters (most URIs and many headers): shared and frozen,
 * so an empty list costs no array; `set` gives a Params its own list first.
 */
const NONE = Object.freeze([]) as unknown as ParamList;

/** Ordered, case-insensitive parameter list. A value of null is a flag parameter (";lr"). */
export class Params {
  constructor(public list: ParamList = NONE) {}

  /** Value of `name` (null for a flag), or undefined when absent. */
  get(name: string): string | null | undefined {
    const i = this.indexOf(name);
    return i < 0 ? undefined : this.list[i][1];
  }
  /** Whether the parameter is present (flag or valued). */
  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }
  /** Set (replace in place, or append) a parameter. */
  set(name: string, value: string | null): this {
    const i = this.indexOf(name);
    if (i >= 0) this.list[i] = [this.list[i][0], value];
    else if (this.list === NONE) this.list = [[name, value]];
    else this.list.push([name, value]);
    return this;
  }
  /** Remove every occurrence of a parameter. */
  delete(name: string): this {
    if (this.indexOf(name) < 0) return this;
    const n = name.toLowerCase();
    this.list = this.list.filter(([k]) => k.toLowerCase() !== n);
    return this;
  }
  /** A deep copy whose edits do not touch this list. */
  clone(): Params {
    return this.list.length === 0 ? new Params() : new Params(this.list.map(([k, v]) => [k, v]));
  }
  /** Number of parameters. */
  get size(): number {
    return this.list.length;
  }
  /** ";a=b;c" form (empty string when there are none). */
  toString(): string {
    let s = "";
    for (const [k, v] of this.list) s += v === null ? `;${k}` : `;${k}=${v}`;
    return s;
  }

  // Compares lengths first so the common miss costs no lowercase copy on the hot path.
  private indexOf(name: string): number {
    const list = this.list;
    let n: string | undefined;
    for (let i = 0; i < list.length; i++) {
      const k = list[i][0];
      if (k.length !== name.length) continue;
      if (k === name) return i;
      n ??= name.toLowerCase();
      if (k.toLowerCase() === n) return i;
    }
    return -1;
  }
}

/** Whether a char code is linear white space inside one (already unfolded) header value. */
function isWs(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Characters that end a parameter name or unquoted value. `,` is here because a comma outside
 * quotes means an unsplit list (RFC 4475 §3.1.2.1 badinv01); `<>"` never occur unquoted.
 */
function isStop(c: number): boolean {
  return c === 59 /* ; */ || c === 61 /* = */ || c === 44 /* , */ || c === 60 || c === 62 ||
    c === 34 || c === 63 /* ? */ || c <= 32 || c === 127;
}

/** Where scanParams collects a list before copying it out (it never runs re-entrantly). */
const scratch: ParamList = [];

/**
 * Scan ";a=b;c" starting at `from`. With `sws` (header parameters, §25.1 SEMI/EQUAL) white
 * space may surround `;` and `=`, and values may be quoted strings kept with their quotes; URI
 * parameters (`sws` false) allow neither; the scan stops at `end`. Throws
 * {@link SipParseError} naming `part`.
 */
export function scanParams(
  text: string,
  from: number,
  part: string,
  sws: boolean,
  end: number = text.length,
): Params {
  // Collected here and copied out at their exact count: a list grown by push keeps room for
  // more entries than the one or two parameters a header usually has, for as long as the
  // message lives.
  const list = scratch;
  list.length = 0;
  const len = end;
  let i = from;
  for (;;) {
    if (sws) { while (i < len && isWs(text.charCodeAt(i))) i++; }
    if (i >= len) break;
    if (text.charCodeAt(i) !== 59) {
      throw new SipParseError(part, `expected ";" before a parameter, got "${text[i]}"`, i);
    }
    i++;
    if (sws) { while (i < len && isWs(text.charCodeAt(i))) i++; }
    const ns = i;
    while (i < len && !isStop(text.charCodeAt(i))) i++;
    if (i === ns) {
      throw new SipParseError(part, `expected a parameter name, got "${text[i] ?? "end"}"`, i);
    }
    const name = text.slice(ns, i);
    if (sws) { while (i < len && isWs(text.charCodeAt(i))) i++; }
    let value: string | null = null;
    if (i < len && text.charCodeAt(i) === 61) {
      i++;
      if (sws) { while (i < len && isWs(text.charCodeAt(i))) i++; }
      const vs = i;
      if (sws && i < len && text.charCodeAt(i) === 34) {
        i = skipQuoted(text, i, part);
      } else {
        // "[" "]" ":" are legal in values (maddr=[::1], received=2001:db8::1).
        while (i < len && !isStop(text.charCodeAt(i))) i++;
      }
      value = text.slice(vs, i);
    }
    list.push([name, value]);
  }
  return list.length === 0 ? new Params() : new Params(list.slice());
}

/**
 * Index just past the quoted string opening at `start` (RFC 3261 §25.1 quoted-string with
 * quoted-pair). Throws when the closing quote is missing.
 */
export function skipQuoted(text: string, start: number, part: string): number {
  let i = start + 1;
  const len = text.length;
  while (i < len) {
    const c = text.charCodeAt(i);
    if (c === 92) i += 2;
    else if (c === 34) return i + 1;
    else i++;
  }
  throw new SipParseError(part, "unterminated quoted string", start);
}

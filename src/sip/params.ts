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

/**
 * Ordered, case-insensitive parameter list. A value of null is a flag parameter (";lr").
 *
 * A list scanned from a message is kept as its text (";a=b;c", checked, no white space, no
 * quotes) until something edits or walks it: most parameters of most messages are never read
 * (every Via of a response is checked, only the top one is used), and a list of [name, value]
 * pairs costs several objects and strings per parameter, each message, on the hot path. Reads
 * of one parameter (tag, branch) scan the text and copy nothing but the value.
 */
export class Params {
  // Exactly one of the two is authoritative: `text` while unedited (then `pairs` is unset),
  // else `pairs`.
  private pairs: ParamList | undefined;
  private text: string | undefined;

  constructor(list: ParamList = NONE) {
    this.pairs = list;
    this.text = undefined;
  }

  /** A list backed by checked, normalized text (see {@link scanParams}); not for other input. */
  static fromText(text: string): Params {
    const p = new Params();
    p.pairs = undefined;
    p.text = text;
    return p;
  }

  /** The pairs, in order (built from the text on first use). */
  get list(): ParamList {
    if (this.pairs === undefined) {
      this.pairs = pairsOf(this.text!);
      this.text = undefined;
    }
    return this.pairs;
  }
  set list(l: ParamList) {
    this.pairs = l;
    this.text = undefined;
  }

  /** Value of `name` (null for a flag), or undefined when absent. */
  get(name: string): string | null | undefined {
    const t = this.text;
    if (t !== undefined) return textGet(t, name);
    const i = this.indexOf(name);
    return i < 0 ? undefined : this.pairs![i][1];
  }
  /** Whether the parameter is present (flag or valued). */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  /** Set (replace in place, or append) a parameter. */
  set(name: string, value: string | null): this {
    const list = this.list;
    const i = this.indexOf(name);
    if (i >= 0) list[i] = [list[i][0], value];
    else if (list === NONE) this.pairs = [[name, value]];
    else list.push([name, value]);
    return this;
  }
  /** Remove every occurrence of a parameter. */
  delete(name: string): this {
    if (!this.has(name)) return this;
    const n = name.toLowerCase();
    this.pairs = this.list.filter(([k]) => k.toLowerCase() !== n);
    return this;
  }
  /** A deep copy whose edits do not touch this list. */
  clone(): Params {
    if (this.text !== undefined) return Params.fromText(this.text);
    const l = this.pairs!;
    return l.length === 0 ? new Params() : new Params(l.map(([k, v]) => [k, v]));
  }
  /** Number of parameters. */
  get size(): number {
    const t = this.text;
    if (t === undefined) return this.pairs!.length;
    let n = 0;
    for (let i = 0; i < t.length; i++) if (t.charCodeAt(i) === 59) n++;
    return n;
  }
  /** ";a=b;c" form (empty string when there are none). */
  toString(): string {
    if (this.text !== undefined) return this.text;
    let s = "";
    for (const [k, v] of this.pairs!) s += v === null ? `;${k}` : `;${k}=${v}`;
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

/** Whether `t[from, from + name.length)` spells `name`, ASCII letters in any case. */
function nameAt(t: string, from: number, name: string): boolean {
  for (let j = 0; j < name.length; j++) {
    const a = t.charCodeAt(from + j);
    const b = name.charCodeAt(j);
    if (a === b) continue;
    const la = a | 0x20;
    if (la !== (b | 0x20) || la < 97 || la > 122) return false;
  }
  return true;
}

// Normalized text: ";" starts each parameter, "=" (if any) ends its name, and no value holds
// either, so one parameter is [";" name ["=" value]] up to the next ";".

/** End of the name starting at `from`: the "=" or ";" after it, or the end. */
function nameEnd(t: string, from: number): number {
  let e = from;
  while (e < t.length) {
    const c = t.charCodeAt(e);
    if (c === 59 || c === 61) break;
    e++;
  }
  return e;
}

/** End of the parameter whose name ends at `e`: the next ";" or the end (`e` for a flag). */
function paramEnd(t: string, e: number): number {
  if (e >= t.length || t.charCodeAt(e) !== 61) return e;
  const next = t.indexOf(";", e + 1);
  return next < 0 ? t.length : next;
}

/** `get` over normalized text. */
function textGet(t: string, name: string): string | null | undefined {
  for (let i = 0; i < t.length;) {
    const e = nameEnd(t, i + 1);
    const next = paramEnd(t, e);
    if (e - i - 1 === name.length && nameAt(t, i + 1, name)) {
      return next === e ? null : t.slice(e + 1, next);
    }
    i = next;
  }
  return undefined;
}

/** The pairs of normalized text. */
function pairsOf(t: string): ParamList {
  const out: ParamList = [];
  for (let i = 0; i < t.length;) {
    const e = nameEnd(t, i + 1);
    const next = paramEnd(t, e);
    out.push([t.slice(i + 1, e), next === e ? null : t.slice(e + 1, next)]);
    i = next;
  }
  return out;
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
 * {@link SipParseError} naming `part`. A list written without white space or quotes (nearly
 * all) comes back as its text, unsplit (see {@link Params}).
 */
export function scanParams(
  text: string,
  from: number,
  part: string,
  sws: boolean,
  end: number = text.length,
): Params {
  const last = scan(text, from, part, sws, end, false);
  if (last >= 0) return last === from ? new Params() : Params.fromText(text.slice(from, last));
  // White space or a quoted value: split it now, so the text kept is never the unnormalized one.
  const list = scratch;
  list.length = 0;
  scan(text, from, part, sws, end, true);
  // Copied out at the exact count: a list grown by push keeps room for more entries than the
  // one or two parameters a header usually has, for as long as the message lives.
  return list.length === 0 ? new Params() : new Params(list.slice());
}

/**
 * The grammar of scanParams. Without `collect`: the index just past the last parameter when the
 * list is plain (no white space, no quoted value), or -1 as soon as it is not. With `collect`:
 * pushes every pair onto `scratch`.
 */
function scan(
  text: string,
  from: number,
  part: string,
  sws: boolean,
  len: number,
  collect: boolean,
): number {
  let i = from;
  let last = from;
  for (;;) {
    if (sws) {
      while (i < len && isWs(text.charCodeAt(i))) i++;
      if (i !== last && !collect) return i >= len ? last : -1; // trailing white space is fine
    }
    if (i >= len) break;
    if (text.charCodeAt(i) !== 59) {
      throw new SipParseError(part, `expected ";" before a parameter, got "${text[i]}"`, i);
    }
    i++;
    if (sws && i < len && isWs(text.charCodeAt(i))) {
      if (!collect) return -1;
      while (i < len && isWs(text.charCodeAt(i))) i++;
    }
    const ns = i;
    while (i < len && !isStop(text.charCodeAt(i))) i++;
    if (i === ns) {
      throw new SipParseError(part, `expected a parameter name, got "${text[i] ?? "end"}"`, i);
    }
    const ne = i;
    if (sws && i < len && isWs(text.charCodeAt(i))) {
      if (!collect) return -1;
      while (i < len && isWs(text.charCodeAt(i))) i++;
    }
    let vs = -1;
    if (i < len && text.charCodeAt(i) === 61) {
      i++;
      if (sws && i < len && isWs(text.charCodeAt(i))) {
        if (!collect) return -1;
        while (i < len && isWs(text.charCodeAt(i))) i++;
      }
      vs = i;
      if (sws && i < len && text.charCodeAt(i) === 34) {
        if (!collect) return -1;
        i = skipQuoted(text, i, part);
      } else {
        // "[" "]" ":" are legal in values (maddr=[::1], received=2001:db8::1).
        while (i < len && !isStop(text.charCodeAt(i))) i++;
      }
    }
    if (collect) scratch.push([text.slice(ns, ne), vs < 0 ? null : text.slice(vs, i)]);
    last = i;
  }
  return last;
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

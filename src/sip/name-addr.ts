// RFC 3261 §20.10/§20.20/§20.39 name-addr / addr-spec values of From, To, Contact, Route and
// Record-Route, with header parameters (tag, expires, lr...). §20.10: in an addr-spec (no <>)
// every ";param" belongs to the header, which is why a URI holding ";", "?" or "," needs <>.

import { SipParseError } from "./errors.ts";
import { Params, scanParams, skipQuoted } from "./params.ts";
import { parseUri, parseUriAt, type Uri } from "./uri.ts";

/** A display name (raw, quotes included when it was quoted), a URI and header parameters. */
export class NameAddr {
  constructor(
    public uri: Uri,
    public display: string | undefined = undefined,
    public params: Params = new Params(),
  ) {}
  /** The tag header parameter (§19.3), or undefined. */
  get tag(): string | undefined {
    const t = this.params.get("tag");
    return typeof t === "string" ? t : undefined;
  }
  set tag(v: string | undefined) {
    if (v === undefined) this.params.delete("tag");
    else this.params.set("tag", v);
  }
  /** A deep copy whose edits do not touch this value. */
  clone(): NameAddr {
    return new NameAddr(this.uri.clone(), this.display, this.params.clone());
  }
  /** Always the bracketed form, which is unambiguous whatever the URI holds. */
  toString(): string {
    return `${this.display ? this.display + " " : ""}<${this.uri}>${this.params}`;
  }
}

/** Unquote a quoted display name (`"A \"B\""` → `A "B"`); other text is returned as is. */
export function unquote(s: string): string {
  if (s.length < 2 || s.charCodeAt(0) !== 34 || s.charCodeAt(s.length - 1) !== 34) return s;
  const inner = s.slice(1, -1);
  if (inner.indexOf("\\") < 0) return inner;
  let out = "";
  let from = 0;
  for (let i = 0; i < inner.length; i++) {
    if (inner.charCodeAt(i) === 92) {
      out += inner.slice(from, i);
      from = ++i; // keep the escaped char
    }
  }
  return out + inner.slice(from);
}

/** Quote a display name for output, escaping `"` and `\` (§25.1 quoted-pair). */
export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, "\\$&")}"`;
}

function isTokenOrWs(c: number): boolean {
  if (c === 32 || c === 9) return true;
  const l = c | 0x20;
  if ((l >= 97 && l <= 122) || (c >= 48 && c <= 57)) return true;
  // token specials: - . ! % * _ + ` ' ~
  return c === 45 || c === 46 || c === 33 || c === 37 || c === 42 || c === 95 || c === 43 ||
    c === 96 || c === 39 || c === 126;
}

/** Parse one name-addr or addr-spec (a single value; split lists first). */
export function parseNameAddr(text: string, part: string): NameAddr {
  const len = text.length;
  let i = 0;
  while (i < len && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
  if (i >= len) throw new SipParseError(part, "expected a name-addr or addr-spec, got nothing");
  let display: string | undefined;
  let lt = -1;
  if (text.charCodeAt(i) === 34) {
    const ds = i;
    i = skipQuoted(text, i, part);
    display = text.slice(ds, i);
    while (i < len && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
    if (text.charCodeAt(i) !== 60) {
      throw new SipParseError(
        part,
        `expected "<" after the display name, got "${text[i] ?? "end"}"`,
        i,
      );
    }
    lt = i;
  } else {
    // Unquoted display name: tokens and LWS up to "<" (RFC 4475 §3.1.1.6 lwsdisp: no LWS
    // needed before "<"). Any other char means this is an addr-spec, or a bad display name.
    let j = i;
    while (j < len && isTokenOrWs(text.charCodeAt(j))) j++;
    if (j < len && text.charCodeAt(j) === 60) {
      const d = text.slice(i, j).trimEnd();
      if (d) display = d;
      lt = j;
    } else if (text.charCodeAt(j) !== 58 && text.indexOf("<", j) >= 0) {
      // A run ending at ":" is a URI scheme (addr-spec, whose quoted params may hold "<").
      throw new SipParseError(
        part,
        `bad display name "${text.slice(i, text.indexOf("<", j)).trim()}"`,
        j,
      );
    }
  }
  if (lt >= 0) {
    const gt = text.indexOf(">", lt);
    if (gt < 0) throw new SipParseError(part, 'expected ">" closing the URI', lt);
    const uri = parseUriAt(text, lt + 1, gt, part);
    return new NameAddr(uri, display, scanParams(text, gt + 1, part, true));
  }
  // addr-spec: URI parameters cannot be told from header parameters, so per §20.10 every
  // ";param" belongs to the header, and "?" headers and "," are not allowed.
  const semi = text.indexOf(";", i);
  let ue = semi < 0 ? len : semi;
  while (ue > i && (text.charCodeAt(ue - 1) === 32 || text.charCodeAt(ue - 1) === 9)) ue--;
  const uriText = text.slice(i, ue);
  if (uriText.indexOf("?") >= 0 || uriText.indexOf(",") >= 0) {
    throw new SipParseError(part, 'an addr-spec holding "?" or "," needs <>');
  }
  const uri = parseUri(uriText, part);
  return new NameAddr(uri, undefined, semi < 0 ? new Params() : scanParams(text, semi, part, true));
}

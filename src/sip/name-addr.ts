// RFC 3261 §20.10/§20.20/§20.39 name-addr / addr-spec values of From, To, Contact, Route and
// Record-Route, with header parameters (tag, expires, lr...).

import { SipParseError } from "./errors.ts";
import { Params } from "./params.ts";
import { parseParams, parseUri, type Uri } from "./uri.ts";

/** A display name (raw, quotes included when it was quoted), a URI and header parameters. */
export class NameAddr {
  constructor(
    public uri: Uri,
    public display: string | undefined = undefined,
    public params: Params = new Params(),
  ) {}
  get tag(): string | undefined {
    const t = this.params.get("tag");
    return typeof t === "string" ? t : undefined;
  }
  set tag(v: string | undefined) {
    if (v === undefined) this.params.delete("tag");
    else this.params.set("tag", v);
  }
  clone(): NameAddr {
    return new NameAddr(this.uri.clone(), this.display, this.params.clone());
  }
  /** Always the bracketed form, which is unambiguous whatever the URI holds. */
  toString(): string {
    return `${this.display ? this.display + " " : ""}<${this.uri}>${this.params}`;
  }
}

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/** Parse one name-addr or addr-spec (a single value; split lists first). */
export function parseNameAddr(text: string, part: string): NameAddr {
  const s = text.trim();
  if (!s) throw new SipParseError(part, "empty value");
  let i = 0;
  let display: string | undefined;
  if (s[0] === '"') {
    i = 1;
    while (i < s.length && s[i] !== '"') i += s[i] === "\\" ? 2 : 1;
    if (i >= s.length) throw new SipParseError(part, "unterminated quoted display name");
    display = s.slice(0, i + 1);
    i++;
    while (s[i] === " " || s[i] === "\t") i++;
    if (s[i] !== "<") throw new SipParseError(part, "expected < after display name");
  }
  const lt = s.indexOf("<", i);
  if (lt >= 0) {
    if (display === undefined) {
      const d = s.slice(0, lt).trim();
      if (d) {
        for (const w of d.split(/[ \t]+/)) {
          if (!TOKEN.test(w)) throw new SipParseError(part, `bad display name "${d}"`);
        }
        display = d;
      }
    }
    const gt = s.indexOf(">", lt);
    if (gt < 0) throw new SipParseError(part, "missing >");
    const inner = s.slice(lt + 1, gt);
    if (inner !== inner.trim()) throw new SipParseError(part, "whitespace inside <>");
    const uri = parseUri(inner, part);
    return new NameAddr(uri, display, parseParams(s.slice(gt + 1).trim(), part));
  }
  // addr-spec: URI parameters cannot be told from header parameters, so per §20.10 every
  // ";param" belongs to the header, and "?" headers are not allowed.
  const semi = s.indexOf(";");
  const uriText = semi < 0 ? s : s.slice(0, semi);
  if (uriText.includes("?") || uriText.includes(",")) {
    throw new SipParseError(part, "an addr-spec with ? or , needs <>");
  }
  const uri = parseUri(uriText.trim(), part);
  return new NameAddr(uri, undefined, parseParams(semi < 0 ? "" : s.slice(semi), part));
}

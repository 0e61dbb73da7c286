// RFC 3261 §19.1 SIP and SIPS URIs, RFC 3966 tel URIs. Escaped user parts are kept escaped, as
// received, so a URI re-serializes byte for byte; comparison helpers unescape once.

import { SipParseError } from "./errors.ts";
import { Params } from "./params.ts";

/** A sip:, sips: or tel: URI. For tel, `user` holds the number and `host` is empty. */
export class Uri {
  constructor(
    public scheme: string,
    public user: string | undefined,
    public host: string,
    public port: number | undefined = undefined,
    public params: Params = new Params(),
    /** Raw "?a=b&c=d" header part without the "?", or undefined. */
    public headers: string | undefined = undefined,
    public password: string | undefined = undefined,
  ) {}

  /** Value of the transport parameter, lowercased ("udp" when absent for sip:). */
  get transport(): string {
    const t = this.params.get("transport");
    if (typeof t === "string") return t.toLowerCase();
    return this.scheme === "sips" ? "tls" : "udp";
  }

  clone(): Uri {
    return new Uri(
      this.scheme,
      this.user,
      this.host,
      this.port,
      this.params.clone(),
      this.headers,
      this.password,
    );
  }

  toString(): string {
    if (this.scheme === "tel") return `tel:${this.user ?? ""}${this.params}`;
    let s = `${this.scheme}:`;
    if (this.user !== undefined) {
      s += this.user;
      if (this.password !== undefined) s += `:${this.password}`;
      s += "@";
    }
    s += this.host;
    if (this.port !== undefined) s += `:${this.port}`;
    s += this.params.toString();
    if (this.headers !== undefined) s += `?${this.headers}`;
    return s;
  }
}

const HOST_CHARS = /^[A-Za-z0-9.\-_]+$/;

/** Split ";a=b;c" (text after the host part) into Params; throws on empty names. */
export function parseParams(text: string, part: string): Params {
  const p = new Params();
  if (!text) return p;
  if (text[0] !== ";") throw new SipParseError(part, `unexpected "${text[0]}" before parameters`);
  for (const item of text.slice(1).split(";")) {
    const eq = item.indexOf("=");
    const name = (eq < 0 ? item : item.slice(0, eq)).trim();
    if (!name) throw new SipParseError(part, "empty parameter");
    const value = eq < 0 ? null : item.slice(eq + 1).trim();
    p.list.push([name, value]);
  }
  return p;
}

/** Parse an absolute URI as it appears in a Request-URI or inside <...>. */
export function parseUri(text: string, part = "Request-URI"): Uri {
  const colon = text.indexOf(":");
  if (colon <= 0) throw new SipParseError(part, `no URI scheme in "${text.slice(0, 40)}"`, -1, 416);
  const scheme = text.slice(0, colon).toLowerCase();
  const rest = text.slice(colon + 1);
  if (/[\s<>]/.test(text)) throw new SipParseError(part, "whitespace or <> inside the URI");
  if (scheme === "tel") {
    const semi = rest.indexOf(";");
    const num = semi < 0 ? rest : rest.slice(0, semi);
    if (!num) throw new SipParseError(part, "empty tel number");
    return new Uri("tel", num, "", undefined, parseParams(semi < 0 ? "" : rest.slice(semi), part));
  }
  if (scheme !== "sip" && scheme !== "sips") {
    throw new SipParseError(part, `unsupported URI scheme "${scheme}"`, -1, 416);
  }
  let userinfo: string | undefined;
  let hostpart = rest;
  // The user part may itself hold ";" (RFC 4475 semiuri); the host starts after the last "@"
  // that precedes the first "?".
  const q = rest.indexOf("?");
  const atLimit = q < 0 ? rest.length : q;
  const lastAt = rest.lastIndexOf("@", atLimit - 1);
  if (lastAt >= 0) {
    userinfo = rest.slice(0, lastAt);
    hostpart = rest.slice(lastAt + 1);
  }
  let headers: string | undefined;
  const qi = hostpart.indexOf("?");
  if (qi >= 0) {
    headers = hostpart.slice(qi + 1);
    hostpart = hostpart.slice(0, qi);
  }
  let host: string;
  let after: string;
  if (hostpart[0] === "[") {
    const close = hostpart.indexOf("]");
    if (close < 0) throw new SipParseError(part, "unterminated IPv6 reference");
    host = hostpart.slice(0, close + 1);
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(host)) {
      throw new SipParseError(part, `bad IPv6 reference ${host}`);
    }
    after = hostpart.slice(close + 1);
  } else {
    const end = firstOf(hostpart, ":;", hostpart.length);
    host = hostpart.slice(0, end);
    after = hostpart.slice(end);
    if (!host || !HOST_CHARS.test(host)) throw new SipParseError(part, `bad host "${host}"`);
  }
  let port: number | undefined;
  if (after[0] === ":") {
    const semi = after.indexOf(";");
    const ps = semi < 0 ? after.slice(1) : after.slice(1, semi);
    if (!/^[0-9]{1,5}$/.test(ps) || Number(ps) > 65535) {
      throw new SipParseError(part, `bad port "${ps}"`);
    }
    port = Number(ps);
    after = semi < 0 ? "" : after.slice(semi);
  }
  let user: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    if (!userinfo) throw new SipParseError(part, "empty user part");
    const pc = userinfo.indexOf(":");
    if (pc >= 0) {
      user = userinfo.slice(0, pc);
      password = userinfo.slice(pc + 1);
    } else user = userinfo;
  }
  return new Uri(scheme, user, host, port, parseParams(after, part), headers, password);
}

function firstOf(s: string, chars: string, dflt: number): number {
  let best = -1;
  for (const c of chars) {
    const i = s.indexOf(c);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best < 0 ? dflt : best;
}

/** Unescape %HH once (RFC 3261 §19.1.4 comparison); invalid escapes are left as they are. */
export function unescapeOnce(s: string): string {
  if (s.indexOf("%") < 0) return s;
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

/** Host without IPv6 brackets, lowercased, for address comparisons and socket calls. */
export function bareHost(host: string): string {
  return (host[0] === "[" ? host.slice(1, -1) : host).toLowerCase();
}

/** Host as it must appear in a URI or Via: IPv6 literals get brackets. */
export function uriHost(host: string): string {
  return host.includes(":") && host[0] !== "[" ? `[${host}]` : host;
}

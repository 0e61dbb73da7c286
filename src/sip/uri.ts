// RFC 3261 §19.1 SIP and SIPS URIs, RFC 3966 tel URIs, and RFC 3986 absolute URIs of any other
// scheme kept opaque (RFC 3261 §20.10: a name-addr may hold any absoluteURI, RFC 4475 §3.3.4).
// Escaped user parts are kept escaped, as received, so a URI re-serializes byte for byte;
// comparison helpers unescape once.

import { SipParseError } from "./errors.ts";
import { Params, scanParams } from "./params.ts";

/**
 * A sip:, sips: or tel: URI, or an opaque absolute URI of another scheme. For tel, `user`
 * holds the number and `host` is empty; for other schemes, `opaque` holds everything after
 * the colon and `host` is empty.
 */
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
    /** For schemes other than sip/sips/tel: the text after "scheme:", kept as received. */
    public opaque: string | undefined = undefined,
  ) {}

  /** Value of the transport parameter, lowercased ("udp" when absent for sip:). */
  get transport(): string {
    const t = this.params.get("transport");
    if (typeof t === "string") return t.toLowerCase();
    return this.scheme === "sips" ? "tls" : "udp";
  }

  /** A deep copy whose edits do not touch this URI. */
  clone(): Uri {
    return new Uri(
      this.scheme,
      this.user,
      this.host,
      this.port,
      this.params.clone(),
      this.headers,
      this.password,
      this.opaque,
    );
  }

  /** The URI text (scheme lowercased; everything else as received or set). */
  toString(): string {
    if (this.opaque !== undefined) return `${this.scheme}:${this.opaque}`;
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

/**
 * `u` as a Request-URI may carry it: §19.1.1 (Table 1) allows neither URI headers nor the method
 * parameter there, and §12.2.1.1 strips what is not allowed from a strict router's URI. A
 * Contact or Record-Route may carry them; copied into a Request-URI as they are, they would make
 * the request malformed. Returns `u` itself when there is nothing to strip.
 */
export function asRequestUri(u: Uri): Uri {
  if (u.headers === undefined && !u.params.has("method")) return u;
  const c = u.clone();
  c.headers = undefined;
  c.params.delete("method");
  return c;
}

/** Whether a Request-URI scheme is one this stack serves (sip, sips, tel); else answer 416. */
export function isSupportedScheme(uri: Uri): boolean {
  return uri.scheme === "sip" || uri.scheme === "sips" || uri.scheme === "tel";
}

/**
 * Split ";a=b;c" (text after the host part, no white space) into Params; throws on empty
 * names. Kept for callers of the first version; {@link scanParams} is the general scanner.
 */
export function parseParams(text: string, part: string): Params {
  return scanParams(text, 0, part, true);
}

// RFC 3986 §3.1 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
function schemeEnd(text: string): number {
  const c0 = text.charCodeAt(0) | 0x20;
  if (c0 < 97 || c0 > 122) return -1;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 58) return i;
    const l = c | 0x20;
    if (!((l >= 97 && l <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)) {
      return -1;
    }
  }
  return -1;
}

/** Hostname / IPv4 characters (RFC 3261 §25.1 hostname, IPv4address). */
function isHostChar(c: number): boolean {
  const l = c | 0x20;
  return (l >= 97 && l <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95;
}

/**
 * Parse an absolute URI as it appears in a Request-URI or inside <...>. sip/sips/tel are
 * parsed fully; any other well-formed scheme yields an opaque {@link Uri} (use
 * {@link isSupportedScheme} to decide on 416). Throws {@link SipParseError} naming `part`.
 */
export function parseUri(text: string, part = "Request-URI"): Uri {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // §19.1.1/§25.1: no white space, controls, quotes or angle brackets in a URI; this also
    // keeps CR/LF/NUL out of anything we may write back.
    if (c <= 32 || c === 127 || c === 60 || c === 62 || c === 34) {
      throw new SipParseError(part, `white space, control, quote or <> inside URI at ${i}`);
    }
  }
  // Fast path: the lowercase "sip:" almost every URI starts with.
  if (
    text.charCodeAt(0) === 115 && text.charCodeAt(1) === 105 && text.charCodeAt(2) === 112 &&
    text.charCodeAt(3) === 58
  ) return parseSipUri("sip", text, 4, part);
  const colon = schemeEnd(text);
  if (colon < 0) throw new SipParseError(part, `expected "scheme:" in "${text.slice(0, 40)}"`);
  let scheme = text.slice(0, colon);
  const lower = scheme.toLowerCase();
  if (lower !== scheme) scheme = lower;
  if (scheme === "sip" || scheme === "sips") return parseSipUri(scheme, text, colon + 1, part);
  const rest = text.slice(colon + 1);
  if (scheme === "tel") {
    const semi = rest.indexOf(";");
    const num = semi < 0 ? rest : rest.slice(0, semi);
    if (!num) throw new SipParseError(part, "empty tel number");
    return new Uri(
      "tel",
      num,
      "",
      undefined,
      semi < 0 ? new Params() : scanParams(rest, semi, part, false),
    );
  }
  if (!rest) throw new SipParseError(part, `empty ${scheme}: URI`);
  return new Uri(scheme, undefined, "", undefined, new Params(), undefined, undefined, rest);
}

/**
 * {@link parseUri} of `text.slice(from, to)` (the inside of <...>), without the copy for a
 * lowercase "sip:" URI.
 */
export function parseUriAt(text: string, from: number, to: number, part: string): Uri {
  if (
    text.charCodeAt(from) !== 115 || text.charCodeAt(from + 1) !== 105 ||
    text.charCodeAt(from + 2) !== 112 || text.charCodeAt(from + 3) !== 58 || to - from < 4
  ) return parseUri(text.slice(from, to), part);
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c <= 32 || c === 127 || c === 60 || c === 62 || c === 34) {
      throw new SipParseError(part, `white space, control, quote or <> inside URI at ${i - from}`);
    }
  }
  return parseSipUri("sip", text, from + 4, part, to);
}

/** The sip/sips URI in `text` after the "scheme:" ending at `from`, up to `end`. */
function parseSipUri(
  scheme: string,
  text: string,
  from: number,
  part: string,
  end: number = text.length,
): Uri {
  // No "@" can appear in host, port, parameters or (unescaped) headers, while the user part
  // may hold ";", "?" and "," (RFC 4475 §3.1.1.2 intmeth, §3.1.1.9 semiuri): the last "@"
  // ends the userinfo.
  let at = text.lastIndexOf("@", end - 1);
  if (at < from) at = -1;
  let user: string | undefined;
  let password: string | undefined;
  let i = from;
  if (at >= 0) {
    if (at === from) throw new SipParseError(part, "empty user part");
    const pc = text.indexOf(":", from);
    if (pc >= 0 && pc < at) {
      user = text.slice(from, pc);
      password = text.slice(pc + 1, at);
      if (!user) throw new SipParseError(part, "empty user part");
    } else user = text.slice(from, at);
    i = at + 1;
  }
  const len = end;
  let host: string;
  if (i < len && text.charCodeAt(i) === 91) {
    const close = text.indexOf("]", i);
    if (close < 0 || close >= len) throw new SipParseError(part, "unterminated IPv6 reference");
    for (let j = i + 1; j < close; j++) {
      const c = text.charCodeAt(j);
      const l = c | 0x20;
      if (!((c >= 48 && c <= 58) || (l >= 97 && l <= 102) || c === 46)) {
        throw new SipParseError(part, `bad IPv6 reference "${text.slice(i, close + 1)}"`);
      }
    }
    if (close === i + 1) throw new SipParseError(part, "empty IPv6 reference");
    host = text.slice(i, close + 1);
    i = close + 1;
  } else {
    const hs = i;
    while (i < len && isHostChar(text.charCodeAt(i))) i++;
    if (i === hs) {
      throw new SipParseError(part, `expected a host, got "${text.slice(hs, hs + 20)}"`);
    }
    host = text.slice(hs, i);
  }
  let port: number | undefined;
  if (i < len && text.charCodeAt(i) === 58) {
    const ps = ++i;
    let v = 0;
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      i++;
    }
    if (i === ps || i - ps > 5) {
      throw new SipParseError(part, `bad port "${text.slice(ps, ps + 8)}"`);
    }
    port = v;
    if (port > 65535) throw new SipParseError(part, `port ${port} above 65535`);
  }
  let headers: string | undefined;
  let q = i < len ? text.indexOf("?", i) : -1;
  if (q >= len) q = -1;
  const pend = q < 0 ? len : q;
  if (q >= 0) headers = text.slice(q + 1, len);
  if (i < pend && text.charCodeAt(i) !== 59) {
    throw new SipParseError(part, `unexpected "${text[i]}" after host`);
  }
  const params = i < pend ? scanParams(text, i, part, false, pend) : new Params();
  return new Uri(scheme, user, host, port, params, headers, password);
}

/** Unescape %HH once (RFC 3261 §19.1.4 comparison); invalid escapes are left as they are. */
export function unescapeOnce(s: string): string {
  if (s.indexOf("%") < 0) return s;
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

// RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ).
const USER_SAFE = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/]*$/;
const utf8 = new TextEncoder();

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * A user part as it must be written into a URI: every character outside the §25.1 user grammar
 * (including "%" itself, white space, controls and "#") percent-encoded as UTF-8. For users
 * that were unescaped for matching or rewriting and are written into a URI again. With
 * `keepEscapes`, for a user still in its escaped form, a "%" that starts an escape stays.
 */
export function escapeUser(user: string, keepEscapes = false): string {
  if (USER_SAFE.test(user)) return user;
  let out = "";
  let i = 0;
  for (const ch of user) {
    const at = i;
    i += ch.length;
    if (USER_SAFE.test(ch) || (keepEscapes && ch === "%" && HEX.test(user.slice(at + 1, at + 3)))) {
      out += ch;
      continue;
    }
    for (const b of utf8.encode(ch)) {
      out += "%" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
    }
  }
  return out;
}

/** Host without IPv6 brackets, lowercased, for address comparisons and socket calls. */
export function bareHost(host: string): string {
  return (host[0] === "[" ? host.slice(1, -1) : host).toLowerCase();
}

/** Host as it must appear in a URI or Via: IPv6 literals get brackets. */
export function uriHost(host: string): string {
  return host.includes(":") && host[0] !== "[" ? `[${host}]` : host;
}

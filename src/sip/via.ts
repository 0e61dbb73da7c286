// RFC 3261 §20.42 Via (sent-protocol, sent-by, via-params), with RFC 3581 rport and §18.2.1
// received. SWS is allowed around "/", ":", ";" and "=" (RFC 4475 §3.1.1.1 wsinv).

import { SipParseError } from "./errors.ts";
import { Params, scanParams } from "./params.ts";

/** One Via value. `host` keeps IPv6 brackets as received. */
export class Via {
  constructor(
    public transport: string,
    public host: string,
    public port: number | undefined = undefined,
    public params: Params = new Params(),
    public protocol = "SIP/2.0",
  ) {}
  /** The branch parameter, or undefined (RFC 2543 peers send none). */
  get branch(): string | undefined {
    const b = this.params.get("branch");
    return typeof b === "string" ? b : undefined;
  }
  /** The received parameter (§18.2.1), or undefined. */
  get received(): string | undefined {
    const r = this.params.get("received");
    return typeof r === "string" ? r : undefined;
  }
  /** rport: undefined when absent, null when present without a value, else the number. */
  get rport(): number | null | undefined {
    const r = this.params.get("rport");
    if (r === undefined) return undefined;
    if (r === null || r === "") return null;
    const n = Number(r);
    return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : null;
  }
  /** "host:port" as a transaction key component (lowercased). */
  get sentBy(): string {
    return `${this.host.toLowerCase()}:${this.port ?? ""}`;
  }
  /** A deep copy whose edits do not touch this Via. */
  clone(): Via {
    return new Via(this.transport, this.host, this.port, this.params.clone(), this.protocol);
  }
  /** "SIP/2.0/UDP host:port;params" with single spaces only. */
  toString(): string {
    return `${this.protocol}/${this.transport} ${this.host}${
      this.port !== undefined ? ":" + this.port : ""
    }${this.params}`;
  }
}

function skipWs(s: string, i: number): number {
  while (i < s.length && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 9)) i++;
  return i;
}

// RFC 3261 §25.1 token characters.
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~") {
  TOKEN_CHARS[c.charCodeAt(0)] = 1;
}

function scanToken(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN_CHARS[c] === 0) break;
    i++;
  }
  return i;
}

const TRANSPORTS = ["UDP", "TCP", "TLS", "SCTP", "WS", "WSS"];

/** The upper-case transport name `text[from, to)` spells in any case, without a copy. */
function knownTransport(text: string, from: number, to: number): string | undefined {
  next: for (const t of TRANSPORTS) {
    if (t.length !== to - from) continue;
    for (let j = 0; j < t.length; j++) {
      // Token chars only: `& 0xdf` upper-cases letters and maps no other token char onto one.
      if ((text.charCodeAt(from + j) & 0xdf) !== t.charCodeAt(j)) continue next;
    }
    return t;
  }
  return undefined;
}

/** Parse one Via value ("SIP/2.0/UDP host:port;branch=..."); split lists first. */
export function parseVia(text: string): Via {
  const bad = (what: string, at: number): never => {
    throw new SipParseError("Via", `expected ${what} in "${text.slice(0, 60)}"`, at);
  };
  let i = skipWs(text, 0);
  let p0 = "", p1 = "", p2 = "";
  // Fast path: "SIP/2.0/" with no white space, as nearly every peer sends it.
  if (
    text.charCodeAt(i) === 83 && text.charCodeAt(i + 1) === 73 && text.charCodeAt(i + 2) === 80 &&
    text.charCodeAt(i + 3) === 47 && text.charCodeAt(i + 4) === 50 &&
    text.charCodeAt(i + 5) === 46 && text.charCodeAt(i + 6) === 48 &&
    text.charCodeAt(i + 7) === 47
  ) {
    p0 = "SIP";
    p1 = "2.0";
    i += 7; // the loop reads the "/" before the transport
  }
  for (let k = p0 === "" ? 0 : 2; k < 3; k++) {
    if (k > 0) {
      i = skipWs(text, i);
      if (text.charCodeAt(i) !== 47) bad('"/"', i);
      i = skipWs(text, i + 1);
    }
    const s = i;
    i = scanToken(text, i);
    if (i === s) bad(k === 2 ? "a transport" : "a protocol name/version", i);
    if (k === 0) p0 = text.slice(s, i);
    else if (k === 1) p1 = text.slice(s, i);
    else p2 = knownTransport(text, s, i) ?? text.slice(s, i).toUpperCase();
  }
  const ws = i;
  i = skipWs(text, i);
  if (i === ws) bad("white space before sent-by", i);
  let host: string;
  if (text.charCodeAt(i) === 91) {
    const close = text.indexOf("]", i);
    if (close < 0) bad('"]" closing the IPv6 reference', i);
    for (let j = i + 1; j < close; j++) {
      const c = text.charCodeAt(j);
      const l = c | 0x20;
      if (!((c >= 48 && c <= 58) || (l >= 97 && l <= 102) || c === 46)) bad("an IPv6 address", j);
    }
    if (close === i + 1) bad("an IPv6 address", i);
    host = text.slice(i, close + 1);
    i = close + 1;
  } else {
    const s = i;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      const l = c | 0x20;
      if (!((l >= 97 && l <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95)) {
        break;
      }
      i++;
    }
    if (i === s) bad("a host", i);
    host = text.slice(s, i);
  }
  let port: number | undefined;
  const beforeColon = i;
  i = skipWs(text, i);
  if (text.charCodeAt(i) === 58) {
    i = skipWs(text, i + 1);
    const s = i;
    while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    if (i === s || i - s > 5) bad("a port number", s);
    port = Number(text.slice(s, i));
    if (port > 65535) throw new SipParseError("Via", `port ${port} above 65535`, s);
  } else i = beforeColon;
  const params = scanParams(text, i, "Via", true);
  // Upper-case only when needed: most peers already send "SIP/2.0/UDP".
  const protocol = p0 === "SIP" && p1 === "2.0" ? "SIP/2.0" : `${p0}/${p1}`.toUpperCase();
  return new Via(p2, host, port, params, protocol);
}

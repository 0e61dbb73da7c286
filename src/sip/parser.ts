// RFC 3261 §7 and §25 message framing: split the start line and the headers once, check the
// headers every transaction and dialog needs (Via, CSeq, From, To, Contact, Route,
// Record-Route, Max-Forwards, Request-URI), and leave every other header unparsed, byte for
// byte, until something reads it. Verdicts follow RFC 4475 (see tests/sip/torture_test.ts).

import { SipLimitError, SipParseError } from "./errors.ts";
import { canonicalName, headerKey } from "./headers.ts";
import { type Header, type SipMessage, SipRequest, SipResponse } from "./message.ts";
import { KNOWN_METHODS } from "./methods.ts";

/** Size and shape limits applied before any grammar is parsed. */
export interface ParseLimits {
  /** Largest message accepted, in bytes (default 65,535). */
  maxSize: number;
  /** Most header lines accepted (default 256). */
  maxHeaders: number;
}

/** The limits parseMessage uses when none are given. */
export const DEFAULT_LIMITS: ParseLimits = { maxSize: 65535, maxHeaders: 256 };

const decoder = new TextDecoder("utf-8");
// Used only when the fast decoder produced U+FFFD, to tell invalid UTF-8 from a real U+FFFD.
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

// RFC 3261 §25.1 token characters, as a lookup table (no regex on the hot path).
const TOKEN = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~") {
  TOKEN[c.charCodeAt(0)] = 1;
}

/** Whether `s` is a non-empty RFC 3261 token (method, header name, option tag). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Byte offset of the CRLFCRLF ending the header block, or -1 when absent. */
export function findHeaderEnd(data: Uint8Array, from = 0): number {
  // Boyer-Moore-Horspool for CR LF CR LF: a byte that is neither CR nor LF moves us 4 ahead,
  // so a typical head costs about a quarter of its length in steps.
  const n = data.length;
  let i = from + 3;
  while (i < n) {
    const c = data[i];
    if (c === 10) {
      if (data[i - 1] === 13 && data[i - 2] === 10 && data[i - 3] === 13) return i - 3;
      i += 2;
    } else if (c === 13) i += 1;
    else i += 4;
  }
  return -1;
}

/**
 * Parse one message from a datagram or a framed stream chunk. Throws {@link SipParseError}
 * (with `partial` set when the headers could be split) and nothing else. Syntactically sound
 * messages with semantic faults (missing From/To/Call-ID, duplicate singletons, disagreeing
 * Content-Length) parse; call `checkMessage` before acting on one. A message without Via or
 * CSeq is rejected here: no transaction can match it and no response can be routed.
 */
export function parseMessage(data: Uint8Array, limits: ParseLimits = DEFAULT_LIMITS): SipMessage {
  try {
    return parseInner(data, limits);
  } catch (e) {
    if (e instanceof SipParseError) throw e;
    // A bug of ours, not the peer's: still one error family for the caller.
    throw new SipParseError("message", `unparseable: ${(e as Error)?.message ?? e}`);
  }
}

/** Trim SP/HTAB (LWS after unfolding) from both ends of `s.slice(from, to)`. */
function trimmed(s: string, from: number, to: number): string {
  while (from < to && (s.charCodeAt(from) === 32 || s.charCodeAt(from) === 9)) from++;
  while (to > from && (s.charCodeAt(to - 1) === 32 || s.charCodeAt(to - 1) === 9)) to--;
  return s.slice(from, to);
}

// Known header keys with their canonical output names, computed once.
const KNOWN_NAMES = new Map<string, string>();
for (
  const k of [
    "via",
    "from",
    "to",
    "call-id",
    "cseq",
    "contact",
    "max-forwards",
    "content-length",
    "content-type",
    "route",
    "record-route",
    "allow",
    "supported",
    "require",
    "proxy-require",
    "unsupported",
    "expires",
    "min-expires",
    "user-agent",
    "server",
    "subject",
    "event",
    "refer-to",
    "referred-by",
    "reason",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "content-encoding",
    "content-disposition",
    "accept",
    "session-expires",
    "min-se",
    "allow-events",
    "timestamp",
    "rack",
    "rseq",
    "p-asserted-identity",
    "accept-contact",
    "reject-contact",
    "request-disposition",
    "identity",
  ]
) KNOWN_NAMES.set(k, canonicalName(k));

// The same names, bucketed by length, for recognising a header name straight from the line's
// characters: no substring, no hashing. Compact forms (one letter) go by their char code.
const BY_LEN: { key: string; name: string }[][] = [];
for (const [key, name] of KNOWN_NAMES) (BY_LEN[key.length] ??= []).push({ key, name });
const COMPACT_KEY: ({ key: string; name: string } | undefined)[] = [];
for (let c = 97; c <= 122; c++) {
  const letter = String.fromCharCode(c);
  const key = headerKey(letter);
  if (key !== letter) {
    COMPACT_KEY[c] = COMPACT_KEY[c - 32] = {
      key,
      name: KNOWN_NAMES.get(key) ?? canonicalName(key),
    };
  }
}

/** The known header whose name is `text[from, to)` (any case), or undefined. */
function knownHeader(
  text: string,
  from: number,
  to: number,
): { key: string; name: string } | undefined {
  const n = to - from;
  if (n === 1) return COMPACT_KEY[text.charCodeAt(from)];
  const bucket = BY_LEN[n];
  if (bucket === undefined) return undefined;
  // Token chars only: `| 0x20` lower-cases letters and maps no other token char onto a
  // lowercase letter or "-".
  const c0 = text.charCodeAt(from) | 0x20;
  next: for (let b = 0; b < bucket.length; b++) {
    const k = bucket[b].key;
    if (k.charCodeAt(0) !== c0) continue;
    for (let j = 1; j < n; j++) {
      if ((text.charCodeAt(from + j) | 0x20) !== k.charCodeAt(j)) continue next;
    }
    return bucket[b];
  }
  return undefined;
}

function parseInner(data: Uint8Array, limits: ParseLimits): SipMessage {
  if (data.length > limits.maxSize) {
    throw new SipLimitError("message", `larger than ${limits.maxSize} bytes`, limits.maxSize, 513);
  }
  let start = 0;
  // RFC 3261 §7.5: ignore CRLFs before the start line (keep-alives, stream leftovers).
  while (start + 1 < data.length && data[start] === 13 && data[start + 1] === 10) start += 2;
  const end = findHeaderEnd(data, start);
  let headEnd = end < 0 ? data.length : end;
  const bodyStart = end < 0 ? data.length : end + 4;
  // No empty line: the datagram ends the headers (RFC 4475 baddn has none); a trailing CRLF
  // then ends the last header line.
  if (end < 0 && headEnd - start >= 2 && data[headEnd - 2] === 13 && data[headEnd - 1] === 10) {
    headEnd -= 2;
  }
  // Almost every message is ASCII throughout: decode it whole and take the header section as a
  // substring (byte and character offsets agree). A typed-array view of the header bytes, the
  // obvious way, costs more than the decoding itself under JavaScriptCore.
  let text = decoder.decode(data);
  if (text.length === data.length && text.indexOf("\uFFFD") < 0) {
    text = text.slice(start, headEnd);
  } else {
    const head = data.subarray(start, headEnd);
    text = decoder.decode(head);
    if (text.indexOf("\uFFFD") >= 0) {
      try {
        strictDecoder.decode(head);
      } catch {
        throw new SipParseError("message", "expected UTF-8 in the header section", start);
      }
    }
  }
  const len = text.length;
  let nl = text.indexOf("\r\n");
  if (nl < 0) nl = len;
  const startLine = text.slice(0, nl);
  if (!startLine) {
    throw new SipParseError("start-line", "expected a start line, got an empty one", start);
  }
  if (hasBareCrLf(startLine)) throw new SipParseError("start-line", "bare CR or LF", start);

  const headers: Header[] = [];
  let pos = nl + 2;
  while (pos < len) {
    nl = text.indexOf("\r\n", pos);
    if (nl < 0) nl = len;
    const ls = pos;
    pos = nl + 2;
    if (nl === ls) continue;
    // The only CR in [ls, nl] must be the one at nl, and no LF may come before it.
    const cr = text.indexOf("\r", ls);
    const lf = text.indexOf("\n", ls);
    if ((cr >= 0 && cr < nl) || (lf >= 0 && lf < nl)) {
      throw new SipParseError("message", "bare CR or LF inside a header line", start + ls);
    }
    const c0 = text.charCodeAt(ls);
    if (c0 === 32 || c0 === 9) {
      // §7.3.1 folding: a continuation line joins the previous header with one space.
      const prev = headers[headers.length - 1];
      if (!prev) {
        throw new SipParseError("message", "continuation line before any header", start + ls);
      }
      const more = trimmed(text, ls, nl);
      if (more) prev.value = prev.value ? prev.value + " " + more : more;
      continue;
    }
    let i = ls;
    while (i < nl) {
      const c = text.charCodeAt(i);
      if (c >= 128 || TOKEN[c] === 0) break;
      i++;
    }
    const nameEnd = i;
    while (i < nl && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
    if (nameEnd === ls || text.charCodeAt(i) !== 58) {
      throw new SipParseError(
        "message",
        `expected "name: value", got "${text.slice(ls, Math.min(nl, ls + 40))}"`,
        start + ls,
      );
    }
    if (headers.length >= limits.maxHeaders) {
      throw new SipLimitError("message", `more than ${limits.maxHeaders} headers`, start + ls);
    }
    const value = trimmed(text, i + 1, nl);
    const known = knownHeader(text, ls, nameEnd);
    if (known !== undefined) {
      headers.push({ key: known.key, name: known.name, value });
      continue;
    }
    const rawName = text.slice(ls, nameEnd);
    const key = headerKey(rawName);
    // Known and compact names get the canonical long name; unknown ones keep the name as
    // received so they pass through byte for byte.
    const name = KNOWN_NAMES.get(key) ?? (rawName.length === 1 ? canonicalName(key) : rawName);
    headers.push({ key, name, value });
  }

  const msg = parseStartLine(startLine, headers, start);

  // Body per Content-Length (§18.3); over a datagram without one, the rest of it (§18.3 allows
  // that for UDP, RFC 4475 inv2543). Disagreeing values (mcl01) leave the framing unknown:
  // take the rest and let checkMessage answer 400.
  const available = data.length - bodyStart;
  let bodyLen = available;
  let cl: string | undefined;
  let disagree = false;
  for (const h of headers) {
    if (h.key !== "content-length") continue;
    const v = h.value;
    if (!isDigits(v)) {
      throw new SipParseError(
        "Content-Length",
        `expected digits, got "${v.slice(0, 20)}"`,
        -1,
        400,
        msg,
      );
    }
    if (cl === undefined) cl = v;
    else if (Number(v) !== Number(cl)) disagree = true;
  }
  if (cl !== undefined && !disagree) {
    bodyLen = Number(cl);
    if (bodyLen > available) {
      throw new SipParseError(
        "Content-Length",
        `says ${cl.length > 12 ? "more than 10^12" : bodyLen} bytes, ${available} present`,
        -1,
        400,
        msg,
      );
    }
  }
  if (bodyLen > 0) msg.body = data.slice(bodyStart, bodyStart + bodyLen);
  validate(msg);
  return msg;
}

function hasBareCrLf(s: string): boolean {
  return s.indexOf("\r") >= 0 || s.indexOf("\n") >= 0;
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** RFC 3261 §7.1 Request-Line / §7.2 Status-Line: single SPs, no leading or trailing LWS. */
function parseStartLine(line: string, headers: Header[], offset: number): SipMessage {
  const sp1 = line.indexOf(" ");
  if (sp1 > 0 && startsWithSip(line, 0)) {
    const version = line.slice(0, sp1);
    let sp2 = line.indexOf(" ", sp1 + 1);
    // Liberal: "SIP/2.0 100" without the SP before an empty reason phrase.
    if (sp2 < 0) sp2 = line.length;
    const code = line.slice(sp1 + 1, sp2);
    if (code.length !== 3 || !isDigits(code) || code < "100" || code > "699") {
      throw new SipParseError(
        "status-line",
        `expected a status code 100..699, got "${code.slice(0, 12)}"`,
        offset,
      );
    }
    if (version !== "SIP/2.0" && version.toUpperCase() !== "SIP/2.0") {
      throw new SipParseError(
        "status-line",
        `expected SIP/2.0, got ${version.slice(0, 20)}`,
        offset,
        505,
      );
    }
    return new SipResponse(Number(code), line.slice(sp2 + 1), headers);
  }
  const sp2 = sp1 < 0 ? -1 : line.indexOf(" ", sp1 + 1);
  if (
    sp1 <= 0 || sp2 < 0 || sp2 === sp1 + 1 || line.indexOf(" ", sp2 + 1) >= 0 ||
    sp2 === line.length - 1
  ) {
    // RFC 4475 §3.1.2.8-10 (lwsruri, lwsstart, trws): we take the strict reading.
    throw new SipParseError(
      "request-line",
      "expected METHOD SP Request-URI SP SIP/2.0, single spaces",
      offset,
    );
  }
  const sliced = line.slice(0, sp1);
  // One constant string per known method: what keeps a method (a lingering transaction) keeps
  // no copy of its own.
  const method = KNOWN_METHODS.get(sliced) ?? sliced;
  const uri = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!isToken(method)) {
    throw new SipParseError(
      "request-line",
      `expected a method token, got "${method.slice(0, 20)}"`,
      offset,
    );
  }
  const req = new SipRequest(method, uri, headers);
  if (version === "SIP/2.0") return req;
  if (!isSipVersion(version)) {
    throw new SipParseError(
      "request-line",
      `expected SIP/2.0, got "${version.slice(0, 20)}"`,
      offset,
      400,
      req,
    );
  }
  if (version.toUpperCase() !== "SIP/2.0") {
    throw new SipParseError("request-line", `expected SIP/2.0, got ${version}`, offset, 505, req);
  }
  return req;
}

/** Whether `s` holds "SIP/" (any case) at `i`. */
function startsWithSip(s: string, i: number): boolean {
  return (s.charCodeAt(i) & 0xdf) === 83 && (s.charCodeAt(i + 1) & 0xdf) === 73 &&
    (s.charCodeAt(i + 2) & 0xdf) === 80 && s.charCodeAt(i + 3) === 47;
}

// "SIP" "/" 1*DIGIT "." 1*DIGIT, case-insensitive (§7.1).
function isSipVersion(v: string): boolean {
  if (v.length < 7 || v.slice(0, 4).toUpperCase() !== "SIP/") return false;
  const dot = v.indexOf(".", 4);
  return dot > 4 && isDigits(v.slice(4, dot)) && isDigits(v.slice(dot + 1));
}

/** The grammar checks every message must pass before a transaction may look at it. */
function validate(msg: SipMessage): void {
  try {
    if (msg instanceof SipRequest) {
      const ruri = msg.ruri;
      // §19.1.1 table: no headers in a Request-URI (RFC 4475 §3.1.2.11 escruri).
      if (ruri.headers !== undefined) {
        throw new SipParseError("Request-URI", "expected no ?headers in a Request-URI");
      }
    }
    if (msg.vias.length === 0) {
      throw new SipParseError("Via", "expected at least one Via, found none");
    }
    const cseq = msg.cseq;
    if (msg instanceof SipRequest && cseq.method !== msg.method) {
      throw new SipParseError("CSeq", `expected method ${msg.method}, got ${cseq.method}`);
    }
    const callId = msg.first("call-id");
    if (callId !== undefined && !callId) {
      throw new SipParseError("Call-ID", "expected a value, got none");
    }
    if (msg.first("from") !== undefined) void msg.from;
    if (msg.first("to") !== undefined) void msg.to;
    void msg.contacts;
    if (msg.first("route") !== undefined) void msg.routes;
    if (msg.first("record-route") !== undefined) void msg.recordRoutes;
    void msg.maxForwards;
  } catch (e) {
    if (e instanceof SipParseError && !e.partial) {
      throw new SipParseError(e.part, e.detail, e.offset, e.status, msg);
    }
    throw e;
  }
}

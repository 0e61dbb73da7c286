// RFC 3261 §7 and §25 message framing: split the start line and the headers once, check the
// headers every transaction needs, leave the rest of the grammar to be parsed when read.

import { SipLimitError, SipParseError } from "./errors.ts";
import { canonicalName, headerKey } from "./headers.ts";
import { type Header, SipMessage, SipRequest, SipResponse } from "./message.ts";

/** Size and shape limits applied before any grammar is parsed. */
export interface ParseLimits {
  /** Largest message accepted, in bytes (default 65,535). */
  maxSize: number;
  /** Most header lines accepted (default 256). */
  maxHeaders: number;
}

export const DEFAULT_LIMITS: ParseLimits = { maxSize: 65535, maxHeaders: 256 };

const decoder = new TextDecoder("utf-8", { fatal: true });
const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/** Byte offset of the CRLFCRLF ending the header block, or -1 when absent. */
export function findHeaderEnd(data: Uint8Array, from = 0): number {
  for (let i = from; i + 3 < data.length; i++) {
    if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) return i;
  }
  return -1;
}

/**
 * Parse one message from a datagram or a framed stream chunk. Throws {@link SipParseError}
 * (with `partial` set when the headers could be split) and nothing else.
 */
export function parseMessage(data: Uint8Array, limits: ParseLimits = DEFAULT_LIMITS): SipMessage {
  try {
    return parseInner(data, limits);
  } catch (e) {
    if (e instanceof SipParseError) throw e;
    throw new SipParseError("message", `unparseable: ${(e as Error)?.message ?? e}`);
  }
}

function parseInner(data: Uint8Array, limits: ParseLimits): SipMessage {
  if (data.length > limits.maxSize) {
    throw new SipLimitError("message", `larger than ${limits.maxSize} bytes`, limits.maxSize, 513);
  }
  let start = 0;
  // RFC 3261 §7.5: ignore CRLFs before the start line (keep-alives, stream leftovers).
  while (start + 1 < data.length && data[start] === 13 && data[start + 1] === 10) start += 2;
  const end = findHeaderEnd(data, start);
  const headEnd = end < 0 ? data.length : end;
  const bodyStart = end < 0 ? data.length : end + 4;
  let text: string;
  try {
    text = decoder.decode(data.subarray(start, headEnd));
  } catch {
    throw new SipParseError("message", "header section is not valid UTF-8", start);
  }
  if (end < 0) {
    // No empty line: the datagram ends the headers (RFC 4475 baddn has none); tolerate a
    // trailing CRLF, but a message must still reach the parser in one piece.
    text = text.replace(/\r\n$/, "");
  }
  const lines = text.split("\r\n");
  const startLine = lines[0];
  if (!startLine) throw new SipParseError("start-line", "empty start line", start);
  const headers: Header[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.length === 0) continue;
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) {
      // §7.3.1 folding: continuation lines join the previous header with one space.
      const prev = headers[headers.length - 1];
      if (!prev) throw new SipParseError("message", "continuation line before any header");
      prev.value = (prev.value + " " + line.trim()).trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new SipParseError("message", `header line without a name: "${line.slice(0, 40)}"`);
    }
    const rawName = line.slice(0, colon).trimEnd();
    if (!TOKEN_RE.test(rawName)) {
      throw new SipParseError("message", `bad header name "${rawName.slice(0, 40)}"`);
    }
    if (headers.length >= limits.maxHeaders) {
      throw new SipLimitError("message", `more than ${limits.maxHeaders} headers`);
    }
    const key = headerKey(rawName);
    headers.push({
      key,
      // Known headers get their canonical long name; unknown ones keep the name as received.
      name: isKnown(key) ? canonicalName(key) : rawName,
      value: line.slice(colon + 1).trim(),
    });
  }

  let msg: SipMessage;
  const sp1 = startLine.indexOf(" ");
  if (startLine.startsWith("SIP/") && sp1 > 0) {
    const version = startLine.slice(0, sp1);
    const sp2 = startLine.indexOf(" ", sp1 + 1);
    if (sp2 < 0) throw new SipParseError("status-line", "no reason phrase separator");
    const code = startLine.slice(sp1 + 1, sp2);
    if (!/^[1-6][0-9][0-9]$/.test(code)) {
      throw new SipParseError("status-line", `bad status code "${code.slice(0, 12)}"`);
    }
    if (version !== "SIP/2.0") {
      throw new SipParseError("status-line", `unsupported version ${version}`, 0, 505);
    }
    msg = new SipResponse(Number(code), startLine.slice(sp2 + 1), headers);
  } else {
    const parts = startLine.split(" ");
    if (parts.length !== 3 || parts.some((p) => p.length === 0)) {
      throw new SipParseError("request-line", "expected METHOD SP Request-URI SP SIP/2.0");
    }
    const [method, uri, version] = parts;
    if (!TOKEN_RE.test(method)) throw new SipParseError("request-line", `bad method "${method}"`);
    const req = new SipRequest(method, uri, headers);
    if (!/^SIP\/[0-9]+\.[0-9]+$/i.test(version)) {
      throw new SipParseError("request-line", `bad version "${version.slice(0, 20)}"`, 0, 400, req);
    }
    if (version.toUpperCase() !== "SIP/2.0") {
      throw new SipParseError("request-line", `unsupported version ${version}`, 0, 505, req);
    }
    msg = req;
  }

  // Body per Content-Length (§18.3); over a datagram with none, the rest of it.
  const cls = msg.getAll("content-length");
  const available = data.length - bodyStart;
  let bodyLen = available;
  if (cls.length > 0) {
    if (cls.some((v) => v !== cls[0])) {
      throw new SipParseError("Content-Length", "several different values", -1, 400, msg);
    }
    if (!/^[0-9]{1,9}$/.test(cls[0])) {
      throw new SipParseError("Content-Length", `bad value "${cls[0].slice(0, 20)}"`, -1, 400, msg);
    }
    bodyLen = Number(cls[0]);
    if (bodyLen > available) {
      throw new SipParseError(
        "Content-Length",
        `says ${bodyLen} bytes, ${available} present`,
        -1,
        400,
        msg,
      );
    }
  }
  msg.body = data.slice(bodyStart, bodyStart + bodyLen);
  validate(msg);
  return msg;
}

const KNOWN = new Set([
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
  "expires",
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
  "accept",
  "session-expires",
  "allow-events",
]);

function isKnown(key: string): boolean {
  return KNOWN.has(key);
}

/** The checks every message must pass before a transaction may look at it (§8.1.1, §8.2). */
function validate(msg: SipMessage): void {
  const need = ["via", "from", "to", "call-id", "cseq"];
  for (const k of need) {
    if (msg.get(k) === undefined) {
      throw new SipParseError(canonicalName(k), "missing", -1, 400, msg);
    }
  }
  try {
    if (msg.vias.length === 0) throw new SipParseError("Via", "empty");
    const cseq = msg.cseq;
    if (!msg.callId) throw new SipParseError("Call-ID", "empty");
    const from = msg.from;
    const to = msg.to;
    void from;
    void to;
    void msg.contacts;
    if (msg instanceof SipRequest) {
      if (cseq.method !== msg.method) {
        throw new SipParseError("CSeq", `method ${cseq.method} does not match ${msg.method}`);
      }
      const mf = msg.get("max-forwards");
      if (mf !== undefined && (!/^[0-9]{1,3}$/.test(mf) || Number(mf) > 255)) {
        throw new SipParseError("Max-Forwards", `bad value "${mf.slice(0, 12)}"`);
      }
      void msg.ruri;
    }
  } catch (e) {
    if (e instanceof SipParseError && !e.partial) {
      throw new SipParseError(e.part, e.detail, e.offset, e.status, msg);
    }
    throw e;
  }
}

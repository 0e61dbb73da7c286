// RFC 3261 §8.2.6 generating a response (copies Via, From, To, Call-ID, CSeq; Timestamp for
// 100 Trying, §8.2.6.1) and §21 the standard reason phrases.

import { SipParseError } from "./errors.ts";
import { canonicalName } from "./headers.ts";
import { type Header, SipRequest, SipResponse } from "./message.ts";

const PHRASES: Record<number, string> = {
  100: "Trying",
  180: "Ringing",
  181: "Call Is Being Forwarded",
  182: "Queued",
  183: "Session Progress",
  199: "Early Dialog Terminated",
  200: "OK",
  202: "Accepted",
  204: "No Notification",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Moved Temporarily",
  305: "Use Proxy",
  380: "Alternative Service",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  410: "Gone",
  412: "Conditional Request Failed",
  413: "Request Entity Too Large",
  414: "Request-URI Too Long",
  415: "Unsupported Media Type",
  416: "Unsupported URI Scheme",
  417: "Unknown Resource-Priority",
  420: "Bad Extension",
  421: "Extension Required",
  422: "Session Interval Too Small",
  423: "Interval Too Brief",
  428: "Use Identity Header",
  429: "Provide Referrer Identity",
  433: "Anonymity Disallowed",
  436: "Bad Identity-Info",
  437: "Unsupported Certificate",
  438: "Invalid Identity Header",
  439: "First Hop Lacks Outbound Support",
  440: "Max-Breadth Exceeded",
  469: "Bad Info Package",
  470: "Consent Needed",
  480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist",
  482: "Loop Detected",
  483: "Too Many Hops",
  484: "Address Incomplete",
  485: "Ambiguous",
  486: "Busy Here",
  487: "Request Terminated",
  488: "Not Acceptable Here",
  489: "Bad Event",
  491: "Request Pending",
  493: "Undecipherable",
  494: "Security Agreement Required",
  500: "Server Internal Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Server Time-out",
  505: "Version Not Supported",
  513: "Message Too Large",
  555: "Push Notification Service Not Supported",
  580: "Precondition Failure",
  600: "Busy Everywhere",
  603: "Decline",
  604: "Does Not Exist Anywhere",
  606: "Not Acceptable",
  607: "Unwanted",
  608: "Rejected",
};

const CLASS_PHRASES = [
  "",
  "Provisional",
  "Success",
  "Redirection",
  "Client Error",
  "Server Error",
  "Global Failure",
];

/** The standard reason phrase for a status code (RFC 3261 §21 and later RFCs), or its class's. */
export function reasonPhrase(status: number): string {
  return PHRASES[status] ?? CLASS_PHRASES[Math.floor(status / 100)] ?? "Unknown";
}

/** Keys copied from the request into every response, in this order (§8.2.6.2). */
const COPIED = new Set(["via", "from", "to", "call-id", "cseq"]);

/**
 * A response to `req` per RFC 3261 §8.2.6: every Via (in order), From, To, Call-ID and CSeq
 * copied as received, a To tag added when `toTag` is given and the To has none, and for 100
 * Trying the Timestamp. No body; add Contact and the rest as the status needs.
 */
export function createResponse(
  req: SipRequest,
  status: number,
  reason?: string,
  toTag?: string,
): SipResponse {
  if (!Number.isInteger(status) || status < 100 || status > 699) {
    throw new RangeError(`createResponse: expected a status 100..699, got ${status}`);
  }
  if (reason !== undefined && /[\r\n]/.test(reason)) {
    throw new SipParseError("status-line", "CR or LF in a reason phrase");
  }
  const headers: Header[] = [];
  for (const h of req.headers) {
    if (COPIED.has(h.key) || (status === 100 && h.key === "timestamp")) {
      headers.push({ key: h.key, name: h.name, value: h.value });
    }
  }
  const res = new SipResponse(status, reason ?? reasonPhrase(status), headers);
  if (toTag !== undefined && req.first("to") !== undefined) {
    if (/[\r\n;,\s"<>]/.test(toTag) || !toTag) {
      throw new SipParseError("To", `expected a token as To tag, got "${toTag.slice(0, 40)}"`);
    }
    let hasTag: boolean;
    try {
      hasTag = req.to.tag !== undefined;
    } catch {
      hasTag = true; // an unparseable To is copied as is; we cannot tag it safely
    }
    if (!hasTag) {
      const to = headers.find((h) => h.key === "to")!;
      to.value = `${to.value};tag=${toTag}`;
      res.invalidate();
    }
  }
  return res;
}

/**
 * RFC 3261 §12.1.1: a response that establishes a dialog (a 1xx with a To tag, or a 2xx, to an
 * INVITE) carries every Record-Route of the request, values, parameters and order unchanged, so
 * that the proxies which record-routed stay on the dialog's path. Appends them to `res`.
 */
export function copyRecordRoute(req: SipRequest, res: SipResponse): SipResponse {
  let copied = false;
  for (const h of req.headers) {
    if (h.key !== "record-route") continue;
    res.headers.push({ key: h.key, name: h.name, value: h.value });
    copied = true;
  }
  if (copied) res.invalidate();
  return res;
}

const IDENTITY = new Set(["from", "to", "call-id", "cseq"]);

/**
 * A copy of `s` that shares no memory with the string it was sliced from: header values are
 * slices of the whole received text, which a kept slice would keep alive. A JSON round trip
 * gives a flat string of its own in both V8 and JavaScriptCore, and JavaScriptCore's JSON.parse
 * also atomizes it: the values every call repeats (a peer's URI, its display name, our own
 * addresses) are then one string for all calls. That sharing is worth more than speed here:
 * `[s, ""].join("")` copies at a third of the cost, unshared, and 100,000 held calls took 5.6 KB
 * of heap each instead of 4.1 once settled, 1,053 MB of RSS instead of 685 at the peak (a slice
 * of a copy costs a 32-byte slice object on top; ropes a node per piece). Lossless for every
 * string, lone surrogates included.
 */
export function detach(s: string): string {
  return JSON.parse(JSON.stringify(s));
}

/**
 * {@link detach} for several values at once, in order: one JSON round trip for all of them. A
 * round trip has a fixed cost (the parser's set-up, the result's allocation) that dominates for
 * short values, and a call keeps values in groups (a dialog's identity, a CDR's addresses).
 */
export function detachAll(values: string[]): string[] {
  return JSON.parse(JSON.stringify(values));
}

/**
 * A request reduced to its identity (request line, From, To, Call-ID, CSeq), sharing no memory
 * with the received text, for state kept for a call's whole life (RFC 3261 §12 needs no more
 * of the INVITE once the dialog exists).
 */
export function identityOf(req: SipRequest): SipRequest {
  // Sized exactly: an array grown by push keeps room for 16 more entries, for the call's life.
  const values = [req.uri];
  for (const h of req.headers) if (IDENTITY.has(h.key)) values.push(h.value);
  const own = detachAll(values);
  const headers = new Array<Header>(own.length - 1);
  let i = 0;
  for (const h of req.headers) {
    if (!IDENTITY.has(h.key)) continue;
    headers[i] = { key: h.key, name: h.name, value: own[i + 1] };
    i++;
  }
  return new SipRequest(req.method, own[0], headers);
}

/**
 * {@link identityOf} for a request whose identity values already share no memory with any
 * received text (a request we built from copies, or one identityOf made): no copies, only new
 * objects, so nothing cached on `req` carries over.
 */
export function identityOfOwned(req: SipRequest): SipRequest {
  let n = 0;
  for (const h of req.headers) if (IDENTITY.has(h.key)) n++;
  const headers = new Array<Header>(n);
  let i = 0;
  for (const h of req.headers) {
    if (IDENTITY.has(h.key)) headers[i++] = { key: h.key, name: h.name, value: h.value };
  }
  return new SipRequest(req.method, req.uri, headers);
}

/**
 * An owned identity (see {@link identityOfOwned}) as one string: the Request-URI, then the key
 * and value of each From, To, Call-ID and CSeq line, joined by LF (which no parsed header value
 * or URI holds). For what is kept long and read rarely (an ended call's answered leg, 32 s at
 * thousands of calls a second): one flat string, not a message with a header list, nor an array
 * of strings, each a cell the collector marks. {@link requestOfIdentity} makes the request again.
 */
export function identityValues(req: SipRequest): string {
  const out: string[] = [req.uri];
  for (const h of req.headers) {
    if (IDENTITY.has(h.key)) out.push(h.key, h.value);
  }
  // join builds one flat string (a `+` chain would be a rope holding every piece).
  return out.join("\n");
}

/** The `method` request whose identity {@link identityValues} kept. */
export function requestOfIdentity(method: string, identity: string): SipRequest {
  const values = identity.split("\n");
  const headers = new Array<Header>((values.length - 1) >> 1);
  for (let i = 1, j = 0; i + 1 < values.length; i += 2, j++) {
    headers[j] = { key: values[i], name: canonicalName(values[i]), value: values[i + 1] };
  }
  return new SipRequest(method, values[0], headers);
}

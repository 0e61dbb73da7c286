// RFC 3261 §8.2.6 building responses from requests, and §21 standard reason phrases.

import { type Header, type SipRequest, SipResponse } from "./message.ts";

const PHRASES: Record<number, string> = {
  100: "Trying",
  180: "Ringing",
  181: "Call Is Being Forwarded",
  182: "Queued",
  183: "Session Progress",
  200: "OK",
  202: "Accepted",
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
  413: "Request Entity Too Large",
  414: "Request-URI Too Long",
  415: "Unsupported Media Type",
  416: "Unsupported URI Scheme",
  420: "Bad Extension",
  421: "Extension Required",
  423: "Interval Too Brief",
  480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist",
  482: "Loop Detected",
  483: "Too Many Hops",
  484: "Address Incomplete",
  485: "Ambiguous",
  486: "Busy Here",
  487: "Request Terminated",
  488: "Not Acceptable Here",
  491: "Request Pending",
  493: "Undecipherable",
  500: "Server Internal Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Server Time-out",
  505: "Version Not Supported",
  513: "Message Too Large",
  600: "Busy Everywhere",
  603: "Decline",
  604: "Does Not Exist Anywhere",
  606: "Not Acceptable",
};

/** The standard reason phrase for a status code (class default for unknown codes). */
export function reasonPhrase(status: number): string {
  return PHRASES[status] ?? PHRASES[Math.floor(status / 100) * 100] ?? "Unknown";
}

/**
 * A response to `req` per §8.2.6.2: Via (all, in order), From, Call-ID and CSeq copied; To
 * copied with `toTag` added when the request's To has none; Timestamp echoed on 100.
 */
export function createResponse(
  req: SipRequest,
  status: number,
  reason?: string,
  toTag?: string,
): SipResponse {
  const headers: Header[] = [];
  for (const h of req.headers) {
    switch (h.key) {
      case "via":
      case "from":
      case "call-id":
      case "cseq":
        headers.push({ key: h.key, name: h.name, value: h.value });
        break;
      case "to": {
        let v = h.value;
        if (toTag && status !== 100 && req.to.tag === undefined) v = `${v};tag=${toTag}`;
        headers.push({ key: h.key, name: h.name, value: v });
        break;
      }
      case "timestamp":
        if (status === 100) headers.push({ key: h.key, name: h.name, value: h.value });
        break;
    }
  }
  return new SipResponse(status, reason ?? reasonPhrase(status), headers);
}

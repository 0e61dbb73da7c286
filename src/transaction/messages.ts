// Messages the transaction layer builds itself: the hop-by-hop ACK (RFC 3261 §17.1.1.3), CANCEL
// (§9.1), 100 Trying (§17.2.1, §8.2.6.1) and the layer's own answers (§8.2.6.2).

import { type Header, headerList, SipRequest, SipResponse } from "../sip/mod.ts";

const UNSAFE = /[\r\n\0]/;

/** Copy every line of the headers named by `keys` (lowercase long form), in message order. */
function copyHeaders(from: SipRequest | SipResponse, keys: ReadonlySet<string>): Header[] {
  const out: Header[] = [];
  for (const h of from.headers) if (keys.has(h.key)) out.push({ ...h });
  return out;
}

/** The top Via value alone (the first of a possibly comma-joined list), as received. */
function topViaValue(req: SipRequest): string {
  return req.getAll("via")[0];
}

/**
 * §17.1.1.3: the ACK for a 300-699 response. Request-URI, Call-ID, From and the top Via (only)
 * of the INVITE; To of the response (with its tag); CSeq number with method ACK; the INVITE's
 * Route headers.
 */
export function buildAck(invite: SipRequest, res: SipResponse): SipRequest {
  const h = headerList([
    ["Via", topViaValue(invite)],
    ["Max-Forwards", "70"],
    ["From", invite.get("from") ?? ""],
    ["To", res.get("to") ?? ""],
    ["Call-ID", invite.callId],
    ["CSeq", `${invite.cseq.seq} ACK`],
  ]);
  for (const r of invite.headers) if (r.key === "route") h.push({ ...r });
  return new SipRequest("ACK", invite.uri, h);
}

/**
 * §9.1: CANCEL for `invite`. Request-URI, Call-ID, From and To identical to the INVITE's
 * (including tags: a re-INVITE's To tag stays, the tag of a provisional is not added), CSeq
 * number with method CANCEL, only the top Via, the INVITE's Route headers, and a Reason header
 * (RFC 3326) when `reason` is given.
 */
export function buildCancel(invite: SipRequest, reason?: string): SipRequest {
  if (reason !== undefined && UNSAFE.test(reason)) {
    throw new TypeError("CANCEL reason must not contain CR, LF or NUL");
  }
  const h = headerList([
    ["Via", topViaValue(invite)],
    ["Max-Forwards", "70"],
    ["From", invite.get("from") ?? ""],
    ["To", invite.get("to") ?? ""],
    ["Call-ID", invite.callId],
    ["CSeq", `${invite.cseq.seq} CANCEL`],
  ]);
  for (const r of invite.headers) if (r.key === "route") h.push({ ...r });
  if (reason !== undefined) h.push(...headerList([["Reason", reason]]));
  return new SipRequest("CANCEL", invite.uri, h);
}

const RESPONSE_COPY: ReadonlySet<string> = new Set(["via", "from", "to", "call-id", "cseq"]);
const TRYING_COPY: ReadonlySet<string> = new Set([
  "via",
  "from",
  "to",
  "call-id",
  "cseq",
  "timestamp",
]);

/**
 * §8.2.6: a response to `req` with its Via, From, To, Call-ID and CSeq. `toTag` is added to To
 * when the request's To has no tag (every response but 100 needs one, §8.2.6.2).
 */
export function buildResponse(
  req: SipRequest,
  status: number,
  reason: string,
  toTag?: string,
): SipResponse {
  const h = copyHeaders(req, RESPONSE_COPY);
  if (toTag !== undefined && req.to.tag === undefined) {
    const i = h.findIndex((x) => x.key === "to");
    if (i >= 0) h[i] = { ...h[i], value: `${h[i].value};tag=${toTag}` };
  }
  return new SipResponse(status, reason, h);
}

/** §17.2.1 / §8.2.6.1: 100 Trying, with Timestamp copied and the To of the request (no tag). */
export function buildTrying(invite: SipRequest): SipResponse {
  return new SipResponse(100, "Trying", copyHeaders(invite, TRYING_COPY));
}

// RFC 3261 §21.4.1 / §21.5.6: failures of the message parser, typed so the layer above can map
// them to one SIP answer (400 naming the header, 505 for the version, 416 for the URI scheme).

import type { SipMessage } from "./message.ts";

/** Why a message could not be parsed; `part` names the header or element at fault. */
export class SipParseError extends Error {
  override name = "SipParseError";
  constructor(
    /** The header name (long form, e.g. "Via") or element ("request-line", "body", "message"). */
    public readonly part: string,
    /** What is wrong, for a reason phrase or a log line. */
    public readonly detail: string,
    /** Byte offset in the input where the fault was seen, when known. */
    public readonly offset = -1,
    /** The SIP status the UAS should answer with: 400, 505 or 416. */
    public readonly status = 400,
    /**
     * The message as far as it could be split, when the start line and headers were split and
     * only a header's grammar failed. Enough, when its Via/From/To/Call-ID/CSeq are usable,
     * to build the error response.
     */
    public readonly partial?: SipMessage,
  ) {
    super(`${part}: ${detail}${offset >= 0 ? ` (at byte ${offset})` : ""}`);
  }
}

/** A message over the configured size or header-count limit. */
export class SipLimitError extends SipParseError {
  override name = "SipLimitError";
}

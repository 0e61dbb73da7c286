// RFC 3261 §8.1.1 mandatory request headers, §20 singleton headers and §18.3 framing: checks a
// parsed message must pass before a UAS acts on it. The parser accepts these messages (RFC
// 4475 §3.3 says their answers come from above the parser); the layer above calls
// checkMessage and answers `status` (400) with a reason naming `part`.

import { SipParseError } from "./errors.ts";
import { canonicalName } from "./headers.ts";
import type { SipMessage } from "./message.ts";

/**
 * Headers every request and response must carry (RFC 3261 §8.1.1). Max-Forwards is left out:
 * RFC 2543 peers omit it (RFC 4475 §3.4.1 inv2543) and a UAS loses nothing without it.
 */
export const MANDATORY_HEADERS: readonly string[] = ["via", "from", "to", "call-id", "cseq"];

/** Headers that may appear at most once (§20; several values make the message ambiguous). */
export const SINGLETON_HEADERS: readonly string[] = [
  "from",
  "to",
  "call-id",
  "cseq",
  "max-forwards",
  "content-type",
];

/** Canonical name of the first missing mandatory header (e.g. "Call-ID"), or undefined. */
export function missingMandatory(msg: SipMessage): string | undefined {
  // One pass over the header lines, a bit per mandatory header seen (this runs for every
  // message received).
  let seen = 0;
  for (const h of msg.headers) {
    const i = MANDATORY_HEADERS.indexOf(h.key);
    if (i >= 0) seen |= 1 << i;
  }
  if (seen === (1 << MANDATORY_HEADERS.length) - 1) return undefined;
  for (let i = 0; i < MANDATORY_HEADERS.length; i++) {
    if ((seen & (1 << i)) === 0) return canonicalName(MANDATORY_HEADERS[i]);
  }
  return undefined;
}

/**
 * Whether a singleton header or Content-Length occurs on more than one line: the common answer
 * is no, found without the per-message count map the exact report needs.
 */
function maybeRepeated(msg: SipMessage): boolean {
  const hs = msg.headers;
  for (let i = 1; i < hs.length; i++) {
    const k = hs[i].key;
    if (k !== "content-length" && SINGLETON_HEADERS.indexOf(k) < 0) continue;
    for (let j = 0; j < i; j++) if (hs[j].key === k) return true;
  }
  return false;
}

/**
 * The first semantic fault of a parsed message, as a {@link SipParseError} (status 400,
 * `partial` = the message), or undefined when it is fit to act on: a missing mandatory
 * header (RFC 4475 §3.3.1 insuf), a singleton header given twice (§3.3.8 multi01), or
 * Content-Length values that disagree (§3.3.9 mcl01; over a stream, close the connection).
 */
export function checkMessage(msg: SipMessage): SipParseError | undefined {
  const missing = missingMandatory(msg);
  if (missing) return new SipParseError(missing, "mandatory header missing", -1, 400, msg);
  if (!maybeRepeated(msg)) return undefined;
  const seen = new Map<string, number>();
  let cl: string | undefined;
  for (const h of msg.headers) {
    if (h.key === "content-length") {
      const v = h.value.trim();
      if (cl !== undefined && v !== cl) {
        return new SipParseError("Content-Length", "several different values", -1, 400, msg);
      }
      cl = v;
      continue;
    }
    seen.set(h.key, (seen.get(h.key) ?? 0) + 1);
  }
  for (const k of SINGLETON_HEADERS) {
    const n = seen.get(k) ?? 0;
    if (n > 1) {
      return new SipParseError(canonicalName(k), `expected once, found ${n} times`, -1, 400, msg);
    }
  }
  return undefined;
}

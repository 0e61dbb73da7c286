// RFC 3261 §8.1.1.7 branch parameters and the §17.1.3 / §17.2.3 transaction matching keys.

import type { SipRequest } from "../sip/mod.ts";
import type { Random } from "../util/clock.ts";
import { token } from "../util/random.ts";

/** The RFC 3261 magic cookie that starts every branch we generate (§8.1.1.7). */
export const MAGIC_COOKIE = "z9hG4bK";

/**
 * A random token of at least `words` * 32 bits: base-36 characters carry ~5.17 bits each, so
 * 32 bits take 6.2 of them. One string built in one go (see `token`), not a rope of pieces.
 */
export function randomToken(random: Random, words = 3): string {
  return token(random, Math.ceil(words * 32 / Math.log2(36)));
}

/** A new branch: the magic cookie and 96 random bits. */
export function newBranch(random: Random): string {
  return MAGIC_COOKIE + randomToken(random);
}

/**
 * True when `branch` was made by an RFC 3261 element. A bare "z9hG4bK" (RFC 4475 badbranch)
 * carries no transaction id at all, so it is treated as an RFC 2543 request.
 */
export function isMagicBranch(branch: string | undefined): branch is string {
  return branch !== undefined && branch.length > MAGIC_COOKIE.length &&
    branch.startsWith(MAGIC_COOKIE);
}

// Keys join components with NUL, which can appear in no parsed SIP token or header value.

/** §17.1.3: a response matches the client transaction with its top Via branch and CSeq method. */
export function clientKey(branch: string, method: string): string {
  return branch + "\0" + method;
}

/**
 * §17.2.3: the server transaction key of `req`, looked up as if its method were `method` (ACK
 * and CANCEL look up the INVITE they refer to, §9.2). With a magic branch: branch, sent-by and
 * method. Without one (RFC 2543): Request-URI, From tag, Call-ID, CSeq number and top Via. The
 * To tag is left out because the ACK's To tag is the one of the response, not the request's;
 * the layer checks it separately for ACK.
 */
export function serverKey(req: SipRequest, method: string): string {
  const via = req.topVia!;
  const branch = via.branch;
  if (isMagicBranch(branch)) return branch + "\0" + via.sentBy + "\0" + method;
  return "2543\0" + method + "\0" + req.uri + "\0" + (req.from.tag ?? "") + "\0" + req.callId +
    "\0" + req.cseq.seq + "\0" + via.toString();
}

/** §8.2.2.2: the From tag, Call-ID and CSeq a merged request shares with the original. */
export function mergeKey(req: SipRequest): string {
  const cseq = req.cseq;
  return (req.from.tag ?? "") + "\0" + req.callId + "\0" + cseq.seq + "\0" + cseq.method;
}

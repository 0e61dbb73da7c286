// RFC 7616 §3.3 / RFC 2617 §3.2.1 nonce: a timestamp signed with HMAC-SHA-256, so the server
// validates it without keeping state (as suggested by RFC 2617 "time-stamp H(time-stamp ...)").

import { Buffer } from "node:buffer";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Result of {@link checkNonce}: `stale` means well-signed but too old (send stale=true). */
export type NonceStatus = "valid" | "stale" | "invalid";

function sign(secret: string, body: string): string {
  return createHmac("sha256", secret).update(body).digest("base64url").slice(0, 22);
}

/** A new nonce `<ms hex>.<random>.<mac>` for a challenge issued at `nowMs`. */
export function createNonce(secret: string, nowMs: number): string {
  const body = `${Math.floor(nowMs).toString(16)}.${randomBytes(9).toString("base64url")}`;
  return `${body}.${sign(secret, body)}`;
}

/** Checks a nonce's signature and age (`maxAgeMs`, default 5 minutes). */
export function checkNonce(
  secret: string,
  nonce: string,
  nowMs: number,
  maxAgeMs = 300_000,
): NonceStatus {
  const parts = nonce.split(".");
  if (parts.length !== 3) return "invalid";
  const body = `${parts[0]}.${parts[1]}`;
  const want = Buffer.from(sign(secret, body));
  const got = Buffer.from(parts[2]);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return "invalid";
  const issued = parseInt(parts[0], 16);
  if (!Number.isFinite(issued) || issued > nowMs + 5000) return "invalid";
  return nowMs - issued > maxAgeMs ? "stale" : "valid";
}

/**
 * The nonce counts seen (RFC 7616 §3.4: "nc" lets the server detect a replay). A stateless nonce
 * alone lets anyone who saw one answered INVITE send it again, with any Call-ID, for as long as
 * the nonce is fresh: a call billed to that account. So each (nonce, nc) is taken once: with qop,
 * nc must grow from one request to the next under a nonce; without qop, a nonce serves once.
 * Entries live as long as a nonce stays fresh; the oldest go first past `maxEntries`.
 */
export class NonceCounts {
  /** Per nonce: the highest nc taken (0 without qop) and when the entry may go. */
  private readonly seen = new Map<string, { nc: number; until: number }>();

  constructor(private readonly maxAgeMs = 300_000, private readonly maxEntries = 500_000) {}

  /**
   * Takes `nc` (8 hex digits, or undefined without qop) for `nonce`; false when it was taken
   * already (or a lower one after it): a replay, or a client that must be challenged afresh.
   */
  take(nonce: string, nc: string | undefined, now: number): boolean {
    this.prune(now);
    const count = nc === undefined ? 0 : parseInt(nc, 16);
    if (nc !== undefined && !(/^[0-9a-f]{1,8}$/i.test(nc) && count > 0)) return false;
    const e = this.seen.get(nonce);
    if (e) {
      if (nc === undefined || count <= e.nc) return false;
      e.nc = count;
      return true;
    }
    this.seen.set(nonce, { nc: count, until: now + this.maxAgeMs });
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(now: number): void {
    // Insertion order is the order first seen, so expiry order: stop at the first one alive.
    for (const [k, e] of this.seen) {
      if (e.until > now && this.seen.size < this.maxEntries) break;
      this.seen.delete(k);
    }
  }
}

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

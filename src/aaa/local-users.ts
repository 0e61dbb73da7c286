// Digest authentication of callers against users kept in the configuration (RFC 3261 §22.4,
// RFC 7616 §3.4.1 as a server): for operators without a RADIUS server or an HTTP service, the
// PBXes and phones of a few customers, each with its user name and password (or its HA1).

import { createHash, timingSafeEqual } from "node:crypto";
import type { DigestCredentials } from "./authorize.ts";

/** A user as configured: a password, or the MD5 HA1 of `username:realm:password`. */
export interface LocalUser {
  username: string;
  password?: string;
  /** Lowercase hex MD5(username:realm:password), for the realm it was computed with. */
  ha1?: string;
}

const HASHES: Record<string, string> = { "MD5": "md5", "SHA-256": "sha256" };

/**
 * Whether `creds` answer the challenge for `method` with `user`'s secret. RFC 7616 §3.4.1:
 * response = H(HA1:nonce[:nc:cnonce:qop]:H(method:uri)); -sess hashes HA1 with the nonces.
 * An `ha1` user answers MD5 challenges only (the hash fixes the algorithm and the realm).
 */
export function digestResponseMatches(
  creds: DigestCredentials,
  method: string,
  user: LocalUser,
): boolean {
  const algorithm = (creds.algorithm ?? "MD5").toUpperCase();
  const sess = algorithm.endsWith("-SESS");
  const base = sess ? algorithm.slice(0, -5) : algorithm;
  const hashName = HASHES[base];
  if (!hashName) return false;
  const H = (s: string) => createHash(hashName).update(s, "utf8").digest("hex");
  let ha1: string;
  if (user.password !== undefined) ha1 = H(`${creds.username}:${creds.realm}:${user.password}`);
  else if (user.ha1 !== undefined && base === "MD5") ha1 = user.ha1.toLowerCase();
  else return false;
  if (sess) ha1 = H(`${ha1}:${creds.nonce}:${creds.cnonce ?? ""}`);
  const ha2 = H(`${method}:${creds.uri}`);
  const qop = creds.qop?.toLowerCase();
  if (qop !== undefined && qop !== "auth") return false;
  const expected = qop
    ? H(`${ha1}:${creds.nonce}:${creds.nc}:${creds.cnonce}:${qop}:${ha2}`)
    : H(`${ha1}:${creds.nonce}:${ha2}`);
  const got = creds.response.toLowerCase();
  // Constant time: how much of a guess matched must not show in how long the answer takes.
  return got.length === expected.length &&
    timingSafeEqual(new TextEncoder().encode(got), new TextEncoder().encode(expected));
}

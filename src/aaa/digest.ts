// RFC 7616 §3.4 (and RFC 2617 §3.2.2, RFC 3261 §22.4): client-side Digest answer to a 401/407
// from upstream, MD5 / SHA-256 (and -sess), qop=auth or none.

import { createHash } from "node:crypto";
import { DigestParseError, parseDigestParams, quoteParam } from "./auth-params.ts";

/** Input of {@link digestAuthorization}. */
export interface DigestAnswerInput {
  method: string;
  uri: string;
  username: string;
  password: string;
  /** The WWW-Authenticate or Proxy-Authenticate header value. */
  challenge: string;
  /** Client nonce (random, opaque). */
  cnonce: string;
  /** Nonce count: a number or 8 hex digits. */
  nc: number | string;
}

const HASHES: Record<string, string> = { "MD5": "md5", "SHA-256": "sha256" };

/**
 * The Authorization / Proxy-Authorization header value answering `challenge`.
 * Throws DigestParseError on a malformed challenge or an unsupported algorithm/qop.
 */
export function digestAuthorization(input: DigestAnswerInput): string {
  const c = parseDigestParams(input.challenge);
  const realm = c.realm ?? "";
  const nonce = c.nonce;
  if (nonce === undefined) throw new DigestParseError(input.challenge, "no nonce");
  const algorithm = c.algorithm ?? "MD5";
  const sess = /-sess$/i.test(algorithm);
  const hashName = HASHES[algorithm.replace(/-sess$/i, "").toUpperCase()];
  if (!hashName) throw new DigestParseError(input.challenge, `unsupported algorithm ${algorithm}`);
  const H = (s: string) => createHash(hashName).update(s, "utf8").digest("hex");

  const qops = (c.qop ?? "").split(",").map((q) => q.trim().toLowerCase()).filter(Boolean);
  if (qops.length && !qops.includes("auth")) {
    throw new DigestParseError(input.challenge, `qop ${c.qop} offered without "auth"`);
  }
  const qop = qops.length ? "auth" : undefined;
  const nc = typeof input.nc === "number"
    ? input.nc.toString(16).padStart(8, "0")
    : input.nc.padStart(8, "0");

  let ha1 = H(`${input.username}:${realm}:${input.password}`);
  if (sess) ha1 = H(`${ha1}:${nonce}:${input.cnonce}`);
  const ha2 = H(`${input.method}:${input.uri}`);
  const response = qop
    ? H(`${ha1}:${nonce}:${nc}:${input.cnonce}:${qop}:${ha2}`)
    : H(`${ha1}:${nonce}:${ha2}`);

  const parts = [
    `username=${quoteParam(input.username)}`,
    `realm=${quoteParam(realm)}`,
    `nonce=${quoteParam(nonce)}`,
    `uri=${quoteParam(input.uri)}`,
    `response=${quoteParam(response)}`,
    `algorithm=${algorithm}`,
  ];
  if (c.opaque !== undefined) parts.push(`opaque=${quoteParam(c.opaque)}`);
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quoteParam(input.cnonce)}`);
  return `Digest ${parts.join(", ")}`;
}

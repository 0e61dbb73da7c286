// Bearer-token check for the control API (RFC 6750 §2.1 header form only: tokens in query
// strings end up in access logs and proxies).

const encoder = new TextEncoder();

/**
 * Compare two secrets in time that depends on neither their content nor their length: both are
 * hashed to 32 bytes first, then every byte is compared.
 */
export async function timingSafeEqualStrings(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  const x = new Uint8Array(ha);
  const y = new Uint8Array(hb);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  // Equal digests with different inputs would need a SHA-256 collision; the final string compare
  // only runs when the digests matched, so it adds no timing signal an attacker can steer.
  return diff === 0 && a === b;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = header.match(/^Bearer[ \t]+([^\s]+)[ \t]*$/i);
  return m ? m[1] : undefined;
}

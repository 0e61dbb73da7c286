// RFC 8224 §8.3: the canonical form of a telephone number, as a PASSporT's "orig" and "dest"
// claims carry it and as a verifier compares it with the SIP request's From and To.

/** Characters RFC 3966 §5.1.1 calls visual separators, dropped before comparing numbers. */
const SEPARATORS = /[-.()\s]/g;

/**
 * The number in `user` (a URI user part, or a tel: URI's number) in canonical form: digits only,
 * no leading "+", no visual separators, no URI parameters (";verstat=...", ";npdi"). Undefined
 * when what is left is not a telephone number: SHAKEN signs and checks numbers only.
 */
export function canonicalTn(user: string | undefined): string | undefined {
  if (!user) return undefined;
  let s = user;
  const semi = s.indexOf(";");
  if (semi >= 0) s = s.slice(0, semi);
  s = decodeEscapes(s).replace(SEPARATORS, "");
  if (s.startsWith("+")) s = s.slice(1);
  // E.164 is at most 15 digits; national forms and short codes are shorter still.
  return /^[0-9]{1,15}$/.test(s) ? s : undefined;
}

function decodeEscapes(s: string): string {
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

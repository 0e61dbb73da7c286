// RFC 8224 §8.3: the canonical form of a telephone number, as a PASSporT's "orig" and "dest"
// claims carry it and as a verifier compares it with the SIP request's From and To.

import { telDigits } from "../sip/mod.ts";

/**
 * The number in `user` (a URI user part, or a tel: URI's number) in canonical form: digits only,
 * no leading "+", no visual separators, no URI parameters (";verstat=...", ";npdi"). Undefined
 * when what is left is not a telephone number: SHAKEN signs and checks numbers only.
 */
export function canonicalTn(user: string | undefined): string | undefined {
  const d = telDigits(user);
  // E.164 is at most 15 digits; national forms and short codes are shorter still.
  return d !== undefined && d.length <= 15 ? d : undefined;
}

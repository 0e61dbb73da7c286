// RFC 3966 §5.1.1: the digits of a telephone number in a URI user part (or a tel: URI's
// number), for comparing and looking numbers up: no "+", no visual separators, no parameters.
// STIR/SHAKEN's canonical form (RFC 8224 §8.3), ENUM's E.164 (RFC 6116 §3.4), route-table
// prefixes and users' number ranges all start from it.

/** Visual separators (RFC 3966 §5.1.1), and white space. */
const SEPARATORS = /[-.()\s]/g;

/** The number's digits; undefined when what `user` holds is not a telephone number. */
export function telDigits(user: string | undefined): string | undefined {
  if (!user) return undefined;
  const semi = user.indexOf(";");
  let s = semi < 0 ? user : user.slice(0, semi);
  if (s.includes("%")) {
    try {
      s = decodeURIComponent(s);
    } catch {
      // A bad escape: the text as it is (it will not be all digits).
    }
  }
  s = s.replace(SEPARATORS, "");
  if (s.startsWith("+")) s = s.slice(1);
  return /^[0-9]+$/.test(s) ? s : undefined;
}

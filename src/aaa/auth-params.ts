// RFC 7235 §2.1 / RFC 3261 §25.1: `Digest k=v, k="quoted"` challenge and credentials grammar.

/** Malformed WWW-/Proxy-Authenticate or Authorization/Proxy-Authorization value. */
export class DigestParseError extends Error {
  override name = "DigestParseError";
  constructor(public readonly header: string, detail: string) {
    super(`invalid Digest header "${header.slice(0, 80)}": ${detail}`);
  }
}

/** Parses `Digest a=b, c="d"` into lower-case keys; throws DigestParseError. */
export function parseDigestParams(header: string): Record<string, string> {
  const m = /^\s*Digest\s+/i.exec(header);
  if (!m) throw new DigestParseError(header, 'expected scheme "Digest"');
  const out: Record<string, string> = {};
  let i = m[0].length;
  const s = header;
  while (i < s.length) {
    while (i < s.length && /[\s,]/.test(s[i])) i++;
    if (i >= s.length) break;
    const k = /^[A-Za-z0-9_\-]+/.exec(s.slice(i));
    if (!k) throw new DigestParseError(header, `expected a parameter name at offset ${i}`);
    i += k[0].length;
    while (s[i] === " " || s[i] === "\t") i++;
    if (s[i] !== "=") throw new DigestParseError(header, `expected "=" after ${k[0]}`);
    i++;
    while (s[i] === " " || s[i] === "\t") i++;
    let v = "";
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === "\\" && i + 1 < s.length) i++;
        v += s[i++];
      }
      if (s[i] !== '"') throw new DigestParseError(header, `unterminated quoted ${k[0]}`);
      i++;
    } else {
      const t = /^[^\s,]*/.exec(s.slice(i))![0];
      v = t;
      i += t.length;
    }
    if (/[\r\n\0]/.test(v)) throw new DigestParseError(header, `CR, LF or NUL in ${k[0]}`);
    out[k[0].toLowerCase()] = v;
  }
  return out;
}

/** Quotes a value for a Digest header (RFC 7230 quoted-string). */
export function quoteParam(v: string): string {
  return `"${v.replace(/[\\"]/g, "\\$&")}"`;
}

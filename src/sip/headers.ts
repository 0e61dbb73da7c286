// RFC 3261 §7.3.3 compact forms and §20 header names. Lookup uses the lowercase long form;
// output uses the canonical long spelling so peers that read only long names understand us.

const COMPACT: Record<string, string> = {
  i: "call-id",
  m: "contact",
  e: "content-encoding",
  l: "content-length",
  c: "content-type",
  f: "from",
  s: "subject",
  k: "supported",
  t: "to",
  v: "via",
  o: "event",
  r: "refer-to",
  b: "referred-by",
  u: "allow-events",
  x: "session-expires",
  y: "identity",
  a: "accept-contact",
  j: "reject-contact",
  d: "request-disposition",
};

const CANONICAL: Record<string, string> = {
  "call-id": "Call-ID",
  "cseq": "CSeq",
  "www-authenticate": "WWW-Authenticate",
  "mime-version": "MIME-Version",
  "rack": "RAck",
  "rseq": "RSeq",
  "min-se": "Min-SE",
  "sip-etag": "SIP-ETag",
  "sip-if-match": "SIP-If-Match",
  "p-asserted-identity": "P-Asserted-Identity",
  "p-preferred-identity": "P-Preferred-Identity",
};

// Header names repeat across every message, so both mappings are memoized (bounded, so that a
// peer sending random names cannot grow them without limit).
const MEMO_LIMIT = 2048;
const keyMemo = new Map<string, string>();
const nameMemo = new Map<string, string>();

/** Lowercase long form of a header name as received ("v" → "via", "Call-Id" → "call-id"). */
export function headerKey(name: string): string {
  const hit = keyMemo.get(name);
  if (hit !== undefined) return hit;
  const l = name.toLowerCase();
  const key = l.length === 1 ? (COMPACT[l] ?? l) : l;
  if (keyMemo.size < MEMO_LIMIT) keyMemo.set(name, key);
  return key;
}

/** Canonical output spelling of a header key ("call-id" → "Call-ID", "x-foo" → "X-Foo"). */
export function canonicalName(key: string): string {
  const hit = nameMemo.get(key);
  if (hit !== undefined) return hit;
  let out = CANONICAL[key];
  if (!out) {
    out = "";
    let up = true;
    for (const ch of key) {
      out += up ? ch.toUpperCase() : ch;
      up = ch === "-";
    }
  }
  if (nameMemo.size < MEMO_LIMIT) nameMemo.set(key, out);
  return out;
}

/**
 * Headers whose values are comma-separated lists that may be split across lines
 * (RFC 3261 §7.3.1). Others (e.g. WWW-Authenticate, Date) must never be split on commas.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  "via",
  "contact",
  "route",
  "record-route",
  "allow",
  "supported",
  "require",
  "proxy-require",
  "unsupported",
  "accept",
  "accept-encoding",
  "accept-language",
  "content-encoding",
  "allow-events",
  "in-reply-to",
  "reason",
  "path",
  "service-route",
]);

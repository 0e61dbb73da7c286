// Which headers of the caller's INVITE reach the callee. A B2BUA hides topology: Via, Route,
// Record-Route, Contact, Call-ID and tags are never copied; extension headers pass by default.
// Option tags and the session timer's headers travel by the engine's own rule (CALL_TAGS).

import type { HeaderPolicy } from "../config/types.ts";
import type { Header } from "../sip/mod.ts";

/** Headers a B2BUA always builds itself and so never copies across. */
const NEVER = new Set([
  "via",
  "route",
  "record-route",
  "contact",
  "call-id",
  "from",
  "to",
  "cseq",
  "max-forwards",
  "content-length",
  "content-type",
  "authorization",
  "proxy-authorization",
  "www-authenticate",
  "proxy-authenticate",
  "require",
  "proxy-require",
  "supported",
  "allow",
  "rseq",
  "rack",
  "session-expires",
  "min-se",
  // RFC 3891: names a dialog of the other leg; rewritten by the engine, never copied.
  "replaces",
]);

function listed(key: string, list: string[]): boolean {
  for (const p of list) {
    if (p === key) return true;
    if (p.endsWith("*") && key.startsWith(p.slice(0, -1))) return true;
  }
  return false;
}

/**
 * The headers to copy from `incoming`, then the configured additions. An asserted identity
 * that passes takes the caller's Privacy with it (RFC 3325 §9.3), unless Privacy is removed by
 * name: passing the number without the request to hide it would show it.
 */
export function applyHeaderPolicy(incoming: Header[], policy: HeaderPolicy): Header[] {
  const out: Header[] = [];
  let identity = false, privacy = false;
  for (const h of incoming) {
    if (NEVER.has(h.key)) continue;
    if (listed(h.key, policy.remove)) continue;
    if (listed(h.key, policy.pass)) {
      out.push({ key: h.key, name: h.name, value: h.value });
      if (h.key === "p-asserted-identity") identity = true;
      else if (h.key === "privacy") privacy = true;
    }
  }
  if (identity && !privacy && !policy.remove.includes("privacy")) {
    for (const h of incoming) {
      if (h.key === "privacy") out.push({ key: h.key, name: h.name, value: h.value });
    }
  }
  for (const [name, value] of Object.entries(policy.add)) {
    out.push({ key: name.toLowerCase(), name, value });
  }
  return out;
}

// RFC 3261 §19.2 option tags, as carried by Require (§20.32), Supported (§20.37), Proxy-Require
// and Unsupported: comma-separated tokens. Registered tags are lower case; a peer that spells
// one otherwise still means it, so they are compared in lower case.

import type { SipMessage } from "./message.ts";

/** Every option tag of every line of `header` ("require", "supported"...), lower case, no repeats. */
export function optionTags(
  msg: SipMessage,
  header: "require" | "supported" | "proxy-require",
): string[] {
  const out: string[] = [];
  for (const h of msg.headers) {
    if (h.key !== header) continue;
    for (const part of h.value.split(",")) {
      const t = part.trim().toLowerCase();
      if (t && !out.includes(t)) out.push(t);
    }
  }
  return out;
}

/** The tags of `tags` that are in `known`, in order. */
export function knownTags(tags: string[], known: ReadonlySet<string>): string[] {
  return tags.filter((t) => known.has(t));
}

/** The tags of `tags` that are not in `known`, in order (what a 420's Unsupported lists). */
export function unknownTags(tags: string[], known: ReadonlySet<string>): string[] {
  return tags.filter((t) => !known.has(t));
}

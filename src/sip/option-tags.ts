// RFC 3261 §19.2 option tags, as carried by Require (§20.32), Supported (§20.37), Proxy-Require
// and Unsupported: comma-separated tokens. Registered tags are lower case; a peer that spells
// one otherwise still means it, so they are compared in lower case.

import type { SipMessage } from "./message.ts";

const NONE: readonly string[] = Object.freeze([]);

/**
 * Every option tag of every line of `header`, lower case, no repeats; a shared empty list when
 * the header is absent (most messages: nothing is allocated for them).
 */
export function optionTags(
  msg: SipMessage,
  header: "require" | "supported" | "proxy-require",
): readonly string[] {
  let out: string[] | undefined;
  for (const h of msg.headers) {
    if (h.key !== header) continue;
    out ??= [];
    for (const part of h.value.split(",")) {
      const t = part.trim().toLowerCase();
      if (t && !out.includes(t)) out.push(t);
    }
  }
  return out ?? NONE;
}

/** The tags of `tags` that are in `known`, in order. */
export function knownTags(tags: readonly string[], known: ReadonlySet<string>): readonly string[] {
  return tags.length === 0 ? tags : tags.filter((t) => known.has(t));
}

/** The tags of `tags` that are not in `known`, in order (what a 420's Unsupported lists). */
export function unknownTags(
  tags: readonly string[],
  known: ReadonlySet<string>,
): readonly string[] {
  return tags.length === 0 ? tags : tags.filter((t) => !known.has(t));
}

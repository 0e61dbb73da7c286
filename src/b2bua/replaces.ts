// RFC 3891 Replaces across the B2BUA. The header names a dialog as its recipient knows it:
// Call-ID, the recipient's own tag (to-tag) and its peer's (from-tag) — the frame of reference
// RFC 3891 §3 matches in, as the attended-transfer flows of RFC 5589 use it. A replacing INVITE
// names one of Tandem's legs; the party that must do the replacing is the peer of the call's
// other leg, so the header is rewritten to that leg's dialog in that peer's frame.

/** What a Replaces header names (RFC 3891 §6.1). */
export interface ReplacesTarget {
  callId: string;
  toTag: string;
  fromTag: string;
  /** Replace only a dialog still early (RFC 3891 §3: a confirmed one gets 486). */
  earlyOnly: boolean;
}

/**
 * Parse `callid *(";" param)` with to-tag and from-tag (any case, in any order), or undefined
 * when either tag is missing or the value is malformed.
 */
export function parseReplaces(value: string): ReplacesTarget | undefined {
  const parts = value.split(";");
  const callId = parts[0].trim();
  if (!callId || /\s/.test(callId)) return undefined;
  let toTag: string | undefined;
  let fromTag: string | undefined;
  let earlyOnly = false;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i].trim();
    const eq = p.indexOf("=");
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? "" : p.slice(eq + 1).trim();
    if (name === "to-tag") toTag = v;
    else if (name === "from-tag") fromTag = v;
    else if (name === "early-only") earlyOnly = true;
  }
  if (!toTag || !fromTag) return undefined;
  return { callId, toTag, fromTag, earlyOnly };
}

/** The Replaces value naming a dialog to its peer: our tag is the peer's from-tag. */
export function replacesFor(callId: string, peerTag: string, ourTag: string): string {
  return `${callId};to-tag=${peerTag};from-tag=${ourTag}`;
}

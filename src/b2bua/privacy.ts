// RFC 3323 privacy and RFC 3325 trust domains where a call leaves Tandem. Inside the trust
// domain (a route as it is by default) the caller's asserted identity travels with its Privacy
// header, so the next network can honour it; toward a route marked `trusted: false` Tandem is
// the privacy service and carries the request out itself: `id` takes P-Asserted-Identity off,
// `header` the headers that would tell who or where the caller is (the B2BUA already rebuilds
// Via, Contact, Record-Route and Call-ID), `user` makes From anonymous (RFC 3323 §4.1.1.3).

import type { SipRequest } from "../sip/mod.ts";

/** The privacy values the caller asked for (every Privacy header, lower case). */
export function privacyRequested(req: SipRequest): Set<string> {
  const out = new Set<string>();
  for (const v of req.getAll("privacy")) {
    for (const t of v.split(";")) {
      const token = t.trim().toLowerCase();
      if (token) out.add(token);
    }
  }
  // RFC 3323 §4.2: "none" asks that no privacy be applied, whatever else is listed.
  if (out.has("none")) out.clear();
  return out;
}

/** The From of a caller who asked for user privacy (RFC 3323 §4.1.1.3). */
export const ANONYMOUS = { display: '"Anonymous"', user: "anonymous", host: "anonymous.invalid" };

/** Headers that name or locate the caller, removed under `header` privacy (RFC 3323 §5.1). */
const REVEALING = ["call-info", "organization", "reply-to", "in-reply-to", "user-agent", "server"];

/**
 * Carries out `requested` on an INVITE leaving for an untrusted next hop, then takes the Privacy
 * header off: the request is fulfilled, and outside the trust domain it would only say that
 * the caller has something to hide.
 */
export function applyPrivacy(invite: SipRequest, requested: ReadonlySet<string>): void {
  if (requested.has("id")) {
    invite.remove("p-asserted-identity");
    invite.remove("p-preferred-identity");
  }
  if (requested.has("header")) { for (const h of REVEALING) invite.remove(h); }
  invite.remove("privacy");
}

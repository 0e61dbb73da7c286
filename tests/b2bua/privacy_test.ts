// Caller privacy across the B2BUA (RFC 3323, RFC 3325): inside the trust domain the asserted
// identity travels with the caller's Privacy request; toward a route marked `trusted: false`
// Tandem carries the request out: no P-Asserted-Identity for `id`, no revealing headers for
// `header`, an anonymous From for `user`, nothing for `none`. Over the in-memory loop.

import assert from "node:assert/strict";
import { applyHeaderPolicy } from "../../src/b2bua/header-policy.ts";
import { privacyRequested } from "../../src/b2bua/privacy.ts";
import type { RouteConfig } from "../../src/config/types.ts";
import { parseMessage, type SipRequest } from "../../src/sip/mod.ts";
import { CALLER, callerInvite, config, Loop, req, route, rule } from "./loop.ts";

const PASS = {
  add: {},
  pass: ["x-*", "p-asserted-identity", "user-agent", "organization"],
  remove: [],
};

function sent(r: RouteConfig, extra: string): SipRequest {
  const loop = new Loop(config([rule([r])]));
  loop.inject(callerInvite("bob", extra), CALLER);
  return loop.take().find(req("INVITE"))!.msg as SipRequest;
}

const ASSERTED = "P-Asserted-Identity: <sip:+12155551212@10.0.0.1>\nOrganization: Acme\n";

Deno.test("privacy: inside the trust domain the asserted identity takes the caller's Privacy along", () => {
  const out = sent(route("10.0.0.2", 5090, { headers: PASS }), `${ASSERTED}Privacy: id\n`);
  assert.equal(out.get("p-asserted-identity"), "<sip:+12155551212@10.0.0.1>");
  assert.equal(out.get("privacy"), "id", "the next network must see the request to hide it");
  assert.match(out.get("from")!, /^"Alice" <sip:alice@/);
  // Removed by name, it stays behind.
  const removed = sent(
    route("10.0.0.2", 5090, { headers: { ...PASS, remove: ["privacy"] } }),
    `${ASSERTED}Privacy: id\n`,
  );
  assert.equal(removed.get("privacy"), undefined);
});

Deno.test("privacy: toward an untrusted route, id takes the asserted identity off", () => {
  const untrusted = route("10.0.0.2", 5090, { headers: PASS, trusted: false });
  const out = sent(untrusted, `${ASSERTED}Privacy: id\n`);
  assert.equal(out.get("p-asserted-identity"), undefined);
  assert.equal(out.get("privacy"), undefined, "carried out, not passed on");
  assert.equal(out.get("organization"), "Acme", "id alone hides the identity, not the headers");
  assert.match(out.get("from")!, /^"Alice" <sip:alice@/);
  // No privacy asked: the identity passes as the policy says.
  assert.ok(sent(untrusted, ASSERTED).get("p-asserted-identity"));
  // "none" overrides whatever else is listed.
  assert.ok(sent(untrusted, `${ASSERTED}Privacy: id;none\n`).get("p-asserted-identity"));
});

Deno.test("privacy: toward an untrusted route, header drops revealing headers and user makes From anonymous", () => {
  const untrusted = route("10.0.0.2", 5090, { headers: PASS, trusted: false });
  const out = sent(untrusted, `${ASSERTED}Privacy: header; user; id\n`);
  assert.equal(out.get("organization"), undefined);
  assert.equal(out.get("user-agent"), undefined);
  assert.equal(out.get("p-asserted-identity"), undefined);
  assert.match(out.get("from")!, /^"Anonymous" <sip:anonymous@anonymous\.invalid>;tag=/);
});

Deno.test("privacy: the requested values, split and lower-cased; none means none", () => {
  const inv = (h: string) =>
    parseMessage(
      new TextEncoder().encode(callerInvite("bob", h).replace(/\n/g, "\r\n")),
    ) as SipRequest;
  assert.deepEqual([...privacyRequested(inv("Privacy: Header ;ID\nPrivacy: user\n"))], [
    "header",
    "id",
    "user",
  ]);
  assert.deepEqual([...privacyRequested(inv("Privacy: id; none\n"))], []);
  assert.deepEqual([...privacyRequested(inv(""))], []);
  // The policy function alone: Privacy follows a passed identity only.
  const headers = inv("P-Asserted-Identity: <sip:1@x>\nPrivacy: id\n").headers;
  assert.deepEqual(
    applyHeaderPolicy(headers, { add: {}, pass: ["x-*"], remove: [] }).map((h) => h.key),
    ["x-account"],
  );
});

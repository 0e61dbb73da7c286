// What a call's INVITE (and a route's probe) names: the route's host, or its `domain`, and From
// on Tandem's address or the route's `from_domain`. Over the in-memory loop.

import assert from "node:assert/strict";
import { routeRequestUri } from "../../src/b2bua/route-uri.ts";
import type { SipRequest } from "../../src/sip/mod.ts";
import { answer, CALLER, callerInvite, config, Loop, req, route, rule } from "./loop.ts";

Deno.test("route URI: host and port, transport for other than UDP; a name located by DNS without what DNS chose", () => {
  const s = (over: Parameters<typeof route>[2], user?: string) =>
    routeRequestUri(route("192.0.2.1", 5080, over), user).toString();
  assert.equal(s({}, "100"), "sip:100@192.0.2.1:5080");
  assert.equal(s({ transport: "tcp" }), "sip:192.0.2.1:5080;transport=tcp");
  assert.equal(s({ transport: "wss" }), "sip:192.0.2.1:5080;transport=ws");
  assert.equal(
    routeRequestUri(route("2001:db8::1", 5060), "a").toString(),
    "sip:a@[2001:db8::1]:5060",
  );
  assert.equal(
    routeRequestUri(route("carrier.test", 5060, { dns: "srv", transport: "tcp" }), "a").toString(),
    "sip:a@carrier.test;transport=tcp",
  );
  assert.equal(
    routeRequestUri(route("carrier.test", 5060, { dns: "naptr" }), "a").toString(),
    "sip:a@carrier.test",
  );
  assert.equal(
    s({ domain: "carrier.example", transport: "tcp" }, "100"),
    "sip:100@carrier.example;transport=tcp",
  );
});

Deno.test("route URI: with domain and from_domain the INVITE names the carrier's domain, sent to its proxy's address", () => {
  const loop = new Loop(config([rule([
    route("10.0.0.2", 5090, { domain: "carrier.example", fromDomain: "customer.example" }),
  ])]));
  loop.inject(callerInvite("15551234567"), CALLER);
  const sent = loop.expect(req("INVITE", 5090), "INVITE to the proxy");
  assert.deepEqual([sent.dest.host, sent.dest.port], ["10.0.0.2", 5090]);
  const inv = sent.msg as SipRequest;
  assert.equal(inv.uri, "sip:15551234567@carrier.example");
  assert.equal(inv.get("to"), "<sip:15551234567@carrier.example>");
  assert.match(inv.get("from")!, /^"Alice" <sip:alice@customer\.example>;tag=\w+$/);
  // Tandem's own address stays in Via and Contact.
  assert.match(inv.get("contact")!, /@?10\.0\.0\.9:5060/);
  assert.match(inv.get("via")!, /10\.0\.0\.9:5060/);
  loop.inject(answer(inv, 486, "t"), { host: "10.0.0.2", port: 5090, protocol: "udp" });
  // Without them, the route's address and Tandem's.
  const plain = new Loop(config([rule([route("10.0.0.2", 5090)])]));
  plain.inject(callerInvite("15551234567"), CALLER);
  const p = plain.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  assert.equal(p.uri, "sip:15551234567@10.0.0.2:5090");
  assert.match(p.get("from")!, /<sip:alice@10\.0\.0\.9>/);
});

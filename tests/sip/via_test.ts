// RFC 3261 §20.42 Via, §18.2.1 received, RFC 3581 rport.

import { strict as assert } from "node:assert";
import { parseVia, SipParseError } from "../../src/sip/mod.ts";

Deno.test("RFC 3261 §20.42: sent-protocol, sent-by and branch", () => {
  const v = parseVia("SIP/2.0/udp pc33.atlanta.com:5066;branch=z9hG4bK776asdhds");
  assert.equal(v.protocol, "SIP/2.0");
  assert.equal(v.transport, "UDP");
  assert.equal(v.host, "pc33.atlanta.com");
  assert.equal(v.port, 5066);
  assert.equal(v.branch, "z9hG4bK776asdhds");
  assert.equal(v.sentBy, "pc33.atlanta.com:5066");
  assert.equal(v.toString(), "SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds");
});

Deno.test("RFC 3261 §18.2.1 received and RFC 3581 rport (flag and valued)", () => {
  const v = parseVia("SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK1");
  assert.equal(v.rport, null);
  assert.equal(v.received, undefined);
  v.params.set("received", "192.0.2.1").set("rport", "5062");
  assert.equal(v.rport, 5062);
  assert.equal(v.toString(), "SIP/2.0/UDP 10.0.0.1;rport=5062;branch=z9hG4bK1;received=192.0.2.1");
  assert.equal(parseVia("SIP/2.0/UDP h").rport, undefined);
});

Deno.test("RFC 3261 §20.42: IPv6 sent-by keeps brackets, with and without port", () => {
  const v = parseVia("SIP/2.0/TCP [2001:db8::9:1]:5070;branch=z9hG4bKx;received=2001:db8::9:255");
  assert.equal(v.host, "[2001:db8::9:1]");
  assert.equal(v.port, 5070);
  assert.equal(v.received, "2001:db8::9:255");
  assert.equal(parseVia("SIP/2.0/UDP [::1];branch=z9hG4bKy").port, undefined);
});

Deno.test("RFC 3261 §7.3.1 SWS: white space around / : ; = is accepted and not reproduced", () => {
  const v = parseVia("SIP  /  2.0 / TLS   host.example.com : 5061 ;  branch = z9hG4bK9 ; rport");
  assert.equal(v.toString(), "SIP/2.0/TLS host.example.com:5061;branch=z9hG4bK9;rport");
});

Deno.test("RFC 3261 §20.42: malformed Via values throw SipParseError naming Via", () => {
  for (
    const bad of [
      "",
      "SIP/2.0 host",
      "SIP/2.0/UDP",
      "SIP/2.0/UDP host:99999",
      "SIP/2.0/UDP host:",
      "SIP/2.0/UDP host;;",
      "SIP/2.0/UDP host;branch=a b",
      "SIP/2.0/UDP [::1",
      "SIP/2.0/UDP host junk",
    ]
  ) {
    assert.throws(
      () => parseVia(bad),
      (e: unknown) => e instanceof SipParseError && e.part === "Via",
      bad,
    );
  }
});

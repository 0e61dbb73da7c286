// RFC 6116 ENUM: numbers to domains, NAPTR rule processing (RFC 3402/3403) for E2U+sip (RFC
// 3764), and a lookup against a real DNS server (dnsmasq) through the stub resolver.

import assert from "node:assert/strict";
import { DnsClient } from "../../src/transport/dns/client.ts";
import {
  applyRegexp,
  enumDomain,
  enumNumber,
  type EnumRecord,
  enumTargets,
  lookupEnum,
  MAX_ENUM_TARGETS,
} from "../../src/transport/enum.ts";
import { LocateError } from "../../src/transport/locate.ts";
import { startDnsmasq } from "./dns/dnsmasq.ts";

const naptr = (over: Partial<EnumRecord>): EnumRecord => ({
  type: "NAPTR",
  order: 100,
  preference: 10,
  flags: "u",
  service: "E2U+sip",
  regexp: "!^.*$!sip:info@example.com!",
  replacement: "",
  ...over,
});

Deno.test("RFC 6116 §3.4: E.164 numbers and their ENUM domains", () => {
  assert.equal(enumNumber("+44-20-7946-0148"), "+442079460148");
  assert.equal(enumNumber("12155551213;npdi"), "+12155551213", "a bare number is taken as E.164");
  assert.equal(enumNumber("alice"), undefined);
  assert.equal(enumNumber("+1"), undefined, "too short");
  assert.equal(enumNumber("+1234567890123456"), undefined, "longer than E.164");
  assert.equal(enumDomain("+442079460148", "e164.arpa"), "8.4.1.0.6.4.9.7.0.2.4.4.e164.arpa");
  assert.equal(enumDomain("+4420", ".e164.carrier.example."), "0.2.4.4.e164.carrier.example");
});

Deno.test("RFC 3402 §3.2: substitution expressions, back-references, escaped delimiters, i", () => {
  assert.equal(applyRegexp("!^.*$!sip:info@example.com!", "+4420"), "sip:info@example.com");
  assert.equal(applyRegexp("!^\\+(.*)$!sip:\\1@gw.example!", "+4420"), "sip:4420@gw.example");
  assert.equal(applyRegexp("/^\\+44(.*)$/sip:0\\1@uk.example/", "+4420"), "sip:020@uk.example");
  assert.equal(applyRegexp("#^.*$#sip:a\\#b@x#", "+1"), "sip:a#b@x", "an escaped delimiter");
  assert.equal(applyRegexp("!^+(1)!X!", "+1"), undefined, "not a regular expression");
  assert.equal(applyRegexp("!^\\+9!sip:x@y!", "+1"), undefined, "no match");
  assert.equal(applyRegexp("!A!sip:x@y!i", "a"), "sip:x@y", "the i flag");
  assert.equal(applyRegexp("!a!b!c!", "a"), undefined, "too many parts");
  assert.equal(applyRegexp("1a1b1", "a"), undefined, "a digit is no delimiter");
  assert.equal(applyRegexp("!x!", "x"), undefined);
});

Deno.test("RFC 3403 §4.1: terminal E2U+sip records, by order then preference, first order only", () => {
  const recs = [
    naptr({ order: 100, preference: 20, regexp: "!^.*$!sip:second@b.example!" }),
    naptr({ order: 100, preference: 10, regexp: "!^.*$!sip:first@a.example!" }),
    naptr({ order: 200, preference: 1, regexp: "!^.*$!sip:later-order@c.example!" }),
    naptr({ order: 50, service: "E2U+email:mailto", regexp: "!^.*$!mailto:x@y!" }),
    naptr({ order: 50, flags: "", regexp: "", replacement: "other.e164.arpa" }),
    naptr({
      order: 100,
      preference: 15,
      service: "e2u+SIP",
      regexp: "!^.*$!sips:any-case@d.example!",
    }),
    naptr({ order: 100, preference: 16, regexp: "!^.*$!tel:+1555!" }),
  ];
  assert.deepEqual(enumTargets(recs, "+4420"), [
    "sip:first@a.example",
    "sips:any-case@d.example",
    "sip:second@b.example",
  ]);
  // A service with a subtype (RFC 3764 allows "E2U+sip" only, but "E2U+sip:..." is seen too).
  assert.deepEqual(enumTargets([naptr({ service: "E2U+voice:sip" })], "+1"), []);
  assert.deepEqual(enumTargets([naptr({ service: "E2U+sip:x" })], "+1"), ["sip:info@example.com"]);
  const many = Array.from(
    { length: 20 },
    (_, i) => naptr({ preference: i, regexp: `!^.*$!sip:${i}@x.example!` }),
  );
  assert.equal(enumTargets(many, "+1").length, MAX_ENUM_TARGETS);
});

Deno.test({
  name: "ENUM lookup through the stub resolver against dnsmasq: URIs, none, and a failed lookup",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using dns = await startDnsmasq("127.0.0.1", [
      "--local=/e164.test/",
      "--naptr-record=3.1.2.1.5.5.5.5.1.2.1.e164.test,10,10,u,E2U+sip,!^\\+(.*)$!sip:\\1@127.0.0.1:5090!",
      "--naptr-record=3.1.2.1.5.5.5.5.1.2.1.e164.test,10,20,u,E2U+sip,!^.*$!sip:backup@127.0.0.2!",
    ]);
    const client = new DnsClient({ servers: [dns.server], timeoutMs: 500, attempts: 1 });
    try {
      assert.deepEqual(await lookupEnum("+12155551213", "e164.test", client), [
        "sip:12155551213@127.0.0.1:5090",
        "sip:backup@127.0.0.2",
      ]);
      assert.deepEqual(await lookupEnum("+12155550000", "e164.test", client), [], "NXDOMAIN");
    } finally {
      await client.close();
    }
    // A server that does not answer: the lookup fails rather than saying "no number".
    const silent = new DnsClient({
      servers: [{ host: "127.0.0.1", port: 9 }],
      timeoutMs: 200,
      attempts: 1,
    });
    try {
      await assert.rejects(lookupEnum("+12155551213", "e164.test", silent), LocateError);
    } finally {
      await silent.close();
    }
  },
});

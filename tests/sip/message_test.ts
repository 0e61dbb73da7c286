// RFC 3261 §7 message model: header access, edits, caches; §20.16 CSeq.

import { strict as assert } from "node:assert";
import { headerList, parseCSeq, SipParseError, SipRequest } from "../../src/sip/mod.ts";

Deno.test("RFC 3261 §7.3: get/getAll/set/add/prepend/remove by any case or compact name", () => {
  const m = new SipRequest(
    "INVITE",
    "sip:b@h",
    headerList([
      ["v", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2"],
      ["CSeq", "1 INVITE"],
    ]),
  );
  assert.equal(m.getAll("VIA").length, 2);
  assert.equal(m.vias[1].host, "b");
  m.prepend("Via", "SIP/2.0/TCP top;branch=z9hG4bK0");
  assert.equal(m.topVia!.host, "top"); // the cache was dropped by prepend
  m.set("via", "SIP/2.0/UDP only;branch=z9hG4bK9");
  assert.deepEqual(m.vias.map((v) => v.host), ["only"]);
  m.add("Record-Route", "<sip:p1;lr>").add("record-route", "<sip:p2;lr>");
  assert.equal(m.recordRoutes.length, 2);
  m.remove("RECORD-ROUTE");
  assert.equal(m.recordRoutes.length, 0);
  assert.equal(m.headers.find((h) => h.key === "via")!.name, "Via");
});

Deno.test("STYLE §4: CR or LF in a header name or value is refused (no injection)", () => {
  const m = new SipRequest("INVITE", "sip:b@h");
  assert.throws(() => m.set("Subject", "x\r\nVia: evil"), SipParseError);
  assert.throws(() => m.add("X\n", "v"), SipParseError);
  assert.throws(() => m.prepend("X", "a\rb"), SipParseError);
});

Deno.test("RFC 3261 §20.16: CSeq numbers up to 2^32-1, leading zeros, method token", () => {
  assert.deepEqual(parseCSeq(" 0009  INVITE "), { seq: 9, method: "INVITE" });
  assert.deepEqual(parseCSeq("4294967295 BYE"), { seq: 4294967295, method: "BYE" });
  for (const bad of ["4294967296 BYE", "1", "INVITE", "1 INVITE x", "-1 BYE", ""]) {
    assert.throws(
      () => parseCSeq(bad),
      (e: unknown) => e instanceof SipParseError && e.part === "CSeq",
      bad,
    );
  }
});

Deno.test("RFC 3261 §8.1.1.1: ruri follows reassignment of the uri text", () => {
  const m = new SipRequest("INVITE", "sip:b@h");
  assert.equal(m.ruri.host, "h");
  m.uri = "sip:c@k";
  assert.equal(m.ruri.host, "k");
  const u = m.ruri.clone();
  u.port = 5080;
  m.ruri = u;
  assert.equal(m.uri, "sip:c@k:5080");
});

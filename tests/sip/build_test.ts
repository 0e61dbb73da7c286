// RFC 3261 §8.2.6 building a response, §21 reason phrases.

import { strict as assert } from "node:assert";
import {
  createResponse,
  detach,
  detachAll,
  identityOf,
  identityOfOwned,
  identityValues,
  parseMessage,
  reasonPhrase,
  requestOfIdentity,
  serialize,
  SipRequest,
} from "../../src/sip/mod.ts";

const req = parseMessage(new TextEncoder().encode(
  "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP p2;branch=z9hG4bK2\r\n" +
    "Max-Forwards: 70\r\nFrom: A <sip:a@h>;tag=f1\r\nTo: sip:b@h\r\nCall-ID: cid\r\nCSeq: 7 INVITE\r\n" +
    "Timestamp: 54\r\nContact: <sip:a@p1>\r\nContent-Length: 0\r\n\r\n",
)) as SipRequest;

Deno.test("RFC 3261 §8.2.6.2: Via (all, in order), From, To, Call-ID, CSeq are copied", () => {
  const r = createResponse(req, 486);
  assert.equal(r.reason, "Busy Here");
  assert.deepEqual(r.headers.map((h) => h.name), ["Via", "Via", "From", "To", "Call-ID", "CSeq"]);
  assert.deepEqual(r.vias.map((v) => v.branch), ["z9hG4bK1", "z9hG4bK2"]);
  assert.equal(r.to.tag, undefined);
  assert.equal(r.cseq.seq, 7);
});

Deno.test("RFC 3261 §8.2.6.2: a To tag is added when given and absent, never replaced", () => {
  const r = createResponse(req, 200, undefined, "t9");
  assert.equal(r.to.tag, "t9");
  assert.equal(r.get("to"), "sip:b@h;tag=t9");
  const again = createResponse(
    parseMessage(serialize(r)) as unknown as SipRequest,
    200,
    "OK",
    "other",
  );
  assert.equal(again.to.tag, "t9");
  assert.throws(() => createResponse(req, 200, "OK", "bad tag"));
});

Deno.test("RFC 3261 §8.2.6.1: 100 Trying copies Timestamp; other responses do not", () => {
  assert.equal(createResponse(req, 100).get("timestamp"), "54");
  assert.equal(createResponse(req, 180).get("timestamp"), undefined);
});

Deno.test("RFC 3261 §21: standard reason phrases, class phrase for unknown codes", () => {
  assert.equal(reasonPhrase(200), "OK");
  assert.equal(reasonPhrase(416), "Unsupported URI Scheme");
  assert.equal(reasonPhrase(505), "Version Not Supported");
  assert.equal(reasonPhrase(499), "Client Error");
  assert.throws(() => createResponse(req, 99));
});

/** Strings a copy must keep exact: quotes, backslashes, control and non-BMP characters, lone surrogates. */
const TRICKY = [
  "",
  "<sip:alice@example.com>;tag=1928301774",
  '"A \\"quoted\\" name" <sip:a@b>',
  "tab\there\r\nand \u0000 nul",
  "üñï©ødé 🎧",
  "\ud800 lone high, lone low \udc00",
];

Deno.test("detach: an equal string for any input (quotes, backslashes, control and non-BMP characters, lone surrogates)", () => {
  for (const s of TRICKY) {
    const d = detach(s.slice(0));
    assert.equal(d, s);
    assert.equal(d.length, s.length);
  }
});

Deno.test("detachAll: equal strings, in order, for any inputs, one array per call", () => {
  const out = detachAll(TRICKY.map((v) => v.slice(0)));
  assert.deepEqual(out, TRICKY);
  assert.deepEqual(detachAll([]), []);
});

Deno.test("identityOf and identityOfOwned: request line, From, To, Call-ID and CSeq only, in order, nothing cached", () => {
  const want = [
    ["From", "A <sip:a@h>;tag=f1"],
    ["To", "sip:b@h"],
    ["Call-ID", "cid"],
    ["CSeq", "7 INVITE"],
  ];
  void req.from; // fill the original's grammar cache: the copies must not share it
  for (const make of [identityOf, identityOfOwned]) {
    const id = make(req);
    assert.notEqual(id, req);
    assert.equal(id.method, "INVITE");
    assert.equal(id.uri, "sip:b@h");
    assert.deepEqual(id.headers.map((h) => [h.name, h.value]), want);
    assert.equal(id.body.length, 0);
    assert.equal(id.from.tag, "f1");
    id.headers[0].value = "B <sip:b@h>;tag=other";
    id.invalidate();
    assert.equal(req.from.tag, "f1", "the original's headers are not shared");
  }
});

Deno.test("identityValues and requestOfIdentity: one string, and the same identity back", () => {
  const values = identityValues(req);
  assert.equal(typeof values, "string");
  assert.deepEqual(values.split("\n"), [
    "sip:b@h",
    "from",
    "A <sip:a@h>;tag=f1",
    "to",
    "sip:b@h",
    "call-id",
    "cid",
    "cseq",
    "7 INVITE",
  ]);
  const again = requestOfIdentity("INVITE", values);
  assert.deepEqual(
    { method: again.method, uri: again.uri, headers: again.headers },
    { method: "INVITE", uri: "sip:b@h", headers: identityOfOwned(req).headers },
  );
  assert.equal(again.cseq.seq, 7);
  assert.equal(again.from.tag, "f1");
});

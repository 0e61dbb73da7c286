// RFC 3261 §7 serialization: long names, Content-Length written from the body, body bytes exact.

import { strict as assert } from "node:assert";
import { parseMessage, serialize, serializeHead, SipRequest } from "../../src/sip/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("RFC 3261 §7.3.3: compact input is written with long names, unknown names as received", () => {
  const m = parseMessage(enc.encode(
    "OPTIONS sip:b@h SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@h>;tag=1\r\n" +
      "t: <sip:b@h>\r\ni: cid\r\nCSEQ: 1 OPTIONS\r\nk: timer\r\ny: abc\r\nX-weird-Case: kept\r\nl: 0\r\n\r\n",
  ));
  const text = dec.decode(serialize(m));
  assert.equal(
    text,
    "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n" +
      "To: <sip:b@h>\r\nCall-ID: cid\r\nCSeq: 1 OPTIONS\r\nSupported: timer\r\nIdentity: abc\r\n" +
      "X-weird-Case: kept\r\nContent-Length: 0\r\n\r\n",
  );
});

Deno.test("RFC 3261 §20.14: Content-Length is rewritten from the body; body bytes are exact", () => {
  const m = new SipRequest("MESSAGE", "sip:b@h");
  m.add("Via", "SIP/2.0/UDP h;branch=z9hG4bK2").add("Content-Length", "999");
  m.body = new Uint8Array([0, 13, 10, 255, 1]);
  const out = serialize(m);
  assert.ok(serializeHead(m).endsWith("Content-Length: 5\r\n\r\n"));
  assert.equal(dec.decode(out).split("Content-Length").length, 2);
  assert.deepEqual(out.subarray(out.length - 5), m.body);
});

Deno.test("RFC 3261 §7: parse → serialize keeps unknown header values byte for byte", () => {
  const value = ';;,,;;,; "q\\"x" <odd>  spaced   inside';
  const m = parseMessage(enc.encode(
    `OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK3\r\nCSeq: 2 OPTIONS\r\nX-Odd: ${value}\r\n\r\n`,
  ));
  assert.ok(dec.decode(serialize(m)).includes(`\r\nX-Odd: ${value}\r\n`));
});

Deno.test("RFC 3261 §7: serialize writes UTF-8 exactly, and messages larger than its scratch", () => {
  const same = (m: SipRequest | ReturnType<typeof parseMessage>) => {
    const head = enc.encode(serializeHead(m));
    const want = new Uint8Array(head.length + m.body.length);
    want.set(head);
    want.set(m.body, head.length);
    assert.deepEqual(serialize(m), want);
  };
  const m = new SipRequest("MESSAGE", "sip:b@h");
  m.add("Via", "SIP/2.0/UDP h;branch=z9hG4bK4");
  m.add("From", '"Jürgen 🎧 Ĳ" <sip:a@h>;tag=1'); // 2-, 4- and 3-byte sequences mid-value
  m.add("Subject", "é"); // non-ASCII first character
  m.add("X-Ascii-After", "plain");
  m.body = enc.encode("ok");
  same(m);
  const res = parseMessage(enc.encode(
    "SIP/2.0 480 Temporairement indisponible — réessayez\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK5\r\n" +
      "CSeq: 1 INVITE\r\nCall-ID: c\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\n\r\n",
  ));
  same(res);
  assert.ok(dec.decode(serialize(res)).startsWith("SIP/2.0 480 Temporairement indisponible — "));
  // Past the 8 KiB scratch buffer, then a small message again: each output is its own copy.
  const big = new SipRequest("MESSAGE", "sip:b@h");
  big.add("Via", "SIP/2.0/UDP h;branch=z9hG4bK6").add("X-Big", "x".repeat(20_000));
  big.body = new Uint8Array(30_000).fill(7);
  const bigOut = serialize(big);
  same(big);
  const small = serialize(m);
  assert.equal(bigOut[bigOut.length - 1], 7);
  assert.ok(dec.decode(small).startsWith("MESSAGE sip:b@h SIP/2.0\r\n"));
});

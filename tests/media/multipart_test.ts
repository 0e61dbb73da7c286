// The SDP part of a multipart body (RFC 2046 §5.1, RFC 5621): found by its Content-Type, replaced
// byte-exactly, everything else (binary ISUP included) untouched.

import assert from "node:assert/strict";
import { multipartBoundary, sdpPartRange, spliceBytes } from "../../src/media/mod.ts";

const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const SDP = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" +
  "m=audio 4000 RTP/AVP 0\r\n";
// An ISUP IAM as SIP-I carries it (RFC 3204): binary, with CR, LF, "--" and bytes above 0x7f.
const ISUP = new Uint8Array([
  0x01,
  0x00,
  0x20,
  0x0d,
  0x0a,
  0x2d,
  0x2d,
  0x0a,
  0x03,
  0x02,
  0xff,
  0x90,
]);

/** A SIP-I style body: the SDP part, then the ISUP part, with `boundary`. */
function sipI(boundary: string, sdpHeaders = "Content-Type: application/sdp\r\n"): Uint8Array {
  const head = enc.encode(
    `--${boundary}\r\n${sdpHeaders}\r\n${SDP}\r\n--${boundary}\r\n` +
      "Content-Type: application/ISUP; version=itu-t92+\r\nContent-Disposition: signal; " +
      "handling=optional\r\n\r\n",
  );
  const tail = enc.encode(`\r\n--${boundary}--\r\n`);
  const out = new Uint8Array(head.length + ISUP.length + tail.length);
  out.set(head);
  out.set(ISUP, head.length);
  out.set(tail, head.length + ISUP.length);
  return out;
}

Deno.test("multipart: the boundary of multipart types only, quoted or not, at most 70 characters", () => {
  assert.equal(
    multipartBoundary('multipart/mixed; boundary="unique-boundary-1"'),
    "unique-boundary-1",
  );
  assert.equal(multipartBoundary("Multipart/Mixed;Boundary=abc;x=y"), "abc");
  assert.equal(multipartBoundary("application/sdp"), undefined);
  assert.equal(multipartBoundary(undefined), undefined);
  assert.equal(multipartBoundary("multipart/mixed"), undefined, "no boundary");
  assert.equal(multipartBoundary(`multipart/mixed; boundary=${"b".repeat(71)}`), undefined);
});

Deno.test("multipart: the SDP part of a SIP-I body is found and replaced; the ISUP bytes stay exact", () => {
  const body = sipI("unique-boundary-1");
  const ct = "multipart/mixed;boundary=unique-boundary-1";
  const r = sdpPartRange(body, ct);
  assert.ok(r);
  assert.equal(latin1.decode(body.subarray(r.start, r.end)), SDP);
  const relayed = SDP.replaceAll("10.0.0.1", "192.0.2.99").replace("4000", "30000");
  const out = spliceBytes(body, r, enc.encode(relayed));
  const text = latin1.decode(out);
  assert.ok(
    text.includes("c=IN IP4 192.0.2.99\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n\r\n--unique"),
  );
  const isupAt = out.length - ISUP.length - "\r\n--unique-boundary-1--\r\n".length;
  assert.deepEqual(out.subarray(isupAt, isupAt + ISUP.length), ISUP, "ISUP unchanged");
  assert.equal(out.length, body.length + relayed.length - SDP.length);
  assert.deepEqual(sdpPartRange(out, ct), { start: r.start, end: r.start + relayed.length });
});

Deno.test("multipart: the SDP part second, with a preamble and parameters on its type", () => {
  const b = "b1";
  const body = enc.encode(
    `preamble\r\n--${b}\r\nContent-Type: application/pidf+xml\r\n\r\n<presence/>\r\n` +
      `--${b}\r\ncontent-type:Application/SDP;charset=utf-8\r\n\r\n${SDP}\r\n--${b}--\r\n`,
  );
  const r = sdpPartRange(body, `multipart/mixed; boundary="${b}"`);
  assert.ok(r);
  assert.equal(latin1.decode(body.subarray(r.start, r.end)), SDP);
});

Deno.test("multipart: nothing to rewrite without an SDP part, with another boundary, or unterminated", () => {
  const body = sipI("x1", "Content-Type: text/plain\r\n");
  assert.equal(sdpPartRange(body, "multipart/mixed;boundary=x1"), undefined, "no SDP part");
  assert.equal(sdpPartRange(sipI("x1"), "multipart/mixed;boundary=x2"), undefined);
  assert.equal(sdpPartRange(sipI("x1"), "application/sdp"), undefined, "not multipart");
  const cut = enc.encode(`--x1\r\nContent-Type: application/sdp\r\n\r\n${SDP}`);
  assert.equal(sdpPartRange(cut, "multipart/mixed;boundary=x1"), undefined, "no closing delimiter");
  assert.equal(sdpPartRange(new Uint8Array(), "multipart/mixed;boundary=x1"), undefined);
});

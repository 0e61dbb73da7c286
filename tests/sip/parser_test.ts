// RFC 3261 §7 framing and §18.3 Content-Length, with the size and header-count limits.

import { strict as assert } from "node:assert";
import {
  checkMessage,
  findHeaderEnd,
  parseMessage,
  SipLimitError,
  SipParseError,
  SipRequest,
  SipResponse,
} from "../../src/sip/mod.ts";

const enc = new TextEncoder();
const HEAD = "OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" +
  "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n";

function rejects(text: string | Uint8Array, part: string, status = 400): SipParseError {
  let err: unknown;
  try {
    parseMessage(typeof text === "string" ? enc.encode(text) : text);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SipParseError, `expected SipParseError for ${JSON.stringify(text)}`);
  assert.equal(err.part, part, err.message);
  assert.equal(err.status, status, err.message);
  return err;
}

Deno.test("RFC 3261 §7: a plain request parses and its accessors work", () => {
  const m = parseMessage(enc.encode(HEAD + "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"));
  assert.ok(m instanceof SipRequest);
  assert.equal(m.method, "OPTIONS");
  assert.equal(m.ruri.host, "example.com");
  assert.equal(m.maxForwards, 70);
  assert.equal(m.from.tag, "1");
  assert.equal(m.callId, "c1");
  assert.equal(checkMessage(m), undefined);
});

Deno.test("RFC 3261 §7.5: leading CRLFs are skipped; a response status line parses", () => {
  const m = parseMessage(
    enc.encode(
      "\r\n\r\nSIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n\r\n",
    ),
  );
  assert.ok(m instanceof SipResponse);
  assert.equal(m.status, 180);
  assert.equal(m.reason, "Ringing");
});

Deno.test("RFC 3261 §18.3: body is cut at Content-Length; extra bytes ignored; short bodies refused", () => {
  const m = parseMessage(enc.encode(HEAD + "Content-Length: 3\r\n\r\nabcdef"));
  assert.deepEqual(Array.from(m.body), [97, 98, 99]);
  rejects(HEAD + "Content-Length: 30\r\n\r\nabc", "Content-Length");
  rejects(HEAD + "Content-Length: 1e3\r\n\r\nabc", "Content-Length");
  rejects(HEAD + "Content-Length: 99999999999999999999999\r\n\r\nabc", "Content-Length");
});

Deno.test("RFC 3261 §7.3.1: folded lines join with one space", () => {
  const m = parseMessage(enc.encode(HEAD + "Subject: one\r\n  two\r\n\tthree\r\n\r\n"));
  assert.equal(m.get("subject"), "one two three");
});

Deno.test("RFC 3261 §7.1: bad start lines are refused naming the start line", () => {
  rejects("OPTIONS sip:b@h SIP/2.0 \r\n\r\n", "request-line");
  rejects("OPT IONS sip:b@h SIP/2.0\r\n\r\n", "request-line");
  rejects("OPT(IONS sip:b@h SIP/2.0\r\n\r\n", "request-line");
  rejects("OPTIONS sip:b@h HTTP/1.1\r\n\r\n", "request-line");
  rejects("OPTIONS sip:b@h SIP/3.0\r\n\r\n", "request-line", 505);
  rejects("SIP/2.0 20 OK\r\n\r\n", "status-line");
  rejects("SIP/2.0 700 Odd\r\n\r\n", "status-line");
  rejects("SIP/3.0 200 OK\r\n\r\n", "status-line", 505);
  rejects("", "start-line");
});

Deno.test("RFC 3261 §7.3: header lines need a token name and a colon; bare CR/LF are refused", () => {
  rejects(HEAD + "No colon here\r\n\r\n", "message");
  rejects(HEAD + "Bad Name: x\r\n\r\n", "message");
  rejects(HEAD + "X-A: one\rtwo\r\n\r\n", "message");
  rejects(HEAD + "X-A: one\ntwo\r\n\r\n", "message");
  rejects(new Uint8Array([...enc.encode(HEAD + "X-A: "), 0xc3, 0x28, 13, 10, 13, 10]), "message");
});

Deno.test("RFC 3261 §8.1.1/§17.2.3: no Via or no CSeq is refused; missing From parses for checkMessage", () => {
  rejects("OPTIONS sip:b@h SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n", "Via");
  rejects("OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n", "CSeq");
  const m = parseMessage(
    enc.encode(
      "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\n\r\n",
    ),
  );
  assert.equal(checkMessage(m)?.part, "From");
  assert.throws(() => m.from, SipParseError);
});

Deno.test("RFC 3261 §20.22: Max-Forwards 0..255 with leading zeros; others refused", () => {
  assert.equal(parseMessage(enc.encode(HEAD + "Max-Forwards: 0068\r\n\r\n")).maxForwards, 68);
  rejects(HEAD + "Max-Forwards: 256\r\n\r\n", "Max-Forwards");
  rejects(HEAD + "Max-Forwards: -1\r\n\r\n", "Max-Forwards");
});

Deno.test("limits: a message over maxSize is a SipLimitError with status 513", () => {
  let caught: unknown;
  try {
    parseMessage(enc.encode(HEAD + "\r\n"), { maxSize: 100, maxHeaders: 256 });
    assert.fail("expected a SipLimitError");
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SipLimitError, String(caught));
  assert.equal(caught.status, 513);
});

Deno.test("limits: more header lines than maxHeaders is a SipLimitError", () => {
  const many = HEAD + "X-N: 1\r\n".repeat(10) + "\r\n";
  assert.ok(parseMessage(enc.encode(many), { maxSize: 65535, maxHeaders: 15 }));
  assert.throws(
    () => parseMessage(enc.encode(many), { maxSize: 65535, maxHeaders: 14 }),
    (e: unknown) => e instanceof SipLimitError && e.part === "message",
  );
});

Deno.test("RFC 3261 §7: findHeaderEnd finds the first CRLFCRLF or -1", () => {
  assert.equal(findHeaderEnd(enc.encode("A\r\nB\r\n\r\nbody\r\n\r\n")), 4);
  assert.equal(findHeaderEnd(enc.encode("\r\n\r\n")), 0);
  assert.equal(findHeaderEnd(enc.encode("A\r\nB\r\n\r")), -1);
  assert.equal(findHeaderEnd(enc.encode("A\n\r\n\r\n"), 0), 2);
});

Deno.test("RFC 3261 §7.3: UTF-8 in the headers, bytes of any kind in the body", () => {
  const join = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) out.set(p, (at += p.length) - p.length);
    return out;
  };
  // A UTF-8 display name: the header text is decoded, and the body still starts where the
  // byte count says, not where a character count would put it.
  const utf8 = enc.encode(
    HEAD.replace("From: <", 'From: "Jürgen Ĳssel 🎧" <') + "Content-Length: 4\r\n\r\nbody",
  );
  const m = parseMessage(utf8);
  assert.equal(m.from.display, '"Jürgen Ĳssel 🎧"');
  assert.equal(new TextDecoder().decode(m.body), "body");
  // ASCII headers with a body that is not UTF-8 at all: the body is kept byte for byte.
  const bin = new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3]);
  const b = parseMessage(join(enc.encode(HEAD + "Content-Length: 5\r\n\r\n"), bin));
  assert.deepEqual([...b.body], [...bin]);
  assert.equal(b.callId, "c1");
  // A literal U+FFFD (valid UTF-8) in a header is text, an invalid byte there is not.
  assert.equal(
    parseMessage(enc.encode(HEAD.replace("Call-ID: c1", "Call-ID: c\uFFFD1") + "\r\n")).callId,
    "c\uFFFD1",
  );
  rejects(
    join(
      enc.encode(HEAD.replace("Call-ID: c1\r\n", "Call-ID: c")),
      new Uint8Array([0xff]),
      enc.encode("1\r\n\r\n"),
    ),
    "message",
  );
});

Deno.test("RFC 3261 §8.1.1, §20, §18.3: checkMessage names the first fault", () => {
  const check = (text: string) => checkMessage(parseMessage(enc.encode(text)));
  assert.equal(check(HEAD + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n"), undefined);
  const two = check(
    HEAD.replace("To: <sip:b@example.com>\r\n", "To: <sip:b@a>\r\nTo: <sip:b@b>\r\n") +
      "\r\n",
  );
  assert.equal(two?.part, "To");
  assert.match(two!.message, /found 2 times/);
  const cl = check(HEAD + "Content-Length: 0\r\nl: 1\r\n\r\n");
  assert.equal(cl?.part, "Content-Length");
  // Several missing: the first in RFC 3261 §8.1.1's order is named.
  const missing = check(
    HEAD.replace("Call-ID: c1\r\n", "").replace("From: <sip:a@example.com>;tag=1\r\n", "") + "\r\n",
  );
  assert.equal(missing?.part, "From");
  assert.equal(missing?.status, 400);
  assert.equal(check(HEAD + "Max-Forwards: 70\r\n\r\n"), undefined);
  assert.equal(check(HEAD + "Max-Forwards: 70\r\nMax-Forwards: 69\r\n\r\n")?.part, "Max-Forwards");
});

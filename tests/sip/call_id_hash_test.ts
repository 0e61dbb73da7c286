// Call-ID affinity hash: the raw-byte scan must agree with the parser on every message that has
// one Call-ID, in any header spelling, or a worker would forward a call's messages elsewhere.

import { strict as assert } from "node:assert";
import {
  callIdHash,
  ownerOfHash,
  parseMessage,
  rawCallId,
  rawCallIdHash,
  SipParseError,
} from "../../src/sip/mod.ts";

const enc = new TextEncoder();
const msg = (headers: string) =>
  enc.encode(
    "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\n" + headers +
      "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
  );

Deno.test("call-id hash: long and compact forms, any case, blanks around the colon", () => {
  const want = callIdHash("a84b4c76e66710@pc33.atlanta.com");
  for (
    const h of [
      "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n",
      "call-id:a84b4c76e66710@pc33.atlanta.com\r\n",
      "CALL-ID \t:  a84b4c76e66710@pc33.atlanta.com \t\r\n",
      "i: a84b4c76e66710@pc33.atlanta.com\r\n",
      "I:a84b4c76e66710@pc33.atlanta.com\n",
    ]
  ) {
    assert.equal(rawCallIdHash(msg("From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\n" + h)), want, h);
  }
});

Deno.test("call-id hash: is case-sensitive on the value and ignores look-alike headers", () => {
  const a = rawCallIdHash(msg("Call-ID: abc\r\n"));
  assert.notEqual(a, rawCallIdHash(msg("Call-ID: ABC\r\n")));
  assert.equal(
    rawCallIdHash(msg("Call-Info: <http://x>\r\nIn-Reply-To: q\r\nCall-ID: abc\r\n")),
    a,
  );
  assert.equal(rawCallIdHash(msg("X-Call-ID: zzz\r\nCall-ID: abc\r\n")), a);
});

Deno.test("call-id hash: -1 without a Call-ID in the headers (one in the body does not count)", () => {
  assert.equal(rawCallIdHash(msg("")), -1);
  assert.equal(rawCallIdHash(msg("Call-ID:   \r\n")), -1);
  const body = enc.encode(
    "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP p\r\nContent-Length: 12\r\n\r\nCall-ID: x\r\n",
  );
  assert.equal(rawCallIdHash(body), -1);
  assert.equal(rawCallIdHash(new Uint8Array()), -1);
  assert.equal(rawCallIdHash(enc.encode("Call-ID: x")), -1, "a start line is not a header");
});

Deno.test("raw call-id: the value as the hash reads it, or undefined without one", () => {
  assert.equal(rawCallId(msg("i: \t abc@h \t\r\n")), "abc@h");
  assert.equal(rawCallId(msg("Call-ID: caf\u00e9@h\r\n")), "caf\u00e9@h");
  assert.equal(rawCallId(msg("X-Call-ID: zzz\r\n")), undefined);
  assert.equal(rawCallId(msg("Call-ID:   \r\n")), undefined);
});

Deno.test("call-id hash: string form equals the raw form, also for UTF-8 values", () => {
  for (const id of ["x", "a84b4c76e66710@pc33.atlanta.com", "caf\u00e9-\u4e2d@h"]) {
    assert.equal(rawCallIdHash(msg(`Call-ID: ${id}\r\n`)), callIdHash(id), id);
  }
});

Deno.test("call-id hash: agrees with the parser on every RFC 4475 message that parses", () => {
  let checked = 0;
  for (const sub of ["valid", "invalid", "semantic", "compat", "transaction"]) {
    const dir = new URL(`../../../shared/torture/${sub}/`, import.meta.url);
    for (const e of Deno.readDirSync(dir)) {
      const data = Deno.readFileSync(new URL(e.name, dir));
      let m;
      try {
        m = parseMessage(data);
      } catch (err) {
        if (err instanceof SipParseError) continue;
        throw err;
      }
      const ids = m.getAll("call-id");
      // A repeated Call-ID (multi01) is not one value; a folded one (a line break before the
      // value) hashes as -1: either way the message is answered by the worker it reached.
      const folded = /^(call-id|i)[ \t]*:[ \t]*\r?\n/im;
      if (ids.length !== 1 || folded.test(new TextDecoder().decode(data))) continue;
      assert.equal(rawCallIdHash(data), callIdHash(m.callId), `${sub}/${e.name}`);
      checked++;
    }
  }
  assert.ok(checked >= 25, `only ${checked} messages checked`);
});

Deno.test("call-id hash: spreads Call-IDs evenly over workers", () => {
  const n = 4, counts = [0, 0, 0, 0];
  for (let i = 0; i < 40000; i++) counts[ownerOfHash(callIdHash(`${i * 7919}@10.0.0.1`), n)]++;
  for (const c of counts) assert.ok(c > 9000 && c < 11000, `uneven: ${counts}`);
});

// RFC 8225 / RFC 8588 PASSporTs and the RFC 8224 Identity header: what a signer writes and what a
// verifier accepts or refuses, with the status RFC 8224 §6.2.2 gives each refusal.

import assert from "node:assert/strict";
import {
  base64url,
  canonicalTn,
  fromBase64url,
  IdentityError,
  identityPpt,
  identityValue,
  parseIdentity,
  signingInput,
} from "../../src/stir/mod.ts";
import { prng } from "../util/prng.ts";

const claims = {
  attest: "A" as const,
  orig: "12155551212",
  dest: ["12155551213"],
  iat: 1443208345,
  origid: "123e4567-e89b-12d3-a456-426655440000",
};
const X5U = "https://cert.example.org/passport.pem";
const SIG = new Uint8Array(64).fill(7);

Deno.test("RFC 8225 §9: header and claims are JSON with keys in lexicographic order", () => {
  const [h, p] = signingInput(claims, X5U).split(".");
  const header = new TextDecoder().decode(fromBase64url(h)!);
  const payload = new TextDecoder().decode(fromBase64url(p)!);
  assert.equal(header, `{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"${X5U}"}`);
  assert.equal(
    payload,
    '{"attest":"A","dest":{"tn":["12155551213"]},"iat":1443208345,' +
      '"orig":{"tn":"12155551212"},"origid":"123e4567-e89b-12d3-a456-426655440000"}',
  );
});

Deno.test("RFC 8224 §4.1: a full-form Identity value round-trips through the parser", () => {
  const input = signingInput(claims, X5U);
  const value = identityValue(input, SIG, X5U);
  assert.match(value, /;info=<https:\/\/cert\.example\.org\/passport\.pem>;alg=ES256;ppt=shaken$/);
  assert.equal(identityPpt(value), "shaken");
  const p = parseIdentity(value);
  assert.deepEqual(p.claims, claims);
  assert.equal(p.x5u, X5U);
  assert.equal(p.signingInput, input);
  assert.deepEqual([...p.signature], [...SIG]);
});

Deno.test("base64url: no padding, URL alphabet, and back", () => {
  const bytes = new Uint8Array([0xfb, 0xff, 0xbf, 0x00, 0x01]);
  const text = base64url(bytes);
  assert.equal(text, "-_-_AAE");
  assert.deepEqual([...fromBase64url(text)!], [...bytes]);
  assert.equal(fromBase64url("a+b"), undefined);
  assert.equal(fromBase64url("abcde"), undefined, "a length of 4n+1 is no base64");
});

function refused(value: string, status: number, detail: RegExp): void {
  assert.throws(() => parseIdentity(value), (e: unknown) => {
    assert.ok(e instanceof IdentityError, String(e));
    assert.equal(e.status, status);
    assert.match(e.message, detail);
    return true;
  });
}

function forged(header: object, payload: object, params = `;info=<${X5U}>;alg=ES256;ppt=shaken`) {
  const enc = (o: object) => base64url(new TextEncoder().encode(JSON.stringify(o)));
  return `${enc(header)}.${enc(payload)}.${base64url(SIG)}${params}`;
}

const HEADER = { alg: "ES256", ppt: "shaken", typ: "passport", x5u: X5U };
const PAYLOAD = { attest: "B", dest: { tn: ["1"] }, iat: 1, orig: { tn: "2" }, origid: "x" };

Deno.test("RFC 8224 §6.2.2: malformed headers get 438, foreign algorithms 437, no info 436", () => {
  refused("garbage;info=<https://x/>", 438, /three base64url parts/);
  refused(
    `${forged(HEADER, PAYLOAD).split(".")[0]}..${base64url(SIG)};info=<${X5U}>`,
    438,
    /compact/,
  );
  refused(forged(HEADER, PAYLOAD, ";alg=ES256;ppt=shaken"), 436, /info/);
  refused(forged(HEADER, PAYLOAD, `;info=<${X5U}>;alg=RS256`), 437, /RS256|rs256/);
  refused(forged({ ...HEADER, alg: "RS256" }, PAYLOAD), 437, /RS256/);
  refused(forged({ ...HEADER, x5u: "https://elsewhere/" }, PAYLOAD), 438, /x5u equal/);
  refused(forged({ ...HEADER, ppt: "div" }, PAYLOAD), 438, /ppt/);
  refused(forged(HEADER, { ...PAYLOAD, attest: "D" }), 438, /attest/);
  refused(forged(HEADER, { ...PAYLOAD, orig: { uri: "sip:a@b" } }), 438, /orig\.tn/);
  refused(forged(HEADER, { ...PAYLOAD, dest: { tn: [] } }), 438, /dest\.tn/);
  refused(forged(HEADER, { ...PAYLOAD, iat: "now" }), 438, /iat/);
  refused(forged(HEADER, { ...PAYLOAD, origid: "" }), 438, /origid/);
  const short = forged(HEADER, PAYLOAD).replace(base64url(SIG), base64url(SIG.subarray(0, 63)));
  refused(short, 438, /64 bytes/);
  const notJson = `${base64url(new TextEncoder().encode("{nope"))}.eyJhIjoxfQ.${
    base64url(SIG)
  };info=<${X5U}>`;
  refused(notJson, 438, /JSON header/);
});

Deno.test("RFC 8224 §4.1: parameters in any case and order, a quoted ppt, an info URI holding ';'", () => {
  const x5u = "https://cert.example.org/a;b=c/sp.pem";
  const value = forged({ ...HEADER, x5u }, PAYLOAD, ` ; PPT="shaken" ; ALG=es256 ; Info=<${x5u}>`);
  assert.equal(parseIdentity(value).x5u, x5u);
  assert.equal(identityPpt(value), "shaken");
  assert.equal(identityPpt("abc"), "");
});

Deno.test("RFC 8224 §8.3: numbers compared in canonical form", () => {
  assert.equal(canonicalTn("+1-215-555-1212"), "12155551212");
  assert.equal(canonicalTn("+1(215)555.1212;verstat=TN-Validation-Passed"), "12155551212");
  assert.equal(canonicalTn("%2B12155551212"), "12155551212");
  assert.equal(canonicalTn("alice"), undefined);
  assert.equal(canonicalTn("anonymous"), undefined);
  assert.equal(canonicalTn(""), undefined);
  assert.equal(canonicalTn(undefined), undefined);
  assert.equal(canonicalTn("1234567890123456"), undefined, "longer than E.164 allows");
});

Deno.test("fuzz: any mutation of an Identity value is parsed or refused with an IdentityError", () => {
  const random = prng(0x5717);
  const good = identityValue(signingInput(claims, X5U), SIG, X5U);
  const alphabet = 'AZaz09-_.;=<>"\\:/ \t%{}[],\u00e9\u0000';
  for (let n = 0; n < 3000; n++) {
    const chars = [...good];
    const edits = 1 + Math.floor(random() * 6);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(random() * chars.length);
      const kind = random();
      const c = alphabet[Math.floor(random() * alphabet.length)];
      if (kind < 0.4) chars[at] = c;
      else if (kind < 0.7) chars.splice(at, 1);
      else chars.splice(at, 0, c);
    }
    const value = chars.join("");
    try {
      parseIdentity(value);
    } catch (e) {
      assert.ok(e instanceof IdentityError, `${value}: ${e}`);
    }
    // The ppt reader never throws either.
    identityPpt(value);
  }
});

// Digest answers checked against configured users (RFC 7616 §3.4.1 as a server), against
// answers made by the client side (which tests/aaa/digest_test.ts checks against the RFC's own
// vectors): MD5 and SHA-256, -sess, with and without qop, a stored HA1; every wrong one refused.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  digestAuthorization,
  type DigestCredentials,
  digestResponseMatches,
  parseProxyAuthorization,
} from "../../src/aaa/mod.ts";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

function answer(challenge: string, password: string, method = "INVITE"): DigestCredentials {
  return parseProxyAuthorization(digestAuthorization({
    method,
    uri: "sip:12155551213@tandem.example",
    username: "pbx1",
    password,
    challenge,
    cnonce: "0a4f113b",
    nc: 1,
  }));
}

const MD5_AUTH = 'Digest realm="tandem.example", nonce="abc123", qop="auth", algorithm=MD5';

Deno.test("local digest: MD5 with qop=auth, by password and by stored HA1", () => {
  const creds = answer(MD5_AUTH, "s3cret");
  assert.ok(digestResponseMatches(creds, "INVITE", { username: "pbx1", password: "s3cret" }));
  const ha1 = md5("pbx1:tandem.example:s3cret");
  assert.ok(digestResponseMatches(creds, "INVITE", { username: "pbx1", ha1 }));
  assert.ok(digestResponseMatches(creds, "INVITE", { username: "pbx1", ha1: ha1.toUpperCase() }));
});

Deno.test("local digest: a wrong password, method, nonce or HA1 realm is refused", () => {
  const creds = answer(MD5_AUTH, "s3cret");
  assert.equal(
    digestResponseMatches(creds, "INVITE", { username: "pbx1", password: "guess" }),
    false,
  );
  assert.equal(
    digestResponseMatches(creds, "BYE", { username: "pbx1", password: "s3cret" }),
    false,
  );
  assert.equal(
    digestResponseMatches({ ...creds, nonce: "other" }, "INVITE", {
      username: "pbx1",
      password: "s3cret",
    }),
    false,
  );
  const otherRealm = md5("pbx1:elsewhere:s3cret");
  assert.equal(
    digestResponseMatches(creds, "INVITE", { username: "pbx1", ha1: otherRealm }),
    false,
  );
  assert.equal(
    digestResponseMatches({ ...creds, response: "" }, "INVITE", {
      username: "pbx1",
      password: "s3cret",
    }),
    false,
  );
  assert.equal(digestResponseMatches(creds, "INVITE", { username: "pbx1" }), false, "no secret");
});

Deno.test("local digest: no qop (RFC 2069 style), SHA-256, MD5-sess; an HA1 answers MD5 only", () => {
  const plain = answer('Digest realm="tandem.example", nonce="n0"', "s3cret");
  assert.equal(plain.qop, undefined);
  assert.ok(digestResponseMatches(plain, "INVITE", { username: "pbx1", password: "s3cret" }));
  const sha = answer(
    'Digest realm="tandem.example", nonce="n1", qop="auth", algorithm=SHA-256',
    "s3cret",
  );
  assert.ok(digestResponseMatches(sha, "INVITE", { username: "pbx1", password: "s3cret" }));
  assert.equal(
    digestResponseMatches(sha, "INVITE", {
      username: "pbx1",
      ha1: md5("pbx1:tandem.example:s3cret"),
    }),
    false,
  );
  const sess = answer(
    'Digest realm="tandem.example", nonce="n2", qop="auth", algorithm=MD5-sess',
    "s3cret",
  );
  assert.ok(digestResponseMatches(sess, "INVITE", { username: "pbx1", password: "s3cret" }));
  assert.equal(
    digestResponseMatches({ ...sess, algorithm: "SHA-512" }, "INVITE", {
      username: "pbx1",
      password: "s3cret",
    }),
    false,
  );
});

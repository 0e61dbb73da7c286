// RFC 2617 §3.5 and RFC 7616 §3.9.1 example vectors for the client-side Digest answer, plus
// the stateless nonce and the Proxy-Authorization parser (RFC 3261 §22.4).

import assert from "node:assert/strict";
import {
  checkNonce,
  createNonce,
  digestAuthorization,
  DigestParseError,
  parseDigestParams,
  parseProxyAuthorization,
} from "../../src/aaa/mod.ts";

Deno.test("RFC 2617 §3.5 example: MD5, qop=auth", () => {
  const h = digestAuthorization({
    method: "GET",
    uri: "/dir/index.html",
    username: "Mufasa",
    password: "Circle Of Life",
    challenge: 'Digest realm="testrealm@host.com", qop="auth,auth-int", ' +
      'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    cnonce: "0a4f113b",
    nc: 1,
  });
  const p = parseDigestParams(h);
  assert.equal(p.response, "6629fae49393a05397450978507c4ef1");
  assert.equal(p.nc, "00000001");
  assert.equal(p.qop, "auth");
  assert.equal(p.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
});

const RFC7616 = {
  method: "GET",
  uri: "/dir/index.html",
  username: "Mufasa",
  password: "Circle of Life",
  cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
  nc: "00000001",
};
const CH = (alg: string) =>
  `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${alg}, ` +
  'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ' +
  'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';

Deno.test("RFC 7616 §3.9.1 example: MD5 and SHA-256", () => {
  const md5 = parseDigestParams(digestAuthorization({ ...RFC7616, challenge: CH("MD5") }));
  assert.equal(md5.response, "8ca523f5e9506fed4657c9700eebdbec");
  const sha = parseDigestParams(digestAuthorization({ ...RFC7616, challenge: CH("SHA-256") }));
  assert.equal(sha.response, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  assert.equal(sha.algorithm, "SHA-256");
});

Deno.test("RFC 2069 compatibility: no qop → no nc/cnonce", () => {
  const h = digestAuthorization({
    ...RFC7616,
    challenge: 'Digest realm="r", nonce="n"',
  });
  const p = parseDigestParams(h);
  assert.equal(p.qop, undefined);
  assert.equal(p.cnonce, undefined);
});

Deno.test("unsupported algorithm and malformed challenges are typed errors", () => {
  assert.throws(
    () => digestAuthorization({ ...RFC7616, challenge: CH("SHA-512-256") }),
    DigestParseError,
  );
  assert.throws(() => parseDigestParams('Basic realm="x"'), DigestParseError);
  assert.throws(() => parseDigestParams('Digest realm="x'), DigestParseError);
  assert.throws(() => parseDigestParams('Digest realm="a\r\nVia: x"'), DigestParseError);
});

Deno.test("stateless nonce: valid, stale after max age, invalid when forged", () => {
  const n = createNonce("k", 1_000_000);
  assert.equal(checkNonce("k", n, 1_000_500), "valid");
  assert.equal(checkNonce("k", n, 1_000_000 + 301_000), "stale");
  assert.equal(checkNonce("other", n, 1_000_500), "invalid");
  assert.equal(checkNonce("k", n.replace(/^[0-9a-f]+/, "ffffff"), 1_000_500), "invalid");
  assert.equal(checkNonce("k", "garbage", 1), "invalid");
});

Deno.test("Proxy-Authorization parse: required fields", () => {
  const c = parseProxyAuthorization(
    'Digest username="bob", realm="r", nonce="n", uri="sip:a@b", response="abc", ' +
      'qop=auth, nc=00000001, cnonce="x", algorithm=MD5',
  );
  assert.equal(c.username, "bob");
  assert.equal(c.nc, "00000001");
  assert.throws(() => parseProxyAuthorization('Digest username="bob"'), DigestParseError);
});

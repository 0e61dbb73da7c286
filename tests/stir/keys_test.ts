// The SHAKEN signing key from the PEM forms openssl writes: SEC1 (with and without the EC
// PARAMETERS block) and PKCS#8 import and sign, checked against the matching certificate's key;
// other curves, other algorithms and encrypted keys are refused with what was found. Signatures
// made with node:crypto (es256Sign) verify with WebCrypto and the other way round.

import assert from "node:assert/strict";
import {
  es256PublicKey,
  es256Sign,
  es256Verify,
  KeyError,
  loadSigningKey,
} from "../../src/stir/keys.ts";
import { parseCertificate, pemBlocks, publicKeyOf } from "../../src/stir/x509.ts";

import { opensslIn } from "./pki.ts";
const dir = await Deno.makeTempDir({ prefix: "tandem-keys-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const openssl = opensslIn(dir);

const read = (name: string) => Deno.readTextFileSync(`${dir}/${name}`);

// P-256 in every form: ecparam's SEC1 with EC PARAMETERS first, bare SEC1, PKCS#8.
await openssl("ecparam -genkey -name prime256v1 -out sec1-params.pem");
await openssl("ec -in sec1-params.pem -out sec1.pem");
await openssl("pkcs8 -topk8 -nocrypt -in sec1-params.pem -out pkcs8.pem");
await openssl("req -x509 -new -key sec1-params.pem -days 10 -out p256.crt -subj /CN=P-256");
// A second P-256 key, for a signature that must not verify.
await openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.pem");
await openssl("req -x509 -new -key other.pem -days 10 -out other.crt -subj /CN=other");
// Everything that must be refused.
await openssl("ecparam -genkey -name secp384r1 -out p384-sec1.pem");
await openssl("pkcs8 -topk8 -nocrypt -in p384-sec1.pem -out p384-pkcs8.pem");
await openssl("ecparam -genkey -name prime256v1 -param_enc explicit -out explicit.pem");
await openssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa-pkcs8.pem");
await openssl("rsa -in rsa-pkcs8.pem -traditional -out rsa-traditional.pem");
await openssl("genpkey -algorithm ED25519 -out ed25519.pem");
await openssl("pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret -in pkcs8.pem -out enc8.pem");
await openssl("ec -aes256 -passout pass:secret -in sec1.pem -out enc-sec1.pem");

const p256Cert = parseCertificate(pemBlocks(read("p256.crt"))[0]);
const otherCert = parseCertificate(pemBlocks(read("other.crt"))[0]);
const data = new TextEncoder().encode("eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjE3MDAwMDAwMDB9");

async function signs(pem: string): Promise<void> {
  const { key, curve } = loadSigningKey(pem);
  assert.equal(curve, "P-256");
  assert.equal(key.type, "private");
  assert.equal(key.asymmetricKeyType, "ec");
  const sig = es256Sign(key, data);
  assert.equal(sig.byteLength, 64, "r||s, not DER");
  // Checked by WebCrypto with the certificate's key, as another verifier would.
  const webVerify = async (cert: typeof p256Cert) =>
    crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      await publicKeyOf(cert),
      new Uint8Array(sig),
      data,
    );
  assert.equal(await webVerify(p256Cert), true);
  assert.equal(await webVerify(otherCert), false);
  // And by es256Verify, with the key taken from the certificate's SubjectPublicKeyInfo.
  assert.equal(es256Verify(es256PublicKey(p256Cert.spki), data, sig), true);
  assert.equal(es256Verify(es256PublicKey(otherCert.spki), data, sig), false);
  const flipped = new Uint8Array(sig);
  flipped[10] ^= 1;
  assert.equal(es256Verify(es256PublicKey(p256Cert.spki), data, flipped), false);
}

function refused(pem: string, message: RegExp): void {
  assert.throws(() => loadSigningKey(pem), (e: unknown) => {
    assert.ok(e instanceof KeyError, `expected KeyError, got ${e}`);
    assert.match(e.message, /^expected an (unencrypted )?EC P-256 private key/);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("SEC1 from ecparam -genkey, EC PARAMETERS block first", async () => {
  assert.match(read("sec1-params.pem"), /BEGIN EC PARAMETERS[\s\S]*BEGIN EC PRIVATE KEY/);
  await signs(read("sec1-params.pem"));
});

Deno.test("SEC1 alone, and with CRLF line ends", async () => {
  assert.doesNotMatch(read("sec1.pem"), /EC PARAMETERS/);
  await signs(read("sec1.pem"));
  await signs(read("sec1.pem").replaceAll("\n", "\r\n"));
});

Deno.test("PKCS#8, also after a certificate in the same file", async () => {
  await signs(read("pkcs8.pem"));
  await signs(read("p256.crt") + read("pkcs8.pem"));
});

Deno.test("P-384 is refused in both forms, naming the curve", async () => {
  await refused(read("p384-sec1.pem"), /got an 'EC PRIVATE KEY' on curve P-384/);
  await refused(read("p384-pkcs8.pem"), /got a 'PRIVATE KEY' on curve P-384/);
});

Deno.test("an EC PARAMETERS block naming another curve is believed", async () => {
  const p384Params = (await openssl("ecparam -name secp384r1")).trim();
  const sec1 = read("sec1.pem");
  // Strip the [0] parameters from the SEC1 key so only the separate block names a curve.
  const der = pemBlocks(sec1, "EC PRIVATE KEY")[0];
  const bare = withoutParameters(der);
  const pem = `${p384Params}\n-----BEGIN EC PRIVATE KEY-----\n${
    btoa(String.fromCharCode(...bare))
  }\n-----END EC PRIVATE KEY-----\n`;
  await refused(pem, /on curve P-384/);
  // The same bare key without the misleading block imports.
  await signs(pem.slice(p384Params.length));
});

Deno.test("explicit curve parameters are refused", async () => {
  await refused(read("explicit.pem"), /explicit curve parameters/);
});

Deno.test("RSA in both forms and Ed25519 are refused, naming what they are", async () => {
  await refused(
    read("rsa-traditional.pem"),
    /^expected an EC P-256 private key \(PEM 'PRIVATE KEY' or 'EC PRIVATE KEY'\), got 'RSA PRIVATE KEY'$/,
  );
  await refused(read("rsa-pkcs8.pem"), /got a 'PRIVATE KEY' of RSA$/);
  await refused(read("ed25519.pem"), /got a 'PRIVATE KEY' of Ed25519$/);
});

Deno.test("encrypted keys are refused: PKCS#8 and legacy SEC1", async () => {
  assert.match(read("enc-sec1.pem"), /Proc-Type: 4,ENCRYPTED/);
  await refused(read("enc8.pem"), /unencrypted.*got an encrypted 'ENCRYPTED PRIVATE KEY'/);
  await refused(read("enc-sec1.pem"), /unencrypted.*got an encrypted 'EC PRIVATE KEY'/);
});

Deno.test("no key block: says what the file held", async () => {
  await refused("", /got no PEM block$/);
  await refused("just text", /got no PEM block$/);
  await refused(read("p256.crt"), /got 'CERTIFICATE'$/);
  await refused(read("sec1-params.pem").split("-----BEGIN EC PRIVATE KEY")[0], /'EC PARAMETERS'/);
});

Deno.test("garbled blocks are KeyErrors, never another error", async () => {
  const sec1 = read("sec1.pem");
  await refused(sec1.replace(/\n[A-Za-z0-9+/]/, "\n*"), /not valid PEM/);
  await refused(sec1.replace("-----END EC PRIVATE KEY-----", ""), /not valid PEM/);
  const der = pemBlocks(sec1, "EC PRIVATE KEY")[0];
  for (let n = 0; n < der.length; n++) {
    const pem = `-----BEGIN EC PRIVATE KEY-----\n${
      btoa(String.fromCharCode(...der.subarray(0, n)))
    }\n-----END EC PRIVATE KEY-----\n`;
    assert.throws(() => loadSigningKey(pem), KeyError, `truncated to ${n} bytes`);
  }
  const pkcs8 = pemBlocks(read("pkcs8.pem"), "PRIVATE KEY")[0];
  for (let n = 0; n < pkcs8.length; n++) {
    const pem = `-----BEGIN PRIVATE KEY-----\n${
      btoa(String.fromCharCode(...pkcs8.subarray(0, n)))
    }\n-----END PRIVATE KEY-----\n`;
    assert.throws(() => loadSigningKey(pem), KeyError, `truncated to ${n} bytes`);
  }
});

/**
 * The SEC1 ECPrivateKey with its [0] parameters removed (RFC 5915 makes them optional), by
 * re-encoding: SEQUENCE{version, privateKey, [1] publicKey}. Lengths here are all short or 0x81.
 */
function withoutParameters(der: Uint8Array): Uint8Array {
  const children: Uint8Array[] = [];
  let p = der[1] === 0x81 ? 3 : 2;
  while (p < der.length) {
    const len = der[p + 1] === 0x81 ? der[p + 2] : der[p + 1];
    const header = der[p + 1] === 0x81 ? 3 : 2;
    const child = der.subarray(p, p + header + len);
    if (child[0] !== 0xa0) children.push(child);
    p += header + len;
  }
  const body = new Uint8Array(children.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of children) {
    body.set(c, at);
    at += c.length;
  }
  const head = body.length < 0x80 ? [0x30, body.length] : [0x30, 0x81, body.length];
  return Uint8Array.from([...head, ...body]);
}

// RFC 5280 certificate parsing and chain verification against certificates the real openssl CLI
// makes at test time: fields are checked against what openssl prints, chains against each
// failure reason, and the DER reader against truncated and bit-flipped input.

import assert from "node:assert/strict";
import {
  type Certificate,
  CertificateError,
  type CertificateErrorReason,
  decodeOid,
  DerReader,
  parseCertificate,
  pemBlocks,
  publicKeyOf,
  verifyChain,
} from "../../src/stir/mod.ts";

import { opensslIn } from "./pki.ts";
const dir = await Deno.makeTempDir({ prefix: "tandem-x509-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const openssl = opensslIn(dir);

await Deno.writeTextFile(
  `${dir}/openssl.cnf`,
  `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[noca_ext]
basicConstraints = critical, CA:FALSE
[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
1.3.6.1.5.5.7.1.26 = DER:30:08:a0:06:16:04:31:32:33:34
[ca]
default_ca = test_ca
[test_ca]
database = ${dir}/index.txt
new_certs_dir = ${dir}
serial = ${dir}/serial
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
x509_extensions = leaf_ext
[any_name]
commonName = supplied
`,
);
await Deno.writeTextFile(`${dir}/index.txt`, "");
await Deno.writeTextFile(`${dir}/serial`, "1000\n");

type Curve = "prime256v1" | "secp384r1";

/** A fresh EC key; SEC1 from ecparam (as SHAKEN guides tell operators to make them). */
async function key(name: string, curve: Curve = "prime256v1"): Promise<string> {
  await openssl(`ecparam -genkey -name ${curve} -out ${name}.key`);
  return `${name}.key`;
}

async function selfSigned(
  name: string,
  subject: string,
  opts: { curve?: Curve; ext?: string; days?: number; md?: string } = {},
): Promise<string> {
  const k = await key(name, opts.curve);
  await openssl(
    `req -x509 -new -config openssl.cnf -extensions ${opts.ext ?? "ca_ext"} -key ${k} -utf8 ` +
      `-days ${opts.days ?? 3650} -${opts.md ?? "sha256"} -out ${name}.pem -subj`,
    subject,
  );
  return name;
}

/** A certificate for a new key `name`, signed by `issuer` (a name made earlier). */
async function issued(
  name: string,
  issuer: string,
  subject: string,
  opts: { curve?: Curve; ext?: string; days?: number; md?: string; serial?: string } = {},
): Promise<string> {
  const k = await key(name, opts.curve);
  await openssl(`req -new -config openssl.cnf -key ${k} -utf8 -out ${name}.csr -subj`, subject);
  await openssl(
    `x509 -req -in ${name}.csr -CA ${issuer}.pem -CAkey ${issuer}.key ` +
      `-set_serial ${opts.serial ?? Math.floor(Math.random() * 2 ** 31)} ` +
      `-days ${opts.days ?? 365} -${opts.md ?? "sha256"} -extfile openssl.cnf ` +
      `-extensions ${opts.ext ?? "leaf_ext"} -out ${name}.pem`,
  );
  return name;
}

/** Like `issued`, through `openssl ca` so that validity dates can be chosen freely. */
async function issuedWithDates(
  name: string,
  issuer: string,
  subject: string,
  start: string,
  end: string,
): Promise<string> {
  const k = await key(name);
  await openssl(`req -new -config openssl.cnf -key ${k} -out ${name}.csr -subj`, subject);
  await openssl(
    `ca -batch -config openssl.cnf -cert ${issuer}.pem -keyfile ${issuer}.key -in ${name}.csr ` +
      `-startdate ${start} -enddate ${end} -notext -out ${name}.pem`,
  );
  return name;
}

function load(name: string): Certificate {
  const blocks = pemBlocks(Deno.readTextFileSync(`${dir}/${name}.pem`));
  assert.equal(blocks.length, 1);
  return parseCertificate(blocks[0]);
}

// The PKI under test.
await selfSigned("root", "/C=US/O=Example STI-CA/CN=Root P-256");
await issued("int", "root", "/C=US/O=Example STI-CA/CN=Intermediate", { ext: "ca_ext" });
await issued("leaf", "int", "/C=US/O=Example, Inc./CN=SHAKEN 1234", { serial: "0x80112233" });
await selfSigned("root384", "/O=Example/CN=Root P-384", { curve: "secp384r1", md: "sha384" });
// A P-384 CA signing with SHA-256: r and s are 48 bytes under an ES256 algorithm identifier.
await issued("int384", "root384", "/O=Example/CN=Int P-384", { curve: "secp384r1", ext: "ca_ext" });
await issued("leaf384", "int384", "/CN=SHAKEN 384", { md: "sha384" });
await selfSigned("other", "/CN=Other Root");
await issued("leafOther", "other", "/CN=SHAKEN other");
// Same name as the real root, different key: names match, signatures do not.
await selfSigned("impostor", "/C=US/O=Example STI-CA/CN=Root P-256");
await issued("leafImpostor", "impostor", "/CN=SHAKEN impostor");
await issued("intTwin", "root", "/C=US/O=Example STI-CA/CN=Intermediate", { ext: "ca_ext" });
await issued("notCa", "root", "/CN=Not a CA", { ext: "noca_ext" });
await issued("leafUnderNotCa", "notCa", "/CN=SHAKEN under not-CA");
await issuedWithDates("expired", "int", "/CN=SHAKEN expired", "20200101000000Z", "20210101000000Z");
await issuedWithDates("old", "int", "/CN=SHAKEN old", "19990101000000Z", "20600101000000Z");
await selfSigned("selfLeaf", "/CN=Self-signed leaf", { ext: "leaf_ext" });
await selfSigned("shortRoot", "/CN=Short-lived Root", { days: 1 });
await issued("leafShortRoot", "shortRoot", "/CN=SHAKEN short root", { days: 30 });
await openssl(
  "req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -config openssl.cnf -extensions ca_ext " +
    "-days 10 -out rsa.pem -subj /CN=RSA_Root",
);
await issued("leafUnderRsa", "rsa", "/CN=SHAKEN under RSA");
// A straight line root → i1 → … → i7, for the 8-certificate path limit.
let parent = "root";
for (let i = 1; i <= 7; i++) {
  parent = await issued(`i${i}`, parent, `/CN=Chain ${i}`, { ext: "ca_ext" });
}
await issued("deep8", "i6", "/CN=SHAKEN depth 8");
await issued("deep9", "i7", "/CN=SHAKEN depth 9");

const root = load("root");
const int = load("int");
const leaf = load("leaf");
const now = Date.now();

/** What openssl says about a certificate, in the forms Certificate uses. */
async function opensslView(name: string) {
  const out = await openssl(
    `x509 -in ${name}.pem -noout -subject -serial -dates -nameopt RFC2253,-esc_msb ` +
      "-dateopt iso_8601",
  );
  const field = (k: string) => out.match(new RegExp(`^${k}=(.*)$`, "m"))?.[1] ?? "";
  const time = (k: string) => Date.parse(field(k).replace(" ", "T"));
  return {
    subject: field("subject"),
    serial: field("serial"),
    notBefore: time("notBefore"),
    notAfter: time("notAfter"),
  };
}

async function rejects(
  p: Promise<unknown> | (() => unknown),
  reason: CertificateErrorReason,
  message?: RegExp,
): Promise<void> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    assert.ok(e instanceof CertificateError, `expected CertificateError, got ${e}`);
    assert.equal(e.reason, reason, e.message);
    if (message) assert.match(e.message, message);
    return;
  }
  assert.fail(`expected CertificateError(${reason}), got success`);
}

const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("fields match what openssl prints", async () => {
  for (const name of ["root", "int", "leaf", "root384", "leaf384", "old", "selfLeaf", "rsa"]) {
    const cert = load(name);
    const want = await opensslView(name);
    // openssl separates RDNs with a bare ","; Certificate.subjectText with ", ".
    assert.equal(cert.subjectText.replace(/(?<!\\), /g, ","), want.subject, name);
    assert.equal(cert.serialHex, want.serial, name);
    assert.equal(cert.notBefore, want.notBefore, name);
    assert.equal(cert.notAfter, want.notAfter, name);
  }
});

Deno.test("leaf: subject text, sign-byte-free serial, TNAuthList, keys and algorithms", () => {
  assert.equal(leaf.subjectText, "CN=SHAKEN 1234, O=Example\\, Inc., C=US");
  assert.equal(leaf.serialHex, "80112233");
  assert.equal(leaf.isCa, false);
  assert.equal(leaf.curve, "P-256");
  assert.equal(leaf.signatureAlgorithm, "ES256");
  assert.equal(leaf.signature.length, 64);
  assert.equal(hexOf(leaf.tnAuthList ?? new Uint8Array()), "3008a006160431323334");
  assert.equal(int.isCa, true);
  assert.equal(int.tnAuthList, undefined);
  assert.deepEqual(leaf.issuer, int.subject);
  assert.deepEqual(int.issuer, root.subject);
});

Deno.test("tbs, spki and signature are the exact bytes openssl wrote", async () => {
  // asn1parse offsets of the top-level Certificate's three children.
  const out = await openssl("asn1parse -in leaf.pem");
  const lines = out.split("\n").filter((l) => /:d=1 /.test(l));
  assert.equal(lines.length, 3);
  const start = (l: string) => Number(l.trim().split(":")[0]);
  assert.deepEqual(leaf.tbs, leaf.der.subarray(start(lines[0]), start(lines[1])));
  const spki = await openssl("x509 -in leaf.pem -noout -pubkey");
  assert.deepEqual(leaf.spki, pemBlocks(spki, "PUBLIC KEY")[0]);
  // The raw signature verifies the tbs with the issuer's key.
  const ok = await crypto.subtle.verify(
    { name: "ECDSA", hash: "SHA-256" },
    await publicKeyOf(int),
    leaf.signature,
    leaf.tbs,
  );
  assert.equal(ok, true);
});

Deno.test("UTCTime years per RFC 5280 §4.1.2.5.1 and GeneralizedTime after 2049", () => {
  const old = load("old");
  assert.equal(old.notBefore, Date.UTC(1999, 0, 1));
  assert.equal(old.notAfter, Date.UTC(2060, 0, 1));
});

Deno.test("P-384: curve, ES384, and a P-384 issuer's 48-byte ES256 signature", () => {
  const root384 = load("root384");
  assert.equal(root384.curve, "P-384");
  assert.equal(root384.signatureAlgorithm, "ES384");
  assert.equal(root384.signature.length, 96);
  const int384 = load("int384");
  assert.equal(int384.signatureAlgorithm, "ES256");
  assert.equal(int384.signature.length, 96);
  assert.equal(load("leaf384").signature.length, 96);
});

Deno.test("RSA certificate: parsed, dotted algorithm, no curve, key refused", async () => {
  const rsa = load("rsa");
  assert.equal(rsa.signatureAlgorithm, "1.2.840.113549.1.1.11");
  assert.equal(rsa.curve, undefined);
  assert.equal(rsa.signature.length, 0);
  assert.equal(rsa.isCa, true);
  await rejects(publicKeyOf(rsa), "unsupported-key", /RSA/);
});

Deno.test("verifyChain: leaf + intermediate to the root", async () => {
  assert.equal(await verifyChain([leaf, int], [root], now), leaf);
  assert.equal(await verifyChain([leaf, int], [root, load("other")], now), leaf);
  const root384 = load("root384");
  const leaf384 = load("leaf384");
  assert.equal(await verifyChain([leaf384, load("int384")], [root384], now), leaf384);
});

Deno.test("verifyChain: intermediates in any order, strays ignored", async () => {
  const chain = [load("deep8"), ...["i3", "i1", "i6", "int", "i5", "i2", "i4"].map(load)];
  assert.equal(await verifyChain(chain, [root], now), chain[0]);
});

Deno.test("verifyChain: an intermediate as anchor ends the path there", async () => {
  assert.equal(await verifyChain([leaf], [int], now), leaf);
  assert.equal(await verifyChain([leaf, int], [int], now), leaf);
});

Deno.test("verifyChain: a leaf that is an anchor is trusted, else a self-signed leaf is not", async () => {
  const self = load("selfLeaf");
  assert.equal(await verifyChain([self], [root, self], now), self);
  await rejects(verifyChain([self], [root], now), "untrusted");
});

Deno.test("verifyChain: another CA's leaf is untrusted", async () => {
  await rejects(verifyChain([load("leafOther")], [root], now), "untrusted", /Other Root/);
  await rejects(verifyChain([leaf], [root], now), "untrusted", /Intermediate/);
  await rejects(verifyChain([leaf, int], [], now), "untrusted");
  await rejects(verifyChain([], [root], now), "untrusted");
});

Deno.test("verifyChain: an issuer with the anchor's name but another key", async () => {
  await rejects(verifyChain([load("leafImpostor")], [root], now), "bad-signature");
  // The impostor verifies the leaf, but nothing of the real root's verifies the impostor.
  await rejects(
    verifyChain([load("leafImpostor"), load("impostor")], [root], now),
    "bad-signature",
  );
  // Every candidate is tried: a same-named intermediate first does not hide the right one.
  assert.equal(await verifyChain([leaf, load("intTwin"), int], [root], now), leaf);
});

Deno.test("verifyChain: a tampered tbs byte fails the signature", async () => {
  const der = leaf.der.slice();
  // Inside the subject's CN value "SHAKEN 1234": the name is still well-formed.
  const at = indexOf(leaf.der, new TextEncoder().encode("SHAKEN 1234"));
  assert.ok(at > 0);
  der[at] ^= 0x01;
  await rejects(verifyChain([parseCertificate(der), int], [root], now), "bad-signature");
  // A tampered intermediate fails in the same way one step up: its notBefore moves a second.
  const intDer = int.der.slice();
  const utcTime = indexOf(int.der, Uint8Array.of(0x17, 0x0d));
  intDer[utcTime + 2 + 11] ^= 0x01;
  const badInt = parseCertificate(intDer);
  assert.equal(Math.abs(badInt.notBefore - int.notBefore), 1000);
  await rejects(verifyChain([leaf, badInt], [root], now), "bad-signature");
});

Deno.test("verifyChain: validity of leaf, intermediate and anchor", async () => {
  await rejects(verifyChain([load("expired"), int], [root], now), "expired", /2021-01-01/);
  await rejects(verifyChain([leaf, int], [root], leaf.notBefore - 1000), "not-yet-valid");
  await rejects(verifyChain([leaf, int], [root], leaf.notAfter + 1000), "expired", /SHAKEN 1234/);
  const old = load("old");
  // The leaf alone is valid in 2059; the intermediate is not.
  await rejects(
    verifyChain([old, int], [root], Date.UTC(2059, 0, 1)),
    "expired",
    /Intermediate/,
  );
  // The anchor's own validity counts: a 1-day root under a 30-day leaf.
  const leafShort = load("leafShortRoot");
  const shortRoot = load("shortRoot");
  assert.equal(await verifyChain([leafShort], [shortRoot], now), leafShort);
  await rejects(
    verifyChain([leafShort], [shortRoot], now + 3 * 86_400_000),
    "expired",
    /Short-lived Root/,
  );
});

Deno.test("verifyChain: an issuer without cA TRUE", async () => {
  const notCa = load("notCa");
  assert.equal(notCa.isCa, false);
  await rejects(verifyChain([load("leafUnderNotCa"), notCa], [root], now), "not-ca", /Not a CA/);
});

Deno.test("verifyChain: an RSA issuer cannot verify an ECDSA path", async () => {
  const leafUnderRsa = load("leafUnderRsa");
  assert.equal(leafUnderRsa.signatureAlgorithm, "1.2.840.113549.1.1.11");
  await rejects(verifyChain([leafUnderRsa], [load("rsa")], now), "unsupported-algorithm");
});

Deno.test("verifyChain: at most 8 certificates on the path", async () => {
  const ints = ["i1", "i2", "i3", "i4", "i5", "i6", "i7"].map(load);
  const deep8 = load("deep8");
  assert.equal(await verifyChain([deep8, ...ints], [root], now), deep8);
  await rejects(verifyChain([load("deep9"), ...ints], [root], now), "untrusted", /within 8/);
});

Deno.test("pemBlocks: CRLF, blank lines, text around and between blocks, other labels", () => {
  const a = Deno.readTextFileSync(`${dir}/leaf.pem`).trim();
  const b = Deno.readTextFileSync(`${dir}/int.pem`).trim();
  const text = `subject=leaf\r\n${a.replaceAll("\n", "\r\n\r\n")}\r\n\r\nnext:\n\n${b}\n` +
    "-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED CERTIFICATE-----\n";
  const blocks = pemBlocks(text);
  assert.equal(blocks.length, 2);
  assert.deepEqual(blocks[0], leaf.der);
  assert.deepEqual(blocks[1], int.der);
  assert.deepEqual(pemBlocks(text, "TRUSTED CERTIFICATE"), [Uint8Array.of(0, 0, 0)]);
  assert.deepEqual(pemBlocks("no pem here"), []);
});

Deno.test("pemBlocks: a block without END or with bad base64 is malformed", async () => {
  const a = Deno.readTextFileSync(`${dir}/leaf.pem`);
  await rejects(() => pemBlocks(a.replace("-----END CERTIFICATE-----", "")), "malformed", /END/);
  await rejects(() => pemBlocks(a.replace(/\n[A-Za-z0-9]/, "\n*")), "malformed", /base64/);
});

Deno.test("parseCertificate: hand-made DER faults, each named with its offset", async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(), /offset 0: expected Certificate SEQUENCE/],
    ["wrong tag", Uint8Array.of(0x31, 0x00), /found tag 0x31/],
    ["indefinite length", Uint8Array.of(0x30, 0x80, 0x00, 0x00), /indefinite/],
    ["5 length bytes", Uint8Array.of(0x30, 0x85, 1, 0, 0, 0, 0), /at most 4 length bytes/],
    ["non-minimal length", Uint8Array.of(0x30, 0x81, 0x02, 0x05, 0x00), /short length form/],
    ["leading zero length", Uint8Array.of(0x30, 0x82, 0x00, 0x82), /leading 0/],
    ["truncated length", Uint8Array.of(0x30, 0x82, 0x01), /length bytes, found end/],
    ["too long", Uint8Array.of(0x30, 0x05, 0x00), /5 bytes long, only 1 remain/],
    ["trailing bytes", concat(leaf.der, Uint8Array.of(0)), /end of the certificate/],
    ["huge length", Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff), /only 0 remain/],
  ];
  for (const [what, der, message] of cases) {
    await rejects(() => parseCertificate(der), "malformed", message);
    assert.match(String(captured(() => parseCertificate(der))), /offset \d+/, what);
  }
});

Deno.test("decodeOid: known OIDs, a UUID arc, and hostile arcs", async () => {
  const oid = (...bytes: number[]) =>
    decodeOid(new DerReader(Uint8Array.of(6, bytes.length, ...bytes)).read("OID"));
  assert.equal(oid(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07), "1.2.840.10045.3.1.7");
  assert.equal(oid(0x2b, 0x81, 0x04, 0x00, 0x22), "1.3.132.0.34");
  assert.equal(oid(0x55, 0x04, 0x03), "2.5.4.3");
  // 2.25 with a 128-bit UUID arc (all ones): past Number, within BigInt and the 20-byte cap.
  const uuid = [0x83, ...Array(17).fill(0xff), 0x7f];
  assert.equal(oid(0x69, ...uuid), `2.25.${2n ** 128n - 1n}`);
  await rejects(() => oid(0x2a, 0x80, 0x01), "malformed", /leading 0x80/);
  await rejects(() => oid(0x2a, 0x86), "malformed", /last arc/);
  // A 60 kB arc is refused at once instead of costing quadratic BigInt work.
  const huge = new Uint8Array(60_004);
  huge.set([0x06, 0x82, 0xea, 0x60]);
  huge.fill(0xff, 4);
  const started = performance.now();
  await rejects(() => decodeOid(new DerReader(huge).read("OID")), "malformed", /at most 20/);
  assert.ok(performance.now() - started < 100);
});

Deno.test("parseCertificate: a mismatched inner signature algorithm is refused", async () => {
  // Re-label the outer AlgorithmIdentifier as ecdsa-with-SHA384: the tbs still says SHA-256.
  const der = leaf.der.slice();
  const outer = lastIndexOf(der, Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02));
  der[outer + 7] = 0x03;
  await rejects(() => parseCertificate(der), "malformed", /to equal signatureAlgorithm/);
});

Deno.test("parseCertificate: every truncation is malformed", async () => {
  for (const cert of [leaf, root, load("rsa"), load("root384")]) {
    for (let n = 0; n < cert.der.length; n++) {
      await rejects(() => parseCertificate(cert.der.subarray(0, n)), "malformed");
    }
  }
});

Deno.test("parseCertificate and verifyChain: random byte changes never throw anything else", async () => {
  let seed = 0x5eed1234;
  const random = () => {
    // xorshift32: reproducible, so a failure can be replayed.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  let parsed = 0;
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const der = leaf.der.slice();
    const changes = 1 + Math.floor(random() * 3);
    for (let j = 0; j < changes; j++) {
      const at = Math.floor(random() * der.length);
      der[at] = random() < 0.5 ? der[at] ^ (1 << Math.floor(random() * 8)) : random() * 256;
    }
    let cert: Certificate;
    try {
      cert = parseCertificate(der);
    } catch (e) {
      assert.ok(e instanceof CertificateError, `case ${i}: ${e}`);
      assert.equal(e.reason, "malformed");
      refused++;
      continue;
    }
    parsed++;
    try {
      await verifyChain([cert, int], [root], now);
    } catch (e) {
      assert.ok(e instanceof CertificateError, `case ${i}: ${e}`);
    }
  }
  // Both outcomes happen, or the loop would test less than it seems.
  assert.ok(parsed > 100 && refused > 100, `parsed ${parsed}, refused ${refused}`);
});

Deno.test("publicKeyOf: an ECDSA verify key on the certificate's curve", async () => {
  const key = await publicKeyOf(root);
  assert.equal(key.type, "public");
  assert.deepEqual(key.usages, ["verify"]);
  assert.equal((key.algorithm as EcKeyAlgorithm).namedCurve, "P-256");
  const key384 = await publicKeyOf(load("root384"));
  assert.equal((key384.algorithm as EcKeyAlgorithm).namedCurve, "P-384");
});

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function lastIndexOf(haystack: Uint8Array, needle: Uint8Array): number {
  let last = -1;
  for (let i = indexOf(haystack, needle); i >= 0; i = indexOf(haystack, needle, i + 1)) last = i;
  return last;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function captured(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

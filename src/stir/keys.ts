// The SHAKEN signing key (ATIS-1000074 §5.3.1: ES256, so EC P-256 only) from PEM: PKCS#8
// (RFC 5958) as is, or SEC1 (RFC 5915) as `openssl ecparam -genkey` writes it, wrapped into
// PKCS#8 (checked, and refused with what was found when it is anything else); and the ES256
// signatures made and checked with it, per call.

import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { decodeOid, DerReader, DerTag, encodeTlv, pemBlocks, type Tlv } from "./der.ts";
import { CertificateError } from "./errors.ts";
import { NAMED_CURVES, OIDS } from "./x509.ts";

/** The PEM held no usable P-256 private key; the message says what it held instead. */
export class KeyError extends Error {
  override name = "KeyError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const EXPECTED = "expected an EC P-256 private key (PEM 'PRIVATE KEY' or 'EC PRIVATE KEY')";

const CURVE_NAMES: Readonly<Record<string, string>> = {
  [OIDS.secp384r1]: "P-384",
  "1.3.132.0.35": "P-521",
  "1.3.132.0.10": "secp256k1",
};

const ALGORITHM_NAMES: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.1": "RSA",
  "1.2.840.113549.1.1.10": "RSA-PSS",
  "1.2.840.10040.4.1": "DSA",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448",
  "1.3.101.110": "X25519",
};

/** Imports the ES256 signing key of a PEM file (other PEM blocks, e.g. certificates, ignored). */
export function loadSigningKey(pem: string): { key: KeyObject; curve: "P-256" } {
  const labels = [...pem.matchAll(/-----BEGIN ([^\r\n]*?)-----/g)].map((m) => m[1]);
  const label = labels.find((l) => l.endsWith("PRIVATE KEY"));
  if (label === undefined) {
    throw new KeyError(
      `${EXPECTED}, got ` +
        (labels.length ? labels.map((l) => `'${l}'`).join(", ") : "no PEM block"),
    );
  }
  if (label === "ENCRYPTED PRIVATE KEY" || legacyEncrypted(pem, label)) {
    throw new KeyError(
      `${EXPECTED} unencrypted, got an encrypted '${label}'; decrypt it with ` +
        "`openssl pkey -in key.pem -out plain.pem`",
    );
  }
  let pkcs8: Uint8Array<ArrayBuffer>;
  if (label === "PRIVATE KEY") {
    pkcs8 = firstBlock(pem, label);
    checkPkcs8(pkcs8);
  } else if (label === "EC PRIVATE KEY") {
    const sec1 = firstBlock(pem, label);
    checkSec1(sec1, ecParametersBlock(pem));
    pkcs8 = wrapSec1(sec1);
  } else {
    throw new KeyError(`${EXPECTED}, got '${label}'`);
  }
  try {
    // node:crypto, not WebCrypto: under Bun its ES256 signature costs a fifth of the CPU
    // (about 20 µs against 90 here), and one is made for every INVITE a signing rule places.
    const key = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
    return { key, curve: "P-256" };
  } catch (e) {
    throw new KeyError(`${EXPECTED}, got ${a(label)} the crypto library refused: ${String(e)}`, {
      cause: e,
    });
  }
}

/** An ES256 signature (RFC 7518 §3.4: r||s, 64 bytes) of `data` with a key from above. */
export function es256Sign(key: KeyObject, data: Uint8Array): Uint8Array {
  return sign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
}

/** Whether `signature` (r||s) is `key`'s ES256 signature of `data`. */
export function es256Verify(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  return verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, signature);
}

/** A certificate's public key (SubjectPublicKeyInfo DER) for {@link es256Verify}. */
export function es256PublicKey(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
}

/** RFC 1421 encryption headers inside the block, as `openssl ec -aes256` writes them. */
function legacyEncrypted(pem: string, label: string): boolean {
  const start = pem.indexOf(`-----BEGIN ${label}-----`);
  const end = pem.indexOf(`-----END ${label}-----`, start);
  return /Proc-Type:\s*4,\s*ENCRYPTED/i.test(pem.slice(start, end < 0 ? undefined : end));
}

function firstBlock(pem: string, label: string): Uint8Array<ArrayBuffer> {
  try {
    return pemBlocks(pem, label)[0];
  } catch (e) {
    throw new KeyError(`${EXPECTED}, got ${a(label)} block that is not valid PEM`, { cause: e });
  }
}

/** Runs a DER walk, turning its CertificateError into a KeyError naming the block. */
function der<T>(label: string, walk: () => T): T {
  try {
    return walk();
  } catch (e) {
    if (e instanceof CertificateError) {
      throw new KeyError(`${EXPECTED}, got ${a(label)} that is not DER: ${e.message}`, {
        cause: e,
      });
    }
    throw e;
  }
}

/** The label quoted, with its article: "an 'EC PRIVATE KEY'", "a 'PRIVATE KEY'". */
function a(label: string): string {
  return `${/^[AEIOU]/.test(label) ? "an" : "a"} '${label}'`;
}

function curveName(oid: string): string {
  return NAMED_CURVES[oid] ?? CURVE_NAMES[oid] ?? oid;
}

function requireP256(params: Tlv | undefined, label: string): void {
  if (params === undefined) return;
  if (params.tag !== DerTag.OID) {
    throw new KeyError(`${EXPECTED}, got ${a(label)} with explicit curve parameters`);
  }
  const oid = decodeOid(params);
  if (oid !== OIDS.prime256v1) {
    throw new KeyError(`${EXPECTED}, got ${a(label)} on curve ${curveName(oid)}`);
  }
}

/** PrivateKeyInfo (RFC 5958 §2): id-ecPublicKey on prime256v1, and a SEC1 key inside. */
function checkPkcs8(bytes: Uint8Array<ArrayBuffer>): void {
  const label = "PRIVATE KEY";
  der(label, () => {
    const outer = new DerReader(bytes);
    const info = outer.enter(DerTag.SEQUENCE, "PrivateKeyInfo SEQUENCE");
    outer.finish("the key");
    info.expect(DerTag.INTEGER, "version INTEGER");
    const alg = info.enter(DerTag.SEQUENCE, "privateKeyAlgorithm");
    const oid = decodeOid(alg.expect(DerTag.OID, "algorithm OBJECT IDENTIFIER"));
    if (oid !== OIDS.ecPublicKey) {
      throw new KeyError(`${EXPECTED}, got ${a(label)} of ${ALGORITHM_NAMES[oid] ?? oid}`);
    }
    if (alg.atEnd) {
      throw new KeyError(`${EXPECTED}, got ${a(label)} naming no curve`);
    }
    requireP256(alg.read("curve"), label);
    alg.finish("privateKeyAlgorithm");
    checkSec1(info.expect(DerTag.OCTET_STRING, "privateKey OCTET STRING").value, undefined);
  });
}

/** ECPrivateKey (RFC 5915 §3): version 1, a 32-byte scalar, and P-256 if it names a curve. */
function checkSec1(bytes: Uint8Array<ArrayBuffer>, separateParams: string | undefined): void {
  const label = "EC PRIVATE KEY";
  der(label, () => {
    const outer = new DerReader(bytes);
    const key = outer.enter(DerTag.SEQUENCE, "ECPrivateKey SEQUENCE");
    outer.finish("the key");
    const version = key.expect(DerTag.INTEGER, "version INTEGER");
    if (version.value.length !== 1 || version.value[0] !== 1) {
      throw new KeyError(`${EXPECTED}, got ${a(label)} of an unknown version`);
    }
    const scalar = key.expect(DerTag.OCTET_STRING, "privateKey OCTET STRING");
    const params = key.optional(DerTag.CONTEXT | 0, "parameters [0]");
    if (params) {
      const r = DerReader.of(params);
      requireP256(r.read("ECParameters"), label);
      r.finish("parameters [0]");
    } else if (separateParams !== undefined && separateParams !== OIDS.prime256v1) {
      throw new KeyError(`${EXPECTED}, got ${a(label)} on curve ${curveName(separateParams)}`);
    }
    // Without a curve OID the scalar's size is the best evidence of the curve left.
    if (scalar.value.length !== 32) {
      throw new KeyError(
        `${EXPECTED}, got ${a(label)} with a ${scalar.value.length}-byte private scalar, ` +
          "not the 32 bytes of P-256",
      );
    }
  });
}

/** The named curve of an "EC PARAMETERS" block, which `openssl ecparam -genkey` puts first. */
function ecParametersBlock(pem: string): string | undefined {
  const label = "EC PARAMETERS";
  let block: Uint8Array<ArrayBuffer> | undefined;
  try {
    block = pemBlocks(pem, label)[0];
  } catch {
    return undefined;
  }
  if (!block) return undefined;
  return der(label, () => {
    const r = new DerReader(block);
    const tlv = r.read("ECParameters");
    r.finish("EC PARAMETERS");
    return tlv.tag === DerTag.OID ? decodeOid(tlv) : "explicit parameters";
  });
}

/** PKCS#8 PrivateKeyInfo{0, {id-ecPublicKey, prime256v1}, OCTET STRING{sec1}}. */
function wrapSec1(sec1: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const algorithm = encodeTlv(
    DerTag.SEQUENCE,
    concat(oidTlv(OIDS.ecPublicKey), oidTlv(OIDS.prime256v1)),
  );
  return encodeTlv(
    DerTag.SEQUENCE,
    concat(
      encodeTlv(DerTag.INTEGER, Uint8Array.of(0)),
      algorithm,
      encodeTlv(DerTag.OCTET_STRING, sec1),
    ),
  );
}

/** DER of a dotted OID (X.690 §8.19); only ever called with the constants above. */
function oidTlv(dotted: string): Uint8Array<ArrayBuffer> {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [];
  for (const arc of [arcs[0] * 40 + arcs[1], ...arcs.slice(2)]) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) {
      groups.unshift((v & 0x7f) | 0x80);
    }
    out.push(...groups);
  }
  return encodeTlv(DerTag.OID, Uint8Array.from(out));
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

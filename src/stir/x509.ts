// RFC 5280 certificate profile, as much of it as STIR/SHAKEN (RFC 8224/8225/8588, ATIS-1000074)
// needs, read with the strict DER reader; plus chain verification to configured anchors.
// Web-standard APIs only (crypto.subtle, TextDecoder) so it runs unchanged on Deno and Bun.

import {
  type Bytes,
  bytesEqual,
  decodeBoolean,
  decodeOid,
  DerReader,
  DerTag,
  hex,
  integerBytes,
  malformed,
  octetAlignedBits,
  smallInteger,
  tagName,
  type Tlv,
} from "./der.ts";
import { CertificateError } from "./errors.ts";

export { CertificateError, type CertificateErrorReason } from "./errors.ts";
export { pemBlocks } from "./der.ts";

// ---------------------------------------------------------------------------------------------
// Certificates (RFC 5280 §4.1)

/** Object identifiers STIR certificate and key handling needs. */
export const OIDS = {
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  basicConstraints: "2.5.29.19",
  tnAuthList: "1.3.6.1.5.5.7.1.26",
} as const;

/** Curve names as WebCrypto spells them, by named-curve OIDS. */
export const NAMED_CURVES: Readonly<Record<string, "P-256" | "P-384">> = {
  [OIDS.prime256v1]: "P-256",
  [OIDS.secp384r1]: "P-384",
};

const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
};

/** A parsed X.509 v1–v3 certificate. Byte fields are views into `der`. */
export interface Certificate {
  der: Bytes;
  /** The exact bytes the issuer signed: tbsCertificate with its tag and length. */
  tbs: Bytes;
  /** DER of the issuer Name, for byte-wise matching against a subject. */
  issuer: Bytes;
  /** DER of the subject Name. */
  subject: Bytes;
  /** The subject for people, RFC 4514 style (last RDN first): "CN=SHAKEN 1234, O=Example". */
  subjectText: string;
  /** The serial number as openssl prints it: upper-case hex, without a sign byte. */
  serialHex: string;
  /** Milliseconds since the epoch. */
  notBefore: number;
  notAfter: number;
  /** DER of SubjectPublicKeyInfo, ready for `importKey("spki", …)`. */
  spki: Bytes;
  /** The named curve of an id-ecPublicKey key, when it is one WebCrypto verifies with. */
  curve: "P-256" | "P-384" | undefined;
  /** "ES256", "ES384", or the dotted OID of any other algorithm. */
  signatureAlgorithm: "ES256" | "ES384" | string;
  /**
   * ECDSA r||s, each left-padded to 32 bytes for ES256 or 48 for ES384 (48 as well when a
   * P-384 issuer signed with SHA-256 and r or s needs it); empty when not ECDSA.
   */
  signature: Bytes;
  /** basicConstraints cA is TRUE. */
  isCa: boolean;
  /** Contents of the TNAuthList extension's extnValue (RFC 8226 §9), when present. */
  tnAuthList?: Bytes;
}

/** Parses one DER certificate. Throws CertificateError("malformed") on anything not DER. */
export function parseCertificate(der: Uint8Array): Certificate {
  try {
    return parse(new Uint8Array(der));
  } catch (e) {
    if (e instanceof CertificateError) throw e;
    // Only the string decoders can get here; anything they refuse is not a valid certificate.
    throw new CertificateError("malformed", `certificate: ${String(e)}`, { cause: e });
  }
}

function parse(der: Bytes): Certificate {
  const top = new DerReader(der);
  const cert = top.enter(DerTag.SEQUENCE, "Certificate SEQUENCE");
  top.finish("the certificate");

  const tbsTlv = cert.expect(DerTag.SEQUENCE, "tbsCertificate SEQUENCE");
  const outerAlg = cert.expect(DerTag.SEQUENCE, "signatureAlgorithm");
  const signatureBits = cert.expect(DerTag.BIT_STRING, "signatureValue BIT STRING");
  cert.finish("Certificate");

  const tbs = DerReader.of(tbsTlv);
  const version = tbs.optional(DerTag.CONTEXT | 0, "version [0]");
  if (version) {
    const r = DerReader.of(version);
    const v = smallInteger(r.expect(DerTag.INTEGER, "version INTEGER"), "version");
    r.finish("version");
    if (v > 2) throw malformed(version.offset, `expected version v1, v2 or v3, found ${v + 1}`);
  }
  const serial = integerBytes(tbs.expect(DerTag.INTEGER, "serialNumber INTEGER"));
  const innerAlg = tbs.expect(DerTag.SEQUENCE, "signature AlgorithmIdentifier");
  // RFC 5280 §4.1.1.2: a mismatch would let the outer field lie about what was signed.
  if (!bytesEqual(innerAlg.raw, outerAlg.raw)) {
    throw malformed(
      innerAlg.offset,
      "expected tbsCertificate.signature to equal signatureAlgorithm, found them different",
    );
  }
  const issuer = tbs.expect(DerTag.SEQUENCE, "issuer Name");
  nameText(issuer); // validates the structure; the text itself is only wanted for the subject
  const validity = DerReader.of(tbs.expect(DerTag.SEQUENCE, "validity SEQUENCE"));
  const notBefore = decodeTime(validity.read("notBefore Time"));
  const notAfter = decodeTime(validity.read("notAfter Time"));
  validity.finish("validity");
  const subject = tbs.expect(DerTag.SEQUENCE, "subject Name");
  const spki = tbs.expect(DerTag.SEQUENCE, "subjectPublicKeyInfo SEQUENCE");
  const curve = spkiCurve(spki);
  tbs.optional(0x81, "issuerUniqueID [1]");
  tbs.optional(0x82, "subjectUniqueID [2]");
  let extensions: Extensions = { isCa: false };
  const extTlv = tbs.optional(DerTag.CONTEXT | 3, "extensions [3]");
  if (extTlv) {
    const r = DerReader.of(extTlv);
    extensions = parseExtensions(r.expect(DerTag.SEQUENCE, "Extensions SEQUENCE"));
    r.finish("extensions [3]");
  }
  tbs.finish("tbsCertificate");

  const algorithm = algorithmName(outerAlg);
  const bits = octetAlignedBits(signatureBits, "signatureValue");
  const bitsAt = signatureBits.offset + signatureBits.raw.length - bits.length;
  return {
    der,
    tbs: tbsTlv.raw,
    issuer: issuer.raw,
    subject: subject.raw,
    subjectText: nameText(subject),
    serialHex: serialText(serial),
    notBefore,
    notAfter,
    spki: spki.raw,
    curve,
    signatureAlgorithm: algorithm,
    signature: algorithm === "ES256"
      ? ecdsaDerToRaw(bits, 32, bitsAt)
      : algorithm === "ES384"
      ? ecdsaDerToRaw(bits, 48, bitsAt)
      : new Uint8Array(0),
    isCa: extensions.isCa,
    ...(extensions.tnAuthList ? { tnAuthList: extensions.tnAuthList } : {}),
  };
}

/** OID and parameters of an AlgorithmIdentifier (RFC 5280 §4.1.1.2). */
function algorithmIdentifier(tlv: Tlv): { oid: string; params?: Tlv } {
  const r = DerReader.of(tlv);
  const oid = decodeOid(r.expect(DerTag.OID, "algorithm OBJECT IDENTIFIER"));
  const params = r.atEnd ? undefined : r.read("algorithm parameters");
  r.finish("AlgorithmIdentifier");
  return { oid, params };
}

function algorithmName(tlv: Tlv): string {
  const { oid } = algorithmIdentifier(tlv);
  return oid === OIDS.ecdsaWithSha256 ? "ES256" : oid === OIDS.ecdsaWithSha384 ? "ES384" : oid;
}

function spkiCurve(spki: Tlv): "P-256" | "P-384" | undefined {
  const r = DerReader.of(spki);
  const { oid, params } = algorithmIdentifier(r.expect(DerTag.SEQUENCE, "SPKI algorithm"));
  r.expect(DerTag.BIT_STRING, "subjectPublicKey BIT STRING");
  r.finish("subjectPublicKeyInfo");
  if (oid !== OIDS.ecPublicKey || params?.tag !== DerTag.OID) return undefined;
  return NAMED_CURVES[decodeOid(params)];
}

/** Serial as openssl prints it (i2a_ASN1_INTEGER): magnitude bytes, upper-case hex. */
function serialText(v: Bytes): string {
  const magnitude = v.length > 1 && v[0] === 0 ? v.subarray(1) : v;
  return hex(magnitude).toUpperCase();
}

interface Extensions {
  isCa: boolean;
  tnAuthList?: Bytes;
}

function parseExtensions(seq: Tlv): Extensions {
  const r = DerReader.of(seq);
  const seen = new Set<string>();
  const out: Extensions = { isCa: false };
  while (!r.atEnd) {
    const ext = DerReader.of(r.expect(DerTag.SEQUENCE, "Extension SEQUENCE"));
    const idTlv = ext.expect(DerTag.OID, "extnID OBJECT IDENTIFIER");
    const id = decodeOid(idTlv);
    const critical = ext.optional(DerTag.BOOLEAN, "critical BOOLEAN");
    if (critical) decodeBoolean(critical, "critical");
    const value = ext.expect(DerTag.OCTET_STRING, "extnValue OCTET STRING");
    ext.finish("Extension");
    // RFC 5280 §4.2: at most one instance of each; two could disagree on what they grant.
    if (seen.has(id)) throw malformed(idTlv.offset, `expected one extension ${id}, found two`);
    seen.add(id);
    if (id === OIDS.basicConstraints) out.isCa = basicConstraintsCa(value);
    else if (id === OIDS.tnAuthList) out.tnAuthList = value.value;
  }
  return out;
}

function basicConstraintsCa(extnValue: Tlv): boolean {
  const outer = DerReader.of(extnValue);
  const r = outer.enter(DerTag.SEQUENCE, "BasicConstraints SEQUENCE");
  outer.finish("basicConstraints extnValue");
  const ca = r.optional(DerTag.BOOLEAN, "cA BOOLEAN");
  const pathLen = r.optional(DerTag.INTEGER, "pathLenConstraint INTEGER");
  if (pathLen) integerBytes(pathLen);
  r.finish("BasicConstraints");
  return ca ? decodeBoolean(ca, "cA") : false;
}

/** UTCTime or GeneralizedTime in the RFC 5280 §4.1.2.5 forms, as ms since the epoch. */
function decodeTime(tlv: Tlv): number {
  // Checked before decoding so a hostile length cannot make a huge string.
  const text = tlv.value.length <= 15 ? latin1(tlv.value) : `${tlv.value.length} bytes`;
  let year: number;
  let rest: string;
  if (tlv.tag === DerTag.UTC_TIME && /^\d{12}Z$/.test(text)) {
    // §4.1.2.5.1: YY >= 50 is 19YY, else 20YY.
    const yy = Number(text.slice(0, 2));
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = text.slice(2);
  } else if (tlv.tag === DerTag.GENERALIZED_TIME && /^\d{14}Z$/.test(text)) {
    year = Number(text.slice(0, 4));
    rest = text.slice(4);
  } else {
    throw malformed(
      tlv.offset,
      "expected UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, found " +
        `tag ${tagName(tlv.tag)} '${text.replace(/[^ -~]/g, "?").slice(0, 20)}'`,
    );
  }
  const [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map((i) =>
    Number(rest.slice(i, i + 2))
  );
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  // Date rolls 31 February over into March; a real time reads back unchanged.
  if (
    month < 1 || month > 12 || date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 ||
    minute > 59 || second > 59
  ) {
    throw malformed(tlv.offset, `expected a valid date and time, found '${text}'`);
  }
  return date.getTime();
}

/** RFC 4514-style text of a Name; throws on a structurally bad one. */
function nameText(name: Tlv): string {
  const rdns: string[] = [];
  const r = DerReader.of(name);
  while (!r.atEnd) {
    const set = r.enter(DerTag.SET, "RelativeDistinguishedName SET");
    const parts: string[] = [];
    do {
      const atv = set.enter(DerTag.SEQUENCE, "AttributeTypeAndValue SEQUENCE");
      const type = decodeOid(atv.expect(DerTag.OID, "attribute type OBJECT IDENTIFIER"));
      const value = atv.read("attribute value");
      atv.finish("AttributeTypeAndValue");
      parts.push(`${ATTRIBUTE_NAMES[type] ?? type}=${attributeValueText(value)}`);
    } while (!set.atEnd);
    rdns.push(parts.join("+"));
  }
  return rdns.reverse().join(", ");
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function attributeValueText(tlv: Tlv): string {
  const v = tlv.value;
  switch (tlv.tag) {
    case DerTag.UTF8_STRING:
      return escapeRfc4514(utf8.decode(v));
    case DerTag.PRINTABLE_STRING:
    case DerTag.IA5_STRING:
    case DerTag.TELETEX_STRING:
    case 0x12: // NumericString
    case 0x1a: // VisibleString
      return escapeRfc4514(latin1(v));
    case DerTag.BMP_STRING:
      return escapeRfc4514(codeUnits(tlv, 2));
    case DerTag.UNIVERSAL_STRING:
      return escapeRfc4514(codeUnits(tlv, 4));
    default:
      return `#${hex(tlv.raw)}`;
  }
}

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

/** BMPString (UTF-16BE) or UniversalString (UTF-32BE). */
function codeUnits(tlv: Tlv, width: 2 | 4): string {
  const v = tlv.value;
  if (v.length % width !== 0) {
    throw malformed(tlv.offset, `expected a multiple of ${width} bytes, found ${v.length}`);
  }
  let out = "";
  for (let i = 0; i < v.length; i += width) {
    let cp = 0;
    for (let j = 0; j < width; j++) cp = cp * 256 + v[i + j];
    if (cp > 0x10ffff) throw malformed(tlv.offset, `expected a Unicode code point, found ${cp}`);
    out += width === 2 ? String.fromCharCode(cp) : String.fromCodePoint(cp);
  }
  return out;
}

function escapeRfc4514(s: string): string {
  return s
    .replace(/[\\",+;<>]/g, (c) => `\\${c}`)
    // deno-lint-ignore no-control-regex -- control characters are exactly what gets escaped
    .replace(/[\x00-\x1f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, "\\ ");
}

/**
 * DER ECDSA-Sig-Value SEQUENCE{r, s} (RFC 5480 §2.2 / RFC 3279 §2.2.3) to WebCrypto's r||s.
 * `width` is the hash's natural size; a larger issuer curve widens it so nothing is lost.
 */
function ecdsaDerToRaw(bits: Bytes, width: number, offset: number): Bytes {
  const outer = new DerReader(bits, offset);
  const seq = outer.enter(DerTag.SEQUENCE, "ECDSA-Sig-Value SEQUENCE");
  outer.finish("signatureValue");
  const r = unsignedMagnitude(seq.expect(DerTag.INTEGER, "ECDSA r INTEGER"));
  const s = unsignedMagnitude(seq.expect(DerTag.INTEGER, "ECDSA s INTEGER"));
  seq.finish("ECDSA-Sig-Value");
  const longest = Math.max(r.length, s.length);
  const w = [32, 48, 66].find((n) => n >= width && n >= longest);
  if (w === undefined) {
    throw malformed(offset, `expected ECDSA r and s of at most 66 bytes, found ${longest}`);
  }
  const out = new Uint8Array(2 * w);
  out.set(r, w - r.length);
  out.set(s, 2 * w - s.length);
  return out;
}

function unsignedMagnitude(tlv: Tlv): Bytes {
  const v = integerBytes(tlv);
  if (v[0] >= 0x80) {
    throw malformed(tlv.offset, "expected a positive ECDSA r and s, found negative");
  }
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return v.subarray(i);
}

/** r||s of any width re-cut to `width` bytes each, or undefined if a value does not fit. */
function resizeSignature(sig: Bytes, width: number): Bytes | undefined {
  const half = sig.length / 2;
  if (half === width) return sig;
  const out = new Uint8Array(2 * width);
  for (const [from, to] of [[0, 0], [half, width]]) {
    let i = from;
    while (i < from + half && sig[i] === 0) i++;
    const len = from + half - i;
    if (len > width) return undefined;
    out.set(sig.subarray(i, from + half), to + width - len);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Keys and chains

const keyCache = new WeakMap<Certificate, Promise<CryptoKey>>();

/** The certificate's EC P-256/P-384 public key, for ECDSA verify. */
export function publicKeyOf(cert: Certificate): Promise<CryptoKey> {
  let key = keyCache.get(cert);
  if (!key) {
    key = importPublicKey(cert);
    keyCache.set(cert, key);
  }
  return key;
}

async function importPublicKey(cert: Certificate): Promise<CryptoKey> {
  if (!cert.curve) {
    throw new CertificateError(
      "unsupported-key",
      `expected an EC P-256 or P-384 public key in '${cert.subjectText}', found ` +
        describeKey(cert.spki),
    );
  }
  try {
    return await crypto.subtle.importKey(
      "spki",
      cert.spki,
      { name: "ECDSA", namedCurve: cert.curve },
      false,
      ["verify"],
    );
  } catch (e) {
    throw new CertificateError(
      "malformed",
      `expected a valid ${cert.curve} point in '${cert.subjectText}', WebCrypto refused it: ` +
        String(e),
      { cause: e },
    );
  }
}

const KEY_ALGORITHMS: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.1": "an RSA key",
  "1.2.840.10040.4.1": "a DSA key",
  "1.3.101.112": "an Ed25519 key",
  "1.3.101.113": "an Ed448 key",
};

function describeKey(spki: Bytes): string {
  const r = new DerReader(spki);
  const { oid, params } = algorithmIdentifier(
    r.enter(DerTag.SEQUENCE, "SPKI").expect(DerTag.SEQUENCE, "SPKI algorithm"),
  );
  if (oid === OIDS.ecPublicKey) {
    return params?.tag === DerTag.OID
      ? `an EC key on curve ${decodeOid(params)}`
      : "an EC key with explicit curve parameters";
  }
  return KEY_ALGORITHMS[oid] ?? `a key of algorithm ${oid}`;
}

const MAX_PATH = 8;

function checkValidity(cert: Certificate, now: number): void {
  if (now < cert.notBefore) {
    throw new CertificateError(
      "not-yet-valid",
      `'${cert.subjectText}' is valid from ${new Date(cert.notBefore).toISOString()}, ` +
        `it is ${new Date(now).toISOString()}`,
    );
  }
  if (now > cert.notAfter) {
    throw new CertificateError(
      "expired",
      `'${cert.subjectText}' expired at ${new Date(cert.notAfter).toISOString()}, ` +
        `it is ${new Date(now).toISOString()}`,
    );
  }
}

function checkIssuer(issuer: Certificate, now: number): void {
  checkValidity(issuer, now);
  if (!issuer.isCa) {
    throw new CertificateError(
      "not-ca",
      `expected issuer '${issuer.subjectText}' to have basicConstraints cA TRUE, found it not a CA`,
    );
  }
}

/** Whether `issuer`'s key made `cert`'s signature; undefined when that cannot be checked. */
async function signedBy(cert: Certificate, issuer: Certificate): Promise<boolean | undefined> {
  let key: CryptoKey;
  try {
    key = await publicKeyOf(issuer);
  } catch {
    return undefined;
  }
  const width = issuer.curve === "P-384" ? 48 : 32;
  const sig = resizeSignature(cert.signature, width);
  if (!sig) return false;
  const hash = cert.signatureAlgorithm === "ES384" ? "SHA-384" : "SHA-256";
  try {
    return await crypto.subtle.verify({ name: "ECDSA", hash }, key, sig, cert.tbs);
  } catch {
    return false;
  }
}

function isAnchor(cert: Certificate, anchors: Certificate[]): boolean {
  return anchors.some((a) =>
    bytesEqual(a.der, cert.der) ||
    (bytesEqual(a.subject, cert.subject) && bytesEqual(a.spki, cert.spki))
  );
}

/**
 * Verifies `chain` (leaf first, then intermediates in any order, as an x5u URL serves them) up to
 * one of `anchors` at time `now` (ms). Returns the leaf; throws CertificateError otherwise.
 *
 * Greedy, without backtracking: at each step the first issuer whose name and signature match
 * and which is itself acceptable is taken, anchors first. That bounds the work a hostile chain
 * can cause to MAX_PATH × candidates signature checks.
 */
export async function verifyChain(
  chain: Certificate[],
  anchors: Certificate[],
  now: number,
): Promise<Certificate> {
  const leaf = chain[0];
  if (!leaf) throw new CertificateError("untrusted", "expected a leaf certificate, found none");
  checkValidity(leaf, now);
  if (isAnchor(leaf, anchors)) return leaf;

  const path = [leaf];
  const pool = [...anchors, ...chain.slice(1)];
  let current = leaf;
  while (path.length < MAX_PATH) {
    const candidates = pool.filter((c) =>
      bytesEqual(c.subject, current.issuer) && !path.some((p) => bytesEqual(p.der, c.der))
    );
    if (candidates.length === 0) break;
    if (current.signatureAlgorithm !== "ES256" && current.signatureAlgorithm !== "ES384") {
      throw new CertificateError(
        "unsupported-algorithm",
        `expected '${current.subjectText}' signed with ES256 or ES384, found ` +
          current.signatureAlgorithm,
      );
    }
    let issuer: Certificate | undefined;
    let firstRefusal: CertificateError | undefined;
    let badSignature = false;
    for (const candidate of candidates) {
      const ok = await signedBy(current, candidate);
      if (ok === false) badSignature = true;
      if (!ok) continue;
      try {
        checkIssuer(candidate, now);
        issuer = candidate;
        break;
      } catch (e) {
        if (!(e instanceof CertificateError)) throw e;
        firstRefusal ??= e;
      }
    }
    if (!issuer) {
      if (firstRefusal) throw firstRefusal;
      throw new CertificateError(
        badSignature ? "bad-signature" : "unsupported-key",
        badSignature
          ? `expected '${current.subjectText}' signed by its issuer's key, the signature of ` +
            `${candidates.length} issuer(s) named '${candidates[0].subjectText}' did not verify`
          : `expected an EC P-256 or P-384 key in issuer '${candidates[0].subjectText}', ` +
            `found ${describeKey(candidates[0].spki)}`,
      );
    }
    if (isAnchor(issuer, anchors)) return leaf;
    path.push(issuer);
    current = issuer;
  }
  throw new CertificateError(
    "untrusted",
    path.length >= MAX_PATH
      ? `expected a trust anchor within ${MAX_PATH} certificates of '${leaf.subjectText}', found none`
      : `expected an issuer named '${issuerText(current)}' for '${current.subjectText}' among ` +
        `${chain.length - 1} intermediate(s) and ${anchors.length} anchor(s), found none`,
  );
}

function issuerText(cert: Certificate): string {
  try {
    return nameText(new DerReader(cert.issuer).read("issuer Name"));
  } catch {
    return "?";
  }
}

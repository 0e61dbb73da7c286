// RFC 8225 PASSporT with the RFC 8588 SHAKEN extension, carried in the RFC 8224 Identity header
// field (full form): building the signing input a signer signs, and taking a received header
// apart into what a verifier checks. Pure: no keys, no I/O.

/** RFC 8588 §4: how much the signing provider knows about the caller and its number. */
export type Attestation = "A" | "B" | "C";

export const ATTESTATIONS: readonly Attestation[] = ["A", "B", "C"];

/** The claims of a SHAKEN PASSporT (RFC 8225 §5, RFC 8588 §5). */
export interface ShakenClaims {
  attest: Attestation;
  /** Canonical calling number (RFC 8224 §8.3). */
  orig: string;
  /** Canonical called numbers. */
  dest: string[];
  /** Seconds since the epoch. */
  iat: number;
  /** An opaque id of where the call entered the signer's network (a UUID). */
  origid: string;
}

/** A received PASSporT, taken apart but not yet trusted. */
export interface ReceivedPassport {
  claims: ShakenClaims;
  /** The header's `x5u` (and the Identity header's `info`): where the signer's certificate is. */
  x5u: string;
  /** The text the signature covers: base64url(header) "." base64url(payload). */
  signingInput: string;
  /** ES256: raw r||s, 64 bytes. */
  signature: Uint8Array<ArrayBuffer>;
}

/**
 * Why a received Identity header cannot be used, with the answer RFC 8224 §6.2.2 gives for it:
 * 438 Invalid Identity Header, 437 Unsupported Credential, 436 Bad Identity Info, 403 Stale Date.
 */
export class IdentityError extends Error {
  constructor(readonly status: 403 | 436 | 437 | 438, readonly reason: string, detail: string) {
    super(`${status} ${reason}: ${detail}`);
    this.name = "IdentityError";
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** RFC 7515 §2 base64url without padding. */
export function base64url(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The bytes of base64url text; undefined for text that is not base64url. */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - text.length % 4) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * RFC 8225 §9: the JSON of a PASSporT with its keys in lexicographic order and no white space, so
 * that what is signed does not depend on how an object was built.
 */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** The text an ES256 signature covers for these claims (RFC 7515 §5.1 step 5). */
export function signingInput(claims: ShakenClaims, x5u: string): string {
  const header = { alg: "ES256", ppt: "shaken", typ: "passport", x5u };
  const payload = {
    attest: claims.attest,
    dest: { tn: claims.dest },
    iat: claims.iat,
    orig: { tn: claims.orig },
    origid: claims.origid,
  };
  return `${base64url(enc.encode(canonicalJson(header)))}.${
    base64url(enc.encode(canonicalJson(payload)))
  }`;
}

/** The Identity header field value for a signed PASSporT (RFC 8224 §4.1, RFC 8588 §6). */
export function identityValue(input: string, signature: Uint8Array, x5u: string): string {
  return `${input}.${base64url(signature)};info=<${x5u}>;alg=ES256;ppt=shaken`;
}

/** The ppt of an Identity header value (its `ppt` parameter), lowercased; "" when absent. */
export function identityPpt(value: string): string {
  const semi = value.indexOf(";");
  if (semi < 0) return "";
  return params(value.slice(semi + 1)).get("ppt") ?? "";
}

/**
 * Take an Identity header value apart (RFC 8224 §4.1) and check its form: a full-form ES256
 * SHAKEN PASSporT whose x5u is the header's `info`. Throws IdentityError; trusts nothing yet.
 */
export function parseIdentity(value: string): ReceivedPassport {
  const semi = value.indexOf(";");
  const token = (semi < 0 ? value : value.slice(0, semi)).trim();
  const p = params(semi < 0 ? "" : value.slice(semi + 1));
  const parts = token.split(".");
  if (parts.length !== 3) throw invalid("a PASSporT of three base64url parts");
  if (parts[1] === "") {
    // Compact form (RFC 8224 §4.1): the claims would be rebuilt from the request; SHAKEN
    // networks send the full form, and only it is taken.
    throw new IdentityError(438, "Invalid Identity Header", "compact form not supported");
  }
  const info = p.get("info");
  if (!info || !info.startsWith("<") || !info.endsWith(">")) {
    throw new IdentityError(436, "Bad Identity Info", "no info=<URI> parameter");
  }
  const alg = p.get("alg");
  if (alg !== undefined && alg !== "es256") {
    throw new IdentityError(437, "Unsupported Credential", `alg ${alg}, not ES256`);
  }
  const ppt = p.get("ppt");
  if (ppt !== undefined && ppt !== "shaken") {
    throw new IdentityError(438, "Invalid Identity Header", `ppt ${ppt}, not shaken`);
  }
  const header = jsonPart(parts[0], "header");
  const payload = jsonPart(parts[1], "payload");
  const signature = fromBase64url(parts[2]);
  if (!signature || signature.length !== 64) throw invalid("an ES256 signature of 64 bytes");
  if (header.alg !== "ES256") {
    throw new IdentityError(437, "Unsupported Credential", `alg ${String(header.alg)}`);
  }
  if (header.ppt !== "shaken") throw invalid(`ppt "shaken" in the header`);
  if (header.typ !== undefined && header.typ !== "passport") throw invalid(`typ "passport"`);
  const x5u = header.x5u;
  if (typeof x5u !== "string" || x5u === "") throw invalid("an x5u in the header");
  // RFC 8588 §6 / ATIS-1000074: the certificate named in the PASSporT is the one info names.
  if (x5u !== info.slice(1, -1)) throw invalid("x5u equal to the info parameter");
  return {
    claims: shakenClaims(payload),
    x5u,
    signingInput: `${parts[0]}.${parts[1]}`,
    signature,
  };
}

function shakenClaims(p: Record<string, unknown>): ShakenClaims {
  const attest = p.attest;
  if (typeof attest !== "string" || !ATTESTATIONS.includes(attest as Attestation)) {
    throw invalid("attest A, B or C");
  }
  const orig = (p.orig as Record<string, unknown> | undefined)?.tn;
  if (typeof orig !== "string") throw invalid("orig.tn, a telephone number");
  const dest = (p.dest as Record<string, unknown> | undefined)?.tn;
  if (!Array.isArray(dest) || dest.length === 0 || !dest.every((d) => typeof d === "string")) {
    throw invalid("dest.tn, a list of telephone numbers");
  }
  const iat = p.iat;
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw invalid("iat, a number");
  const origid = p.origid;
  if (typeof origid !== "string" || origid === "") throw invalid("origid");
  return { attest: attest as Attestation, orig, dest: dest as string[], iat, origid };
}

function jsonPart(text: string, what: string): Record<string, unknown> {
  const bytes = fromBase64url(text);
  if (!bytes) throw invalid(`a base64url ${what}`);
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(bytes));
  } catch {
    throw invalid(`a JSON ${what}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw invalid(`a JSON object ${what}`);
  }
  return v as Record<string, unknown>;
}

/**
 * `;name=value` parameters, names and token values lowercased; an angle-bracketed value (info's
 * URI) is taken whole, whatever ";" it holds, and keeps its case.
 */
function params(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    let end = text.indexOf(";", i);
    if (end < 0) end = text.length;
    const eq = text.indexOf("=", i);
    if (eq >= 0 && eq < end && text.slice(eq + 1).trimStart().startsWith("<")) {
      const close = text.indexOf(">", eq);
      if (close >= 0) {
        end = text.indexOf(";", close);
        if (end < 0) end = text.length;
      }
    }
    const raw = text.slice(i, end);
    i = end + 1;
    const at = raw.indexOf("=");
    const name = (at < 0 ? raw : raw.slice(0, at)).trim().toLowerCase();
    if (!name) continue;
    let v = at < 0 ? "" : raw.slice(at + 1).trim();
    if (v.startsWith("<")) {
      out.set(name, v);
      continue;
    }
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    out.set(name, v.toLowerCase());
  }
  return out;
}

function invalid(expected: string): IdentityError {
  return new IdentityError(438, "Invalid Identity Header", `expected ${expected}`);
}

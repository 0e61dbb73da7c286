// The `stir_shaken` section and a rule's `stir_shaken`: the signing key and certificate URL, the
// trusted STI-CAs, read and checked at load so that a key that is not EC P-256 or an expired CA
// stops Tandem before it places a call it cannot sign.

import { createPrivateKey } from "node:crypto";
import type { KeyPath } from "./locate.ts";
import type { Reader } from "./reader.ts";
import type { Attestation, RuleStirShaken, StirShakenConfig } from "./types.ts";
import { certificates, fileOf, firstLine, readPem } from "./validate-tls.ts";

const ATTEST = ["A", "B", "C"] as const;
const MODES = ["off", "mark", "reject", "require"] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validate `stir_shaken`; undefined when absent or broken (the issues say why). */
export function readStirShaken(
  r: Reader,
  v: unknown,
  now = new Date(),
): StirShakenConfig | undefined {
  if (v === undefined) return undefined;
  const path: KeyPath = ["stir_shaken"];
  const m = r.map(v, path, ["sign", "verify"]);
  if (!m) return undefined;
  if (m.sign === undefined && m.verify === undefined) {
    return r.fail(path, "sign, verify or both", "neither");
  }
  // Both read before giving up, so that one run names every mistake.
  const sign = m.sign === undefined ? undefined : readSign(r, m.sign, [...path, "sign"]);
  const verify = m.verify === undefined
    ? undefined
    : readVerify(r, m.verify, [...path, "verify"], now);
  if ((m.sign !== undefined && !sign) || (m.verify !== undefined && !verify)) return undefined;
  const out: StirShakenConfig = {};
  if (sign) out.sign = sign;
  if (verify) out.verify = verify;
  return out;
}

function readSign(r: Reader, v: unknown, path: KeyPath): StirShakenConfig["sign"] {
  const m = r.map(v, path, ["key", "x5u", "attest"]);
  if (!m) return undefined;
  const keyFile = m.key === undefined
    ? r.fail([...path, "key"], "a PEM file with an EC P-256 private key", undefined)
    : fileOf(r, m.key, [...path, "key"]);
  const key = keyFile && readPem(r, keyFile, [...path, "key"]);
  const keyOk = key !== undefined && p256Key(r, key, keyFile!, [...path, "key"]);
  const x5u = m.x5u === undefined
    ? r.fail([...path, "x5u"], "the https URL of the signing certificate", undefined)
    : url(r, m.x5u, [...path, "x5u"]);
  const attest = m.attest === undefined
    ? undefined
    : r.oneOf(m.attest, [...path, "attest"], ATTEST);
  if (!keyOk || !x5u || (m.attest !== undefined && !attest)) return undefined;
  return { keyFile: keyFile!, key: key!, x5u, ...(attest ? { attest } : {}) };
}

function readVerify(
  r: Reader,
  v: unknown,
  path: KeyPath,
  now: Date,
): StirShakenConfig["verify"] {
  const m = r.map(v, path, ["mode", "ca", "max_age", "fetch_timeout", "cache", "allow_http"]);
  if (!m) return undefined;
  const mode = m.mode === undefined ? "mark" : r.oneOf(m.mode, [...path, "mode"], MODES);
  const caFile = m.ca === undefined
    ? r.fail([...path, "ca"], "a PEM file with the trusted STI-CA certificates", undefined)
    : fileOf(r, m.ca, [...path, "ca"]);
  const ca = caFile && readPem(r, caFile, [...path, "ca"]);
  const caOk = ca !== undefined && certificates(r, ca, caFile!, [...path, "ca"], now).length > 0;
  const maxAge = m.max_age === undefined
    ? 60_000
    : r.duration(m.max_age, [...path, "max_age"], 1000, 86_400_000);
  const fetchTimeout = m.fetch_timeout === undefined
    ? 2000
    : r.duration(m.fetch_timeout, [...path, "fetch_timeout"], 100, 30_000);
  const cacheTtl = m.cache === undefined
    ? 3_600_000
    : r.duration(m.cache, [...path, "cache"], 0, 7 * 86_400_000);
  const allowHttp = m.allow_http === undefined
    ? false
    : r.bool(m.allow_http, [...path, "allow_http"]);
  if (
    !mode || !caOk || maxAge === undefined || fetchTimeout === undefined ||
    cacheTtl === undefined || allowHttp === undefined
  ) return undefined;
  return { mode, caFile: caFile!, ca: ca!, maxAge, fetchTimeout, cacheTtl, allowHttp };
}

/** ES256 (RFC 8588 §6) needs a P-256 key; anything else is refused here, not at the first call. */
function p256Key(r: Reader, pem: string, file: string, path: KeyPath): boolean {
  try {
    const k = createPrivateKey(pem);
    const curve = k.asymmetricKeyDetails?.namedCurve;
    if (k.asymmetricKeyType === "ec" && (curve === "prime256v1" || curve === "P-256")) return true;
    r.fail(
      path,
      "an EC P-256 private key (ES256)",
      `${file}: ${k.asymmetricKeyType}${curve ? ` ${curve}` : ""}`,
      true,
    );
  } catch (e) {
    r.fail(path, "a PEM private key", `${file}: ${firstLine(e)}`, true);
  }
  return false;
}

function url(r: Reader, v: unknown, path: KeyPath): string | undefined {
  const s = r.sipText(v, path);
  if (s === undefined) return undefined;
  try {
    const u = new URL(s);
    if (u.protocol === "https:" || u.protocol === "http:") return s;
  } catch {
    // reported below
  }
  return r.fail(path, "an http(s) URL", s);
}

/** Validate a rule's `stir_shaken`: attest (A, B, C, none), origid (a UUID), verify mode. */
export function readRuleStirShaken(
  r: Reader,
  v: unknown,
  path: KeyPath,
): RuleStirShaken | undefined {
  const m = r.map(v, path, ["attest", "origid", "verify"]);
  if (!m) return undefined;
  const out: RuleStirShaken = {};
  if (m.attest !== undefined) {
    const a = r.oneOf(m.attest, [...path, "attest"], [...ATTEST, "none"] as const);
    if (a) out.attest = a as Attestation | "none";
  }
  if (m.origid !== undefined) {
    const o = r.str(m.origid, [...path, "origid"]);
    if (o !== undefined && UUID.test(o)) out.origid = o.toLowerCase();
    else if (o !== undefined) r.fail([...path, "origid"], "a UUID", o);
  }
  if (m.verify !== undefined) {
    const mode = r.oneOf(m.verify, [...path, "verify"], MODES);
    if (mode) out.verify = mode;
  }
  return out;
}

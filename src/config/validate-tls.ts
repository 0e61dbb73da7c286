// The `sip.tls` section: the certificate, key and trusted CAs TLS listeners and connections use
// (RFC 3261 §26.2), read and checked at load so that a missing file, a key that does not belong
// to the certificate or an expired certificate stops Tandem before it binds, naming the key.
// Relative paths are relative to the configuration file.

import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { KeyPath } from "./locate.ts";
import type { RawMap, Reader } from "./reader.ts";
import type { CertAndKey, TlsConfig } from "./types.ts";

const TLS_KEYS = ["cert", "key", "ca", "verify_server", "verify_client"];
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Validate `sip.tls`; undefined when absent or broken (the issues say why). */
export function readTls(r: Reader, v: unknown, now = new Date()): TlsConfig | undefined {
  const path: KeyPath = ["sip", "tls"];
  const m = r.map(v, path, TLS_KEYS);
  if (!m) return undefined;
  const pair = certAndKey(r, m, path, now);
  const caFile = m.ca === undefined ? undefined : fileOf(r, m.ca, [...path, "ca"]);
  const ca = caFile && readPem(r, caFile, [...path, "ca"]);
  let ok = pair !== undefined && (caFile === undefined || ca !== undefined);
  if (ca && certificates(r, ca, caFile!, [...path, "ca"], now).length === 0) ok = false;
  const verifyServer = m.verify_server === undefined
    ? true
    : r.bool(m.verify_server, [...path, "verify_server"]);
  const verifyClient = m.verify_client === undefined
    ? false
    : r.bool(m.verify_client, [...path, "verify_client"]);
  if (verifyServer === undefined || verifyClient === undefined || !ok) return undefined;
  return { ...pair!, ...(caFile ? { caFile, ca } : {}), verifyServer, verifyClient };
}

/** Validate `http.tls`: the HTTPS certificate and key of the HTTP API. */
export function readHttpTls(r: Reader, v: unknown, now = new Date()): CertAndKey | undefined {
  const path: KeyPath = ["http", "tls"];
  const m = r.map(v, path, ["cert", "key"]);
  return m ? certAndKey(r, m, path, now) : undefined;
}

/**
 * The `cert` and `key` files of a TLS section, read and checked: the certificates parse and are
 * valid now, the key parses and is the first certificate's.
 */
function certAndKey(r: Reader, m: RawMap, path: KeyPath, now: Date): CertAndKey | undefined {
  for (const k of ["cert", "key"]) {
    if (m[k] === undefined) r.fail([...path, k], "a PEM file path", undefined);
  }
  const certFile = m.cert === undefined ? undefined : fileOf(r, m.cert, [...path, "cert"]);
  const keyFile = m.key === undefined ? undefined : fileOf(r, m.key, [...path, "key"]);
  const cert = certFile && readPem(r, certFile, [...path, "cert"]);
  const key = keyFile && readPem(r, keyFile, [...path, "key"]);
  let ok = cert !== undefined && key !== undefined;
  const leaf = cert ? certificates(r, cert, certFile!, [...path, "cert"], now)[0] : undefined;
  if (cert && !leaf) ok = false;
  if (key) {
    try {
      const k = createPrivateKey(key);
      if (leaf && !leaf.checkPrivateKey(k)) {
        r.fail([...path, "key"], `the private key of ${certFile}`, `${keyFile}, another key`, true);
        ok = false;
      }
    } catch (e) {
      r.fail([...path, "key"], "a PEM private key", `${keyFile}: ${firstLine(e)}`, true);
      ok = false;
    }
  }
  if (!ok) return undefined;
  return {
    certFile: certFile!,
    keyFile: keyFile!,
    cert: cert!,
    key: key!,
    notAfter: new Date(leaf!.validTo).getTime(),
  };
}

export function fileOf(r: Reader, v: unknown, path: KeyPath): string | undefined {
  const s = r.str(v, path);
  if (s === undefined) return undefined;
  if (s === "") return r.fail(path, "a file path", s);
  // The embedded default configuration has no directory: its paths are the working directory's.
  const base = r.file.startsWith("<") ? "." : dirname(r.file);
  return isAbsolute(s) ? s : resolve(base, s);
}

export function readPem(
  r: Reader,
  file: string,
  path: KeyPath,
  expected = "a readable PEM file",
): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    return r.fail(path, expected, `${file}: ${firstLine(e)}`, true);
  }
}

/** The certificates in a PEM bundle, checked to parse and to be valid now. */
export function certificates(
  r: Reader,
  pem: string,
  file: string,
  path: KeyPath,
  now: Date,
): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    r.fail(path, "a PEM certificate (-----BEGIN CERTIFICATE-----)", `${file} without one`, true);
    return [];
  }
  const out: X509Certificate[] = [];
  for (const b of blocks) {
    let c: X509Certificate;
    try {
      c = new X509Certificate(b);
    } catch (e) {
      r.fail(path, "PEM certificates", `${file}: ${firstLine(e)}`, true);
      return [];
    }
    const from = new Date(c.validFrom);
    const to = new Date(c.validTo);
    if (now < from || now > to) {
      r.fail(
        path,
        "a certificate valid now",
        `${file}: "${c.subject.replace(/\n/g, ", ")}" valid ${c.validFrom} to ${c.validTo}`,
        true,
      );
      return [];
    }
    out.push(c);
  }
  return out;
}

export function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0];
}

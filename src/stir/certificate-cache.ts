// RFC 8224 §6.2.4 and ATIS-1000074 §5.3.1: a verifier fetches the signer's certificate from the
// PASSporT's x5u URL, checks its path to a trusted STI-CA, and keeps the result: the same few
// carriers sign most calls, and a fetch per call would cost a round trip and hammer them.

import type { KeyObject } from "node:crypto";
import { parseTnAuthList, type TnAuthList } from "./tn-auth-list.ts";
import { es256PublicKey } from "./keys.ts";
import { IdentityError } from "./passport.ts";
import {
  type Certificate,
  CertificateError,
  parseCertificate,
  pemBlocks,
  verifyChain,
} from "./x509.ts";

export interface CertificateCacheOptions {
  /** Trusted STI-CA certificates. */
  anchors: Certificate[];
  /** ms a fetch may take. */
  timeout: number;
  /** ms a certificate is kept after it was fetched (never past its notAfter). */
  ttl: number;
  /** Whether http: URLs are fetched too (ATIS wants https; a lab may not have it). */
  allowHttp: boolean;
  /** Wall-clock ms. */
  now: () => number;
  fetch?: typeof fetch;
}

/** A certificate body larger than this is not a SHAKEN certificate chain. */
const MAX_BYTES = 64 * 1024;
/** How many URLs are remembered; the oldest goes first past this. */
const MAX_ENTRIES = 1000;
/** A URL that failed is not fetched again for this long (ms): a dead server is not hammered. */
const FAILED_TTL = 30_000;
/**
 * Fetches in flight at once. Each INVITE can name any URL: a flood of them naming fresh ones
 * must not open a connection apiece; past this a new URL fails at once (436) and is not cached.
 */
const MAX_FETCHES = 16;

interface Entry {
  expires: number;
  credential: Promise<Credential>;
}

/** A signer's certificate as checked: its key, and the numbers it may sign for. */
export interface Credential {
  key: KeyObject;
  authority: TnAuthList;
}

/** Verified public keys of signers' certificates, by x5u URL. */
export class CertificateCache {
  private readonly entries = new Map<string, Entry>();
  private readonly fetchFn: typeof fetch;
  private fetching = 0;

  constructor(private readonly opts: CertificateCacheOptions) {
    this.fetchFn = opts.fetch ?? fetch;
  }

  /** The public key of the certificate at `url` (see {@link credential}). */
  async key(url: string): Promise<KeyObject> {
    return (await this.credential(url)).key;
  }

  /**
   * The public key of the certificate at `url` and its TNAuthList, its path to a trusted STI-CA
   * checked. Throws IdentityError: 436 when it cannot be fetched or parsed, 437 when it is not
   * trusted or not a STIR certificate.
   */
  credential(url: string): Promise<Credential> {
    const now = this.opts.now();
    const hit = this.entries.get(url);
    if (hit && hit.expires > now) return hit.credential;
    if (hit) this.entries.delete(url);
    if (this.fetching >= MAX_FETCHES) {
      return Promise.reject(
        new IdentityError(436, "Bad Identity Info", `${url}: ${MAX_FETCHES} fetches in flight`),
      );
    }
    const entry: Entry = {
      expires: now + this.opts.ttl,
      credential: Promise.resolve(undefined!),
    };
    entry.credential = this.load(url, now).then(
      ({ notAfter, ...credential }) => {
        entry.expires = Math.min(entry.expires, notAfter);
        return credential;
      },
      (err) => {
        entry.expires = Math.min(entry.expires, this.opts.now() + FAILED_TTL);
        throw err;
      },
    );
    // A caller that never awaits (the call went away) must not leave an unhandled rejection.
    entry.credential.catch(() => {});
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(url, entry);
    return entry.credential;
  }

  /** How many URLs are cached (for metrics). */
  get size(): number {
    return this.entries.size;
  }

  private async load(url: string, now: number): Promise<Credential & { notAfter: number }> {
    let pem: string;
    this.fetching++;
    try {
      pem = await this.download(url);
    } finally {
      this.fetching--;
    }
    let chain: Certificate[];
    try {
      chain = pemBlocks(pem).map(parseCertificate);
    } catch (e) {
      throw new IdentityError(436, "Bad Identity Info", `${url}: ${(e as Error).message}`);
    }
    if (chain.length === 0) {
      throw new IdentityError(436, "Bad Identity Info", `${url}: no PEM certificate`);
    }
    let leaf: Certificate;
    try {
      leaf = await verifyChain(chain, this.opts.anchors, now);
    } catch (e) {
      if (e instanceof CertificateError) {
        throw new IdentityError(437, "Unsupported Credential", `${url}: ${e.message}`);
      }
      throw e;
    }
    if (leaf.curve !== "P-256") {
      throw new IdentityError(437, "Unsupported Credential", `${url}: not an EC P-256 key`);
    }
    // ATIS-1000080 §5.3.1: a SHAKEN certificate names the numbers or the provider it speaks for
    // (TNAuthList); one without is a certificate for something else.
    if (!leaf.tnAuthList) {
      throw new IdentityError(437, "Unsupported Credential", `${url}: no TNAuthList extension`);
    }
    let authority: TnAuthList;
    try {
      authority = parseTnAuthList(leaf.tnAuthList);
    } catch (e) {
      throw new IdentityError(437, "Unsupported Credential", `${url}: ${(e as Error).message}`);
    }
    // The path is checked once (WebCrypto); each call's signature with node:crypto (see keys.ts).
    return { key: es256PublicKey(leaf.spki), authority, notAfter: leaf.notAfter };
  }

  private async download(url: string): Promise<string> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new IdentityError(436, "Bad Identity Info", `${url}: not a URL`);
    }
    if (u.protocol !== "https:" && !(this.opts.allowHttp && u.protocol === "http:")) {
      throw new IdentityError(
        436,
        "Bad Identity Info",
        `${url}: ${this.opts.allowHttp ? "http or https" : "https"} only`,
      );
    }
    let res: Response;
    try {
      res = await this.fetchFn(u, {
        signal: AbortSignal.timeout(this.opts.timeout),
        redirect: "error",
        headers: { Accept: "application/pem-certificate-chain, application/x-pem-file, */*" },
      });
    } catch (e) {
      throw new IdentityError(436, "Bad Identity Info", `${url}: ${(e as Error).message}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new IdentityError(436, "Bad Identity Info", `${url}: HTTP ${res.status}`);
    }
    let text: string | undefined;
    try {
      text = await readLimited(res, MAX_BYTES);
    } catch (e) {
      // The timeout covers the body too: a server that trickles it is a failed fetch.
      throw new IdentityError(436, "Bad Identity Info", `${url}: ${(e as Error).message}`);
    }
    if (text === undefined) {
      throw new IdentityError(436, "Bad Identity Info", `${url}: larger than ${MAX_BYTES} bytes`);
    }
    return text;
  }
}

/** The body as text, or undefined past `max` bytes (read no further). */
async function readLimited(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

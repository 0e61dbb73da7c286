// A small SHAKEN PKI for tests, made by the real openssl: an STI-CA and a service provider's
// certificate (with a TNAuthList) and key, and an HTTP server on loopback that serves the
// certificate where a PASSporT's x5u points, as a carrier's certificate repository does.

import {
  CertificateCache,
  loadSigningKey,
  parseCertificate,
  pemBlocks,
  Shaken,
} from "../../src/stir/mod.ts";

export interface Pki {
  dir: string;
  caFile: string;
  caPem: string;
  /** The service provider's certificate (PEM), as served at `x5u`. */
  certPem: string;
  /** The same key's certificate from the same CA without a TNAuthList. */
  plainCertPem: string;
  /**
   * The same key's certificate for numbers, not a provider (a delegate certificate, RFC 9060):
   * the range 12155550100-12155550199 and the number 12155559999.
   */
  rangeCertPem: string;
  /** Its private key, SEC1 PEM as `openssl ecparam -genkey` writes it. */
  keyFile: string;
  keyPem: string;
  /** A second CA, trusted by nobody. */
  otherCaFile: string;
}

/** openssl with `args` in `dir`; resolves its output, throws with its errors. */
async function openssl(dir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdin: "null" }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${text.decode(out.stderr)}`);
  }
  return text.decode(out.stdout);
}

/** openssl in `dir` the short way: `command` split at spaces, then `extra` as is (a subject). */
export function opensslIn(dir: string): (command: string, ...extra: string[]) => Promise<string> {
  return (command, ...extra) => openssl(dir, ...command.split(/\s+/).filter(Boolean), ...extra);
}

async function ca(dir: string, name: string, cn: string): Promise<void> {
  await openssl(dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`);
  await openssl(
    dir,
    ...["req", "-x509", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-days", "30"],
    ...["-out", `${name}.pem`, "-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  );
}

/**
 * TNAuthorizationList { range { "12155550100", 100 }, one "12155559999" } (RFC 8226, EXPLICIT
 * tags), as openssl's DER: notation takes it.
 */
export const RANGE_TN_AUTH_LIST = "30:23:a1:12:30:10:16:0b:31:32:31:35:35:35:35:30:31:30:30:" +
  "02:01:64:a2:0d:16:0b:31:32:31:35:35:35:35:39:39:39:39";

/** Make the PKI in a fresh temp dir (the caller removes `dir`). */
export async function makePki(): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "tandem-stir-" });
  await ca(dir, "ca", "Tandem Test STI-CA");
  await ca(dir, "other", "Untrusted CA");
  await openssl(dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sp.key");
  await openssl(
    dir,
    "req",
    "-new",
    "-key",
    "sp.key",
    "-subj",
    "/CN=SHAKEN 1234/O=Tandem Test",
    "-out",
    "sp.csr",
  );
  // ATIS-1000080: a SHAKEN certificate names its service provider code in a TNAuthList.
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "basicConstraints=CA:FALSE\n1.3.6.1.5.5.7.1.26=DER:30:08:a0:06:16:04:31:32:33:34\n",
  );
  await openssl(
    dir,
    ...["x509", "-req", "-in", "sp.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
    ...["-days", "30", "-out", "sp.pem", "-extfile", "ext.cnf"],
  );
  // The same key for numbers only: a range of 100 from 12155550100, and 12155559999.
  await Deno.writeTextFile(
    `${dir}/range.cnf`,
    "basicConstraints=CA:FALSE\n1.3.6.1.5.5.7.1.26=DER:" + RANGE_TN_AUTH_LIST + "\n",
  );
  await openssl(
    dir,
    ...["x509", "-req", "-in", "sp.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
    ...["-days", "30", "-out", "range.pem", "-extfile", "range.cnf"],
  );
  // The same key certified by the same CA without a TNAuthList: no SHAKEN certificate.
  await Deno.writeTextFile(`${dir}/plain.cnf`, "basicConstraints=CA:FALSE\n");
  await openssl(
    dir,
    ...["x509", "-req", "-in", "sp.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
    ...["-days", "30", "-out", "plain.pem", "-extfile", "plain.cnf"],
  );
  return {
    plainCertPem: await Deno.readTextFile(`${dir}/plain.pem`),
    rangeCertPem: await Deno.readTextFile(`${dir}/range.pem`),
    dir,
    caFile: `${dir}/ca.pem`,
    caPem: await Deno.readTextFile(`${dir}/ca.pem`),
    certPem: await Deno.readTextFile(`${dir}/sp.pem`),
    keyFile: `${dir}/sp.key`,
    keyPem: await Deno.readTextFile(`${dir}/sp.key`),
    otherCaFile: `${dir}/other.pem`,
  };
}

/** An HTTP server on loopback serving `files` (path → body); counts the requests. */
export function serveFiles(files: Record<string, string>): {
  base: string;
  hits: () => number;
  close: () => Promise<void>;
} {
  let hits = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      hits++;
      const body = files[new URL(req.url).pathname];
      return body === undefined
        ? new Response("not found", { status: 404 })
        : new Response(body, { headers: { "content-type": "application/x-pem-file" } });
    },
  );
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    hits: () => hits,
    close: () => server.shutdown(),
  };
}

/**
 * A signer and verifier for tests: `pki`'s key signing with `x5u`, checking against `anchors`
 * (the PKI's CA by default) with http x5u allowed, a 60 s freshness and a minute's cache.
 */
export function shakenFor(
  pki: Pki,
  x5u: string,
  now: () => number = () => Date.now(),
  anchors: string = pki.caPem,
): { shaken: Shaken; certificates: CertificateCache } {
  const certificates = new CertificateCache({
    anchors: pemBlocks(anchors).map(parseCertificate),
    timeout: 2000,
    ttl: 60_000,
    allowHttp: true,
    now,
  });
  const shaken = new Shaken({
    now,
    signer: { key: loadSigningKey(pki.keyPem).key, x5u },
    verifier: { certificates, maxAge: 60_000 },
  });
  return { shaken, certificates };
}

// The SHAKEN authentication and verification services end to end in process: an Identity signed
// with a service provider's key is checked against its certificate, fetched over HTTP from
// loopback and traced to the trusted STI-CA; every way it can fail gives RFC 8224's answer.

import assert from "node:assert/strict";
import { parseMessage, type SipRequest } from "../../src/sip/mod.ts";
import { CertificateCache, parseCertificate, pemBlocks } from "../../src/stir/mod.ts";
import { makePki, type Pki, serveFiles, shakenFor } from "./pki.ts";

const ORIGID = "8a5b3c1e-0f4d-4b8a-9c2e-1d2f3a4b5c6d";

function invite(extra: string, from = "+1-215-555-1212", to = "12155551213"): SipRequest {
  const text = `INVITE sip:${to}@10.0.0.9 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-1
Max-Forwards: 70
From: <sip:${from}@10.0.0.1>;tag=a
To: <sip:${to}@10.0.0.9>
Call-ID: shaken-1
CSeq: 1 INVITE
${extra}Content-Length: 0

`;
  return parseMessage(new TextEncoder().encode(text.replace(/\n/g, "\r\n"))) as SipRequest;
}

function setup(pki: Pki, now: () => number, anchors = pki.caPem) {
  const server = serveFiles({ "/sp.pem": pki.certPem });
  const x5u = `${server.base}/sp.pem`;
  return { server, x5u, ...shakenFor(pki, x5u, now, anchors) };
}

Deno.test("SHAKEN: a signed INVITE passes verification; the certificate is fetched once", async () => {
  const pki = await makePki();
  let now = Date.now();
  const { server, shaken } = await setup(pki, () => now);
  try {
    const value = await shaken.sign("+1-215-555-1212", "12155551213", "A", ORIGID);
    assert.ok(value);
    const v = await shaken.verify(invite(`Identity: ${value}\n`));
    assert.deepEqual(v, { verstat: "TN-Validation-Passed", attest: "A", origid: ORIGID });
    now += 30_000;
    const again = await shaken.verify(invite(`Identity: ${value}\n`));
    assert.equal(again.verstat, "TN-Validation-Passed");
    assert.equal(server.hits(), 1, "the certificate comes from the cache the second time");
    // P-Asserted-Identity, when present, is the calling number (ATIS-1000074 §5.2.3).
    const pai = await shaken.verify(
      invite(`P-Asserted-Identity: <tel:+12155551212>\nIdentity: ${value}\n`, "anonymous"),
    );
    assert.equal(pai.verstat, "TN-Validation-Passed");
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("SHAKEN: no Identity is No-TN-Validation; names that are no numbers are not signed", async () => {
  const pki = await makePki();
  const { server, shaken } = await setup(pki, () => Date.now());
  try {
    assert.deepEqual(await shaken.verify(invite("")), { verstat: "No-TN-Validation" });
    assert.equal(await shaken.sign("alice", "12155551213", "A", ORIGID), undefined);
    assert.equal(await shaken.sign("12155551212", "bob", "A", ORIGID), undefined);
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("SHAKEN: each failure is TN-Validation-Failed with RFC 8224's status", async () => {
  const pki = await makePki();
  let now = Date.now();
  const { server, shaken, x5u } = await setup(pki, () => now);
  try {
    const value = (await shaken.sign("12155551212", "12155551213", "B", ORIGID))!;
    const failed = async (req: SipRequest, status: number, detail: RegExp) => {
      const v = await shaken.verify(req);
      assert.equal(v.verstat, "TN-Validation-Failed");
      assert.equal(v.status, status, v.detail);
      assert.match(v.detail ?? "", detail);
    };
    await failed(invite(`Identity: ${value}\n`, "12155559999"), 438, /calling number/);
    await failed(invite(`Identity: ${value}\n`, "12155551212", "12155550000"), 438, /called/);
    // One flipped character of the signature.
    const sig = value.split(";")[0].split(".")[2];
    const bad = value.replace(sig, (sig[0] === "A" ? "B" : "A") + sig.slice(1));
    await failed(invite(`Identity: ${bad}\n`), 438, /signature/);
    now += 61_000;
    await failed(invite(`Identity: ${value}\n`), 403, /old/);
    now -= 61_000;
    // Signed for a certificate nobody serves.
    const other = await setup(pki, () => now);
    const elsewhere = (await other.shaken.sign("12155551212", "12155551213", "B", ORIGID))!
      .replaceAll(other.x5u, `${x5u}.missing`);
    await other.server.close();
    await failed(invite(`Identity: ${elsewhere}\n`), 438, /x5u|signature|HTTP/);
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("SHAKEN: a certificate fetched from a dead URL is 436, one from an untrusted CA 437", async () => {
  const pki = await makePki();
  const untrusted = await Deno.readTextFile(pki.otherCaFile);
  const { server, shaken, x5u } = await setup(pki, () => Date.now(), untrusted);
  try {
    const value = (await shaken.sign("12155551212", "12155551213", "C", ORIGID))!;
    const v = await shaken.verify(invite(`Identity: ${value}\n`));
    assert.equal(v.status, 437, v.detail);
    assert.equal(v.reason, "Unsupported Credential");
    // The same PASSporT pointing at a path the server does not have: the fetch fails.
    const missing = `${x5u}-gone`;
    const { shaken: signer } = shakenFor(pki, missing);
    const gone = (await signer.sign("12155551212", "12155551213", "C", ORIGID))!;
    const w = await signer.verify(invite(`Identity: ${gone}\n`));
    assert.equal(w.status, 436, w.detail);
    assert.match(w.detail ?? "", /HTTP 404/);
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("SHAKEN: http x5u URLs are refused unless allowed (ATIS-1000074 wants https)", async () => {
  const pki = await makePki();
  const { server, shaken, x5u } = await setup(pki, () => Date.now());
  try {
    const strict = new CertificateCache({
      anchors: pemBlocks(pki.caPem).map(parseCertificate),
      timeout: 2000,
      ttl: 60_000,
      allowHttp: false,
      now: () => Date.now(),
    });
    await assert.rejects(strict.key(x5u), /436 Bad Identity Info: .*https only/);
    assert.equal(server.hits(), 0);
    assert.ok(await shaken.sign("12155551212", "12155551213", "A", ORIGID));
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("SHAKEN: a certificate URL serving more than 64 KiB is 436; a failed URL is not asked again at once", async () => {
  const pki = await makePki();
  const server = serveFiles({ "/huge.pem": "x".repeat(70 * 1024), "/sp.pem": pki.certPem });
  let now = Date.now();
  try {
    const cache = new CertificateCache({
      anchors: pemBlocks(pki.caPem).map(parseCertificate),
      timeout: 2000,
      ttl: 60_000,
      allowHttp: true,
      now: () => now,
    });
    await assert.rejects(
      cache.key(`${server.base}/huge.pem`),
      /436 Bad Identity Info: .*larger than/,
    );
    await assert.rejects(cache.key(`${server.base}/huge.pem`), /436/);
    assert.equal(server.hits(), 1, "the failure is remembered");
    now += 31_000;
    await assert.rejects(cache.key(`${server.base}/huge.pem`), /436/);
    assert.equal(server.hits(), 2, "and asked again after 30 s");
    assert.ok(await cache.key(`${server.base}/sp.pem`));
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("SHAKEN: at most 16 certificate fetches in flight; past that a new URL is 436 at once", async () => {
  const pki = await makePki();
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async () => {
    await gate;
    return new Response(pki.certPem);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const cache = new CertificateCache({
      anchors: pemBlocks(pki.caPem).map(parseCertificate),
      timeout: 5000,
      ttl: 60_000,
      allowHttp: true,
      now: () => Date.now(),
    });
    const slow = Array.from({ length: 16 }, (_, i) => cache.key(`${base}/sp-${i}.pem`));
    await assert.rejects(cache.key(`${base}/sp-16.pem`), /436 .*16 fetches in flight/);
    release();
    assert.equal((await Promise.all(slow)).length, 16);
    assert.ok(await cache.key(`${base}/sp-16.pem`), "room again once they are done");
  } finally {
    await server.shutdown();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("SHAKEN: a certificate without a TNAuthList is no SHAKEN certificate: 437", async () => {
  const pki = await makePki();
  const server = serveFiles({ "/plain.pem": pki.plainCertPem });
  try {
    const { shaken } = shakenFor(pki, `${server.base}/plain.pem`);
    const value = shaken.sign("12155551212", "12155551213", "A", ORIGID)!;
    const v = await shaken.verify(invite(`Identity: ${value}\n`));
    assert.equal(v.status, 437, v.detail);
    assert.match(v.detail ?? "", /no TNAuthList/);
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("SHAKEN: a certificate for numbers (TNAuthList ranges) signs for them only; another calling number is 437", async () => {
  const pki = await makePki();
  const server = serveFiles({ "/range.pem": pki.rangeCertPem });
  try {
    const { shaken } = shakenFor(pki, `${server.base}/range.pem`);
    const inRange = shaken.sign("12155550142", "12155551213", "A", ORIGID)!;
    const ok = await shaken.verify(invite(`Identity: ${inRange}\n`, "+12155550142"));
    assert.equal(ok.verstat, "TN-Validation-Passed", ok.detail);
    const outside = shaken.sign("12155551212", "12155551213", "A", ORIGID)!;
    const v = await shaken.verify(invite(`Identity: ${outside}\n`, "+12155551212"));
    assert.equal(v.status, 437, v.detail);
    assert.match(v.detail ?? "", /TNAuthList does not cover the calling number 12155551212/);
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

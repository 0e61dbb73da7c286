// SIP over TLS end to end (RFC 3261 §26.2): two headless baresip softphones that speak only
// TLS call each other through Tandem. The caller's leg arrives on Tandem's TLS listener, the
// callee's leg leaves over a TLS connection whose certificate Tandem checks against the test
// CA, and the call is set up, carries audio and is hung up with its CDR written. The phones'
// own certificates come from tests/testdata/tls.

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { connect as tlsConnect } from "node:tls";
import { request as httpsRequest } from "node:https";
import {
  binaryAvailable,
  freePort,
  freeUdpPort,
  repoRoot,
  startTandem,
  waitFor,
  which,
} from "./harness.ts";
import { baresipDir, runBaresip, toneWav } from "./baresip.ts";

const CERTS = `${repoRoot}/tests/testdata/tls`;

/** Tandem with a TLS listener; calls to "bob" go over TLS to bob's port. */
function configText(tlsPort: number, http: number, bobTls: number, cdrDir: string, ca: string) {
  return `sip:
  listen:
    - { address: 127.0.0.1, port: ${tlsPort}, transports: [tls] }
  tls: { cert: ${CERTS}/server.pem, key: ${CERTS}/server-key.pem, ca: ${ca} }
  timers: { t1: 100ms }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
rules:
  - name: bob
    match: { ruri_user_prefix: [bob] }
    routes:
      - { name: bob, target: "127.0.0.1:${bobTls}", transport: tls }
cdr:
  dir: ${cdrDir}/journal
  fsync: every
  file: { path: ${cdrDir}/cdr.jsonl, format: jsonl }
`;
}

type Phone = ReturnType<typeof runBaresip>;

async function stop(p?: Phone): Promise<void> {
  if (!p) return;
  try {
    p.child.kill("SIGKILL");
  } catch { /* exited */ }
  await p.child.status;
}

/**
 * Two baresips over TLS through Tandem (the built binary when there is one: the TLS the shipped
 * Bun build runs); Tandem trusts `ca` for the callee's certificate.
 */
async function tlsCall(root: string, ca: string, binary: boolean) {
  const alicePort = freeUdpPort(), bobPort = freeUdpPort();
  const tlsPort = freePort(), http = freePort();
  const tandem = await startTandem({
    config: configText(tlsPort, http, bobPort + 1, root, ca),
    binary,
  });
  // baresip reads its certificate and key from one file.
  const phoneCert = `${root}/phone.pem`;
  await Deno.writeTextFile(
    phoneCert,
    (await Deno.readTextFile(`${CERTS}/server.pem`)) +
      (await Deno.readTextFile(`${CERTS}/server-key.pem`)),
  );
  const tls = { certificate: phoneCert, ca: `${CERTS}/ca.pem` };
  const wav = `${root}/tone.wav`;
  await Deno.writeFile(wav, toneWav(2));
  const rtp = 29000 + 80 * Math.floor(Math.random() * 12);
  const bob = runBaresip(await baresipDir(root, "bob", bobPort, rtp + 40, wav, tls), ["-t", "15"]);
  let alice: Phone | undefined;
  return {
    tandem,
    http,
    bob,
    bobTls: bobPort + 1,
    alice: () => alice,
    async dial() {
      await waitFor(() => /baresip is ready/.test(bob.log()), 5000, { what: "bob ready" });
      alice = runBaresip(await baresipDir(root, "alice", alicePort, rtp, wav, tls), [
        "-t",
        "15",
        "-e",
        `/dial sip:bob@127.0.0.1:${tlsPort};transport=tls`,
      ]);
      return alice;
    },
    async stop() {
      await stop(alice);
      await stop(bob);
      await tandem.stop();
    },
    /** What the phones and Tandem said, for a failed test. */
    async explain(dir: string) {
      const logs = await tandem.logs();
      console.error(
        `--- alice:\n${alice?.log().slice(-3000)}\n--- bob:\n${bob.log().slice(-3000)}` +
          `\n--- tandem log tail:\n${(logs.stdout + logs.stderr).slice(-4000)}\n--- ${dir}`,
      );
    },
  };
}

/** The first CDR Tandem wrote under `dir` (the file sink's daily file), once it is there. */
function firstCdr(dir: string) {
  return waitFor(
    async () => {
      const file = [...Deno.readDirSync(dir)].find((e) => /^cdr.*\.jsonl$/.test(e.name));
      if (!file) return undefined;
      const text = await Deno.readTextFile(`${dir}/${file.name}`);
      return text.split("\n").filter(Boolean).map((l) => JSON.parse(l))[0];
    },
    5000,
    { what: "the CDR" },
  );
}

Deno.test({
  name: "tls: two baresip phones that speak only TLS call through Tandem; both legs over TLS, " +
    "the callee's certificate checked, audio both ways, the CDR written",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(which("baresip"), "baresip is missing: apt-get install baresip-core");
    const root = await Deno.makeTempDir({ prefix: "tandem-e2e-tls-" });
    const bed = await tlsCall(root, `${CERTS}/ca.pem`, binaryAvailable());
    try {
      const alice = await bed.dial();
      await waitFor(
        () =>
          /terminated \(duration/.test(alice.log()) && /terminated \(duration/.test(bed.bob.log()),
        12_000,
        { what: "call ended on both phones" },
      );
      for (const [who, p] of [["alice", alice], ["bob", bed.bob]] as const) {
        assert.match(p.log(), /Call established/, `${who}'s call was established`);
        assert.match(p.log(), /receiving from 127\.0\.0\.1:\d+/, `${who} received audio`);
      }
      const cdr = await firstCdr(root);
      assert.equal(cdr.route, "bob");
      assert.equal(cdr.finalCode, 200);
      assert.equal(cdr.endReason, "bye");
      assert.match(cdr.source, /^tls:127\.0\.0\.1:\d+$/);
      assert.equal(cdr.destination, `tls:127.0.0.1:${bed.bobTls}`);
      // Every SIP message Tandem exchanged was over TLS: the caller's INVITE and BYE in, the
      // callee's INVITE, ACK and BYE out.
      const metrics = await (await fetch(`http://127.0.0.1:${bed.http}/metrics`)).text();
      const count = (dir: string, method: string) => {
        const line = metrics.split("\n").find((l) =>
          l.startsWith(`tandem_sip_messages_${dir}_total{`) && l.includes(`method="${method}"`) &&
          l.includes('transport="tls"')
        );
        return Number(line?.split(" ").pop() ?? 0);
      };
      assert.ok(count("in", "INVITE") >= 1 && count("out", "INVITE") >= 1, metrics);
      assert.ok(count("out", "ACK") >= 1 && count("in", "BYE") >= 1, metrics);
      await Deno.remove(root, { recursive: true });
    } catch (e) {
      await bed.explain(root);
      throw e;
    } finally {
      await bed.stop();
    }
  },
});

Deno.test({
  name: "tls: a callee whose certificate Tandem does not trust never gets the call; the caller " +
    "gets 503, recorded in the CDR",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(which("baresip"), "baresip is missing: apt-get install baresip-core");
    const root = await Deno.makeTempDir({ prefix: "tandem-e2e-tls-" });
    // Trusting only an unrelated certificate: bob's chain (the test CA) does not verify.
    const bed = await tlsCall(root, `${CERTS}/untrusted.pem`, false);
    try {
      const alice = await bed.dial();
      await waitFor(() => /503/.test(alice.log()), 10_000, { what: "503 at the caller" });
      assert.doesNotMatch(bed.bob.log(), /incoming call|Call established/);
      const cdr = await firstCdr(root);
      assert.equal(cdr.finalCode, 503, JSON.stringify(cdr));
      const logs = await bed.tandem.logs();
      assert.match(logs.stdout + logs.stderr, /certificate|issuer/i, "the reason is logged");
      await Deno.remove(root, { recursive: true });
    } catch (e) {
      await bed.explain(root);
      throw e;
    } finally {
      await bed.stop();
    }
  },
});

/** GET https://127.0.0.1:`port``path` without checking the certificate; the body. */
function insecureGet(port: number, path: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: "127.0.0.1",
      port,
      path,
      rejectUnauthorized: false,
      headers: { Authorization: `Bearer ${token}` },
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => body += c);
      res.on("end", () => resolve(body));
    });
    req.once("error", reject);
    req.end();
  });
}

/** The subject CN of the certificate a TLS server at 127.0.0.1:`port` presents. */
function presentedCn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    c.once("secureConnect", () => {
      resolve(String(c.getPeerCertificate().subject?.CN ?? ""));
      c.destroy();
    });
    c.once("error", reject);
  });
}

Deno.test({
  name: "tls: a renewed certificate is served after POST /reload, without a restart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-tls-reload-" });
    const copy = (from: string, to: string) => Deno.copyFile(`${CERTS}/${from}`, `${dir}/${to}`);
    await copy("server.pem", "cert.pem");
    await copy("server-key.pem", "key.pem");
    const tlsPort = freePort(), http = freePort();
    // Relative paths: next to the config file.
    await Deno.writeTextFile(
      `${dir}/tandem.yaml`,
      `sip:
  listen: [{ address: 127.0.0.1, port: ${tlsPort}, transports: [tls] }]
  tls: { cert: cert.pem, key: key.pem }
http: { listen: "127.0.0.1:${http}" }
`,
    );
    const tandem = await startTandem({ config: `${dir}/tandem.yaml`, binary: binaryAvailable() });
    const expiry = async () => {
      const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
      return Number(
        /^tandem_tls_certificate_expiry_timestamp_seconds(?:\{[^}]*\})? (\d+)/m
          .exec(text)?.[1],
      );
    };
    const notAfter = (name: string) =>
      Math.floor(
        new Date(new X509Certificate(Deno.readTextFileSync(`${CERTS}/${name}`)).validTo)
          .getTime() / 1000,
      );
    try {
      assert.equal(await presentedCn(tlsPort), "tandem-test-server");
      assert.equal(await expiry(), notAfter("server.pem"));
      await copy("untrusted.pem", "cert.pem");
      await copy("untrusted-key.pem", "key.pem");
      const r = await fetch(`http://127.0.0.1:${http}/reload`, { method: "POST" });
      assert.equal(r.status, 200, await r.text());
      assert.equal(await presentedCn(tlsPort), "untrusted");
      assert.equal(await expiry(), notAfter("untrusted.pem"));
      // A certificate that does not match its key is refused, and the one in use stays.
      await copy("server-key.pem", "key.pem");
      const bad = await fetch(`http://127.0.0.1:${http}/reload`, { method: "POST" });
      const body = await bad.text();
      assert.notEqual(bad.status, 200);
      assert.match(body, /sip\.tls\.key/);
      assert.equal(await presentedCn(tlsPort), "untrusted");
      await Deno.remove(dir, { recursive: true });
    } finally {
      await tandem.stop();
    }
  },
});

Deno.test({
  name: "https: the HTTP API over TLS (http.tls), checked against its CA; a renewed certificate " +
    "is served after POST /reload, without a restart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-https-" });
    const copy = (from: string, to: string) => Deno.copyFile(`${CERTS}/${from}`, `${dir}/${to}`);
    await copy("server.pem", "cert.pem");
    await copy("server-key.pem", "key.pem");
    const sip = freeUdpPort(), http = freePort();
    await Deno.writeTextFile(
      `${dir}/tandem.yaml`,
      `sip:
  listen: [{ address: 127.0.0.1, port: ${sip}, transports: [udp] }]
http: { listen: "127.0.0.1:${http}", token: s3cret, tls: { cert: cert.pem, key: key.pem } }
`,
    );
    // Ready when SIP answers OPTIONS (the harness's own readiness probe speaks plain HTTP).
    const tandem = await startTandem({
      config: `${dir}/tandem.yaml`,
      binary: binaryAvailable(),
      sip: { host: "127.0.0.1", port: sip, transport: "udp" },
    });
    // A client that trusts the test CA only, as an operator's would trust theirs (the renewed
    // certificate comes from another CA: after the renewal only presentedCn looks at it).
    const client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(`${CERTS}/ca.pem`)],
    });
    const api = (path: string, method = "GET") =>
      fetch(`https://127.0.0.1:${http}${path}`, {
        method,
        client,
        headers: { Authorization: "Bearer s3cret" },
      });
    try {
      const health = await api("/health");
      assert.equal(health.status, 200, await health.text());
      assert.equal(await presentedCn(http), "tandem-test-server");
      // Plain HTTP is not spoken on the HTTPS port.
      await assert.rejects(fetch(`http://127.0.0.1:${http}/health`).then((r) => r.text()));
      // Renewed: the next connection gets the new certificate.
      await copy("untrusted.pem", "cert.pem");
      await copy("untrusted-key.pem", "key.pem");
      const r = await api("/reload", "POST");
      const reloaded = await r.json();
      assert.equal(r.status, 200, JSON.stringify(reloaded));
      assert.deepEqual(reloaded.restartNeeded, [], "a renewed certificate needs no restart");
      await waitFor(async () => await presentedCn(http).catch(() => "") === "untrusted", 5000, {
        what: "the renewed certificate served",
      });
      assert.match((await tandem.logs()).stderr, /"event":"http-certificate-renewed"/);
      // Read past the check (the renewed certificate's CA is nobody's): the expiry it reports.
      const metricsText = await insecureGet(http, "/metrics", "s3cret");
      const expiry = Number(
        /^tandem_http_tls_certificate_expiry_timestamp_seconds (\d+)/m.exec(metricsText)?.[1],
      );
      const untrusted = new X509Certificate(await Deno.readTextFile(`${CERTS}/untrusted.pem`));
      assert.equal(expiry, Math.floor(new Date(untrusted.validTo).getTime() / 1000));
      await Deno.remove(dir, { recursive: true });
    } finally {
      client.close();
      await tandem.stop();
    }
  },
});

// sip.tls: certificate files read and checked at load, paths relative to the config file, and
// TLS listeners and routes refused without them. Uses the certificates in tests/testdata/tls.

import assert from "node:assert/strict";
import { effectiveDocument } from "../../src/config/print.ts";
import { readTls } from "../../src/config/validate-tls.ts";
import { Reader } from "../../src/config/reader.ts";
import { DIR, errorsOf, FILE, load } from "./with-certs.ts";

const LISTEN = "sip:\n  listen: [{ address: 127.0.0.1, transports: [udp, tls] }]\n";

Deno.test("sip.tls: PEM files relative to the config file, verify_server on by default", () => {
  const cfg = load(LISTEN + "  tls: { cert: server.pem, key: server-key.pem, ca: ca.pem }\n");
  const t = cfg.sip.tls!;
  assert.equal(t.certFile, `${DIR}server.pem`);
  assert.match(t.cert, /BEGIN CERTIFICATE/);
  assert.match(t.key, /PRIVATE KEY/);
  assert.match(t.ca!, /BEGIN CERTIFICATE/);
  assert.equal(t.verifyServer, true);
  assert.equal(t.verifyClient, false);
  // A listen entry with only tls defaults to 5061 (RFC 3261 §19.1.2).
  const only = load(
    "sip:\n  listen: [{ address: 127.0.0.1, transports: [tls] }]\n" +
      "  tls: { cert: server.pem, key: server-key.pem, verify_client: true }\n",
  );
  assert.equal(only.sip.listen[0].port, 5061);
  assert.equal(only.sip.tls!.verifyClient, true);
  // The effective document names the files, never the key's text.
  const doc = JSON.stringify(effectiveDocument(cfg));
  assert.ok(doc.includes(`${DIR}server-key.pem`));
  assert.ok(!doc.includes("PRIVATE KEY"));
});

Deno.test("sip.tls: a missing file, a foreign key or a non-certificate names the key and file", () => {
  assert.deepEqual(
    errorsOf(LISTEN + "  tls: { cert: nope.pem, key: server-key.pem }\n"),
    [
      "F:3: sip.tls.cert: expected a readable PEM file, got D/nope.pem: ENOENT: no such file " +
      `or directory, open 'D/nope.pem'`,
    ],
  );
  const foreign = errorsOf(LISTEN + "  tls: { cert: server.pem, key: client-key.pem }\n");
  assert.deepEqual(foreign, [
    "F:3: sip.tls.key: expected the private key of D/server.pem, got D/client-key.pem, another key",
  ]);
  const notCert = errorsOf(LISTEN + "  tls: { cert: server-key.pem, key: server-key.pem }\n");
  assert.equal(notCert.length, 1);
  assert.match(notCert[0], /sip\.tls\.cert: expected a PEM certificate .* D\/server-key\.pem/);
  const noKey = errorsOf(LISTEN + "  tls: { cert: server.pem }\n");
  assert.deepEqual(noKey, ["F:3: sip.tls.key: expected a PEM file path, got nothing"]);
});

Deno.test("sip.tls: an expired or not yet valid certificate is refused", () => {
  const later = new Reader(FILE, () => 7, () => undefined);
  assert.equal(
    readTls(later, { cert: "server.pem", key: "server-key.pem" }, new Date("2200-01-01")),
    undefined,
  );
  assert.equal(later.issues.length, 1);
  assert.match(later.issues[0].message, /expected a certificate valid now, got .*server\.pem/);
  const now = new Reader(FILE, () => 7, () => undefined);
  assert.ok(readTls(now, { cert: "server.pem", key: "server-key.pem" }, new Date()));
  assert.deepEqual(now.issues, []);
});

Deno.test("sip.tls: TLS listeners and routes need it; sips: routes are TLS on 5061", () => {
  assert.deepEqual(
    errorsOf(
      LISTEN + 'rules:\n  - routes:\n      - { uri: "sips:192.0.2.9" }\n',
    ),
    [
      "F:2: sip.listen[0].transports: expected a sip.tls section with cert and key for " +
      "transport tls or wss, got udp, tls",
      "F:5: rules[0].routes[0]: expected a sip.tls section with cert and key for transport " +
      "tls or wss, got none",
    ],
  );
  const cfg = load(
    LISTEN + "  tls: { cert: server.pem, key: server-key.pem }\n" +
      'rules:\n  - routes:\n      - { uri: "sips:192.0.2.9" }\n' +
      '      - { target: "192.0.2.10", transport: TLS }\n' +
      '      - { uri: "sip:192.0.2.11:5080;transport=tls" }\n',
  );
  const routes = cfg.rules[0].routes.map((r) => [r.host, r.port, r.transport]);
  assert.deepEqual(routes, [
    ["192.0.2.9", 5061, "tls"],
    ["192.0.2.10", 5061, "tls"],
    ["192.0.2.11", 5080, "tls"],
  ]);
});

Deno.test("routes: tls_server_name is a host name, on TLS routes only", () => {
  const tls = LISTEN + "  tls: { cert: server.pem, key: server-key.pem }\n";
  const cfg = load(
    tls + "rules:\n  - routes:\n" +
      '      - { uri: "sips:192.0.2.9", tls_server_name: SIP.Carrier.example }\n',
  );
  assert.equal(cfg.rules[0].routes[0].tlsServerName, "sip.carrier.example");
  assert.deepEqual(
    errorsOf(
      tls + "rules:\n  - routes:\n" +
        '      - { target: "192.0.2.9", tls_server_name: sip.carrier.example }\n' +
        '      - { target: "192.0.2.9", transport: tls, tls_server_name: "a b" }\n',
    ),
    [
      "F:6: rules[0].routes[0].tls_server_name: expected a route with transport tls or wss " +
      "(or a sips: uri), got transport udp",
      'F:7: rules[0].routes[1].tls_server_name: expected a host name like sip.carrier.example, got "a b"',
    ],
  );
});

Deno.test("http.tls: the API's certificate and key, checked like sip.tls's; printed back by path", () => {
  const cfg = load(
    "http: { listen: 127.0.0.1:8443, tls: { cert: server.pem, key: server-key.pem } }\n",
  );
  const t = cfg.http!.tls!;
  assert.equal(t.certFile, `${DIR}server.pem`);
  assert.equal(t.keyFile, `${DIR}server-key.pem`);
  assert.match(t.cert, /BEGIN CERTIFICATE/);
  assert.ok(t.notAfter > Date.now());
  assert.deepEqual(
    (effectiveDocument(cfg).http as { tls: unknown }).tls,
    { cert: `${DIR}server.pem`, key: `${DIR}server-key.pem` },
  );
  assert.deepEqual(errorsOf("http: { tls: { cert: server.pem, key: client-key.pem } }\n"), [
    `F:1: http.tls.key: expected the private key of D/server.pem, got D/client-key.pem, another key`,
  ]);
  assert.deepEqual(errorsOf("http: { tls: { cert: server.pem } }\n"), [
    "F:1: http.tls.key: expected a PEM file path, got nothing",
  ]);
});

Deno.test("http.allow: address blocks (a bare IP is one host), printed back; a bad one is named", () => {
  const cfg = load('http: { allow: [10.0.0.0/8, 192.0.2.7, "2001:db8::/32"] }\n');
  assert.deepEqual(cfg.http!.allow, ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);
  assert.deepEqual((effectiveDocument(cfg).http as { allow: unknown }).allow, cfg.http!.allow);
  const [issue] = errorsOf("http: { allow: [10.0.0.0/8, nowhere] }\n");
  assert.match(issue, /^F:1: http\.allow\[1\]: expected .*, got "nowhere"$/);
  assert.deepEqual(errorsOf("http: { allow: [] }\n"), [
    "F:1: http.allow: expected at least one address block, got a list",
  ]);
});

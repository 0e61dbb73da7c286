// Routes by host name and `sip.dns`: how much DNS each spelling of a route asks for (RFC 3263
// §4.1-4.2), the errors, and the effective configuration that loads back the same.

import assert from "node:assert/strict";
import { effectiveConfigText, parseConfig } from "../../src/config/mod.ts";
import { errorsOf, load } from "./with-certs.ts";

const ROUTES = `
sip:
  dns: { servers: ["127.0.0.1:5353", "::1", "192.0.2.53"], timeout: 500ms, attempts: 3 }
  tls: { cert: server.pem, key: server-key.pem, ca: ca.pem }
rules:
  - routes:
      - { name: naptr, target: Carrier.Example }
      - { name: srv-tcp, target: carrier.example, transport: tcp }
      - { name: a-port, target: "carrier.example:5080" }
      - { name: uri-naptr, uri: "sip:carrier.example" }
      - { name: uri-sips, uri: "sips:carrier.example" }
      - { name: uri-port, uri: "sip:carrier.example:5070;transport=tcp" }
      - { name: ws, target: edge.example, transport: wss, ws_path: /sip }
      - { name: ip, target: "192.0.2.10" }
`;

Deno.test("dns: a port means A/AAAA, a transport alone SRV, neither NAPTR; IPs no DNS", () => {
  const cfg = load(ROUTES);
  assert.deepEqual(
    cfg.rules[0].routes.map((r) => [r.name, r.host, r.port, r.transport, r.dns]),
    [
      ["naptr", "carrier.example", 5060, "udp", "naptr"],
      ["srv-tcp", "carrier.example", 5060, "tcp", "srv"],
      ["a-port", "carrier.example", 5080, "udp", "a"],
      ["uri-naptr", "carrier.example", 5060, "udp", "naptr"],
      ["uri-sips", "carrier.example", 5061, "tls", "srv"],
      ["uri-port", "carrier.example", 5070, "tcp", "a"],
      // RFC 7118 defines no SRV names for WebSocket.
      ["ws", "edge.example", 443, "wss", "a"],
      ["ip", "192.0.2.10", 5060, "udp", undefined],
    ],
  );
  assert.deepEqual(cfg.sip.dns, {
    servers: [
      { host: "127.0.0.1", port: 5353 },
      { host: "::1", port: 53 },
      { host: "192.0.2.53", port: 53 },
    ],
    timeout: 500,
    attempts: 3,
  });
});

Deno.test("dns: defaults are the system's servers, 1 s a try, two rounds", () => {
  assert.deepEqual(load("").sip.dns, { servers: [], timeout: 1000, attempts: 2 });
});

Deno.test("dns: bad servers, timeouts and host names name the file, key and value", () => {
  assert.deepEqual(
    errorsOf(
      "sip:\n  dns:\n    servers: [dns.example, '127.0.0.1:0']\n    timeout: 20s\n" +
        "    attempts: 0\n    retries: 2\n",
    ),
    [
      'F:3: sip.dns.servers[0]: expected an IP address with an optional port, like "192.0.2.53" or "[::1]:5353", got "dns.example"',
      'F:3: sip.dns.servers[1]: expected an IP address with an optional port, like "192.0.2.53" or "[::1]:5353", got "127.0.0.1:0"',
      'F:4: sip.dns.timeout: expected a duration between 50ms and 10s (seconds, or a string like "500ms", "5s", "2m", "1h"), got "20s"',
      "F:5: sip.dns.attempts: expected an integer (1-5), got 0",
      'F:6: sip.dns.retries: expected one of the keys servers, timeout, attempts, got unknown key "retries"',
    ],
  );
  assert.deepEqual(errorsOf('rules:\n  - routes: [{ target: "bad_name.example" }]\n'), [
    'F:2: rules[0].routes[0].target: expected an IP address or a host name like sip.carrier.example, got "bad_name.example"',
  ]);
});

Deno.test("dns: the effective configuration loads back with the same lookups", () => {
  const cfg = load(ROUTES);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  const shape = (c: typeof cfg) =>
    c.rules[0].routes.map((r) => [r.host, r.port, r.transport, r.dns]);
  assert.deepEqual(shape(back), shape(cfg));
  assert.deepEqual(back.sip.dns, cfg.sip.dns);
});

Deno.test("enum routes: an apex instead of a target, printed back the same; what cannot go with it", () => {
  const cfg = load(`
defaults: { probe: { interval: 30s } }
rules:
  - routes:
      - { name: peering, enum: E164.Arpa, ruri_user: { prefix: "+" } }
      - { name: pstn, target: "192.0.2.10" }
`);
  const [peering, pstn] = cfg.rules[0].routes;
  assert.equal(peering.enum, "e164.arpa");
  assert.equal(peering.dns, undefined, "no RFC 3263 lookup of the apex itself");
  assert.equal(peering.probe, undefined, "no server of its own to probe, whatever defaults say");
  assert.ok(pstn.probe);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.rules[0].routes[0], peering);
  const errs = errorsOf(`
rules:
  - routes:
      - { enum: e164.arpa, port: 5060, transport: tcp }
      - { enum: e164.arpa, target: "192.0.2.1" }
      - { enum: "192.0.2.1" }
      - { enum: e164.arpa, probe: { interval: 10s }, domain: carrier.example }
`);
  assert.deepEqual(errs.map((e) => e.replace(/^F:\d+: /, "").replace(/, got .*$/, "")), [
    "rules[0].routes[0].port: expected no port on an enum route (the URI says)",
    "rules[0].routes[0].transport: expected no transport on an enum route (the URI says)",
    "rules[0].routes[1]: expected exactly one of target, uri, host, enum",
    'rules[0].routes[2].enum: expected an ENUM domain like "e164.arpa"',
    "rules[0].routes[3].probe: expected no probe on an enum route",
    "rules[0].routes[3].domain: expected no domain on an enum route",
  ]);
});

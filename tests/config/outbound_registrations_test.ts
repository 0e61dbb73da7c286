// `outbound_registrations`: accounts registered at carriers. Values, defaults, errors, and the
// effective configuration that loads back the same.

import assert from "node:assert/strict";
import { effectiveConfigText, parseConfig } from "../../src/config/mod.ts";
import { errorsOf, load } from "./with-certs.ts";

Deno.test("outbound_registrations: values and defaults; loads back the same, password masked", () => {
  const cfg = load(`
defaults: { auth: { username: trunk, password: not-this-one } }
outbound_registrations:
  - name: carrier-a
    target: sip.carrier.example
    transport: tcp
    aor: "sip:+15551230000@carrier.example"
    auth: { username: acct1, password: s3cret }
    expires: 30m
    nat_keepalive: 25s
  - name: carrier-b
    target: "192.0.2.20:5080"
    aor: "sips:alice@carrier-b.example:5061"
    registrar_uri: "sip:registrar.carrier-b.example"
    contact_user: inbound-b
rules: []
`);
  const [a, b] = cfg.outboundRegistrations!;
  assert.equal(a.name, "carrier-a");
  assert.equal(a.route.host, "sip.carrier.example");
  assert.equal(a.route.transport, "tcp");
  assert.equal(a.route.dns, "srv");
  assert.equal(a.aor, "sip:+15551230000@carrier.example");
  assert.equal(a.registrarUri, "sip:carrier.example", "the AOR's domain");
  assert.equal(a.contactUser, "+15551230000", "the AOR's user");
  assert.equal(a.expires, 1800);
  assert.equal(a.natKeepalive, 25_000);
  assert.deepEqual(a.auth, { username: "acct1", password: "s3cret" });
  assert.equal(b.registrarUri, "sip:registrar.carrier-b.example");
  assert.equal(b.contactUser, "inbound-b");
  assert.equal(b.expires, 3600);
  assert.equal(b.natKeepalive, undefined, "no keep-alives unless asked for");
  assert.equal(b.auth, undefined, "defaults.auth is a trunk's, not an account's");
  assert.equal(b.route.port, 5080);
  const text = effectiveConfigText(cfg, { mask: false });
  const back = parseConfig(text, "p.yaml", "yaml", { env: {} });
  assert.deepEqual(back.outboundRegistrations, cfg.outboundRegistrations);
  assert.doesNotMatch(effectiveConfigText(cfg), /s3cret/);
  assert.equal(load("rules: []\n").outboundRegistrations, undefined);
  const sips = load(
    'outbound_registrations: [{ name: x, target: "192.0.2.1", aor: "sips:a@example.test" }]\n',
  ).outboundRegistrations![0];
  assert.equal(sips.registrarUri, "sips:example.test");
});

Deno.test("outbound_registrations: bad entries name the file, the key and what is wrong", () => {
  assert.deepEqual(
    errorsOf(
      "outbound_registrations:\n" +
        '  - { name: a, target: "192.0.2.1", aor: "sip:carrier.example", expires: 10s }\n' +
        '  - { name: a, target: "192.0.2.1", aor: "tel:+1555", timers: { no_answer: 3s } }\n' +
        '  - { target: "192.0.2.1", aor: "sip:x@y", contact_user: "a b" }\n' +
        '  - { name: c, aor: "sip:x@y", auth: { username: u } }\n' +
        '  - { name: d, target: "192.0.2.1", aor: "sip:x@y", nat_keepalive: 500ms }\n',
    ),
    [
      'F:2: outbound_registrations[0].aor: expected a SIP URI with a user, like "sip:+15551230000@carrier.example", got "sip:carrier.example"',
      'F:2: outbound_registrations[0].expires: expected a duration between 1m and 24h (seconds, or a string like "500ms", "5s", "2m", "1h"), got "10s"',
      'F:3: outbound_registrations[1].timers: expected one of the keys name, target, uri, host, port, transport, tls_server_name, ws_path, aor, registrar_uri, contact_user, expires, nat_keepalive, auth, got unknown key "timers"',
      'F:3: outbound_registrations[1].name: expected a name no other outbound registration has, got "a"',
      'F:3: outbound_registrations[1].aor: expected a SIP URI with a user, like "sip:+15551230000@carrier.example", got "tel:+1555"',
      "F:4: outbound_registrations[2].name: expected a name, got nothing",
      'F:4: outbound_registrations[2].contact_user: expected URI user characters (no space, <, >, @, ", :), got "a b"',
      "F:5: outbound_registrations[3]: expected exactly one of target, uri, host, got none",
      "F:5: outbound_registrations[3].auth.password: expected a password, got nothing",
      'F:6: outbound_registrations[4].nat_keepalive: expected a duration between 1s and 10m (seconds, or a string like "500ms", "5s", "2m", "1h"), got "500ms"',
    ],
  );
  assert.deepEqual(
    errorsOf(
      "sip:\n  workers: 2\n  listen: [{ address: 127.0.0.1, transports: [udp] }]\n" +
        'outbound_registrations: [{ name: a, target: "192.0.2.1", transport: tcp, aor: "sip:x@y" }]\n',
    ),
    [
      'F:4: outbound_registrations[0].transport: expected udp only with sip.workers 2 (TCP, TLS and WebSocket need workers: 1), got "tcp"',
    ],
  );
});

// `probe` on routes and in `defaults`, and a rule's route `order` with route `weight`: values,
// defaults, errors, and the effective configuration that loads back the same.

import assert from "node:assert/strict";
import { effectiveConfigText, parseConfig } from "../../src/config/mod.ts";
import { errorsOf, load } from "./with-certs.ts";

const RULES = `
defaults:
  probe: { interval: 20s }
rules:
  - routes:
      - { name: a, target: "192.0.2.10", probe: { interval: 5s, timeout: 1s, down_after: 3, up_after: 2 } }
      - { name: b, target: "192.0.2.20" }
      - { name: c, target: "192.0.2.30", probe: false }
`;

Deno.test("probe: route values, defaults filled in, and false turning a default off", () => {
  const [a, b, c] = load(RULES).rules[0].routes;
  assert.deepEqual(a.probe, { interval: 5000, timeout: 1000, downAfter: 3, upAfter: 2 });
  assert.deepEqual(b.probe, { interval: 20_000, timeout: 5000, downAfter: 2, upAfter: 1 });
  assert.equal(c.probe, undefined);
  assert.equal(
    load('rules: [{ routes: [{ target: "192.0.2.1" }] }]').rules[0].routes[0].probe,
    undefined,
  );
});

Deno.test("probe: bad values name the file, the key and what is wrong", () => {
  assert.deepEqual(
    errorsOf(
      'rules:\n  - routes:\n      - target: "192.0.2.1"\n' +
        "        probe: { interval: 500ms, down_after: 0, every: 3 }\n" +
        '      - { target: "192.0.2.2", probe: { interval: 2s, timeout: 3s } }\n',
    ),
    [
      'F:4: rules[0].routes[0].probe.every: expected one of the keys interval, timeout, down_after, up_after, got unknown key "every"',
      'F:4: rules[0].routes[0].probe.interval: expected a duration between 1s and 1h (seconds, or a string like "500ms", "5s", "2m", "1h"), got "500ms"',
      "F:4: rules[0].routes[0].probe.down_after: expected an integer (1-100), got 0",
      "F:5: rules[0].routes[1].probe.timeout: expected at most the interval (2000ms), got 3000ms",
    ],
  );
});

Deno.test("probe: the effective configuration loads back with the same probes", () => {
  const cfg = load(RULES);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(
    back.rules[0].routes.map((r) => r.probe),
    cfg.rules[0].routes.map((r) => r.probe),
  );
});

Deno.test("order: listed by default; round-robin and weighted; weight only where it counts", () => {
  const cfg = load(`
rules:
  - name: plain
    routes: [{ target: "192.0.2.1" }]
  - name: rr
    order: round-robin
    routes: [{ target: "192.0.2.1" }, { target: "192.0.2.2" }]
  - name: w
    order: weighted
    routes: [{ target: "192.0.2.1", weight: 3 }, { target: "192.0.2.2" }]
`);
  assert.deepEqual(cfg.rules.map((r) => r.order), ["listed", "round-robin", "weighted"]);
  assert.deepEqual(cfg.rules[2].routes.map((r) => r.weight), [3, 1]);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.rules.map((r) => [r.order, r.routes.map((x) => x.weight)]), [
    ["listed", [1]],
    ["round-robin", [1, 1]],
    ["weighted", [3, 1]],
  ]);
  assert.deepEqual(
    errorsOf(
      "rules:\n  - order: random\n" +
        '    routes: [{ target: "192.0.2.1", weight: 2 }, { target: "192.0.2.2", weight: 0 }]\n',
    ),
    [
      'F:2: rules[0].order: expected one of listed, round-robin, weighted, got "random"',
      'F:3: rules[0].routes[0].weight: expected a rule with order "weighted", got order listed',
      "F:3: rules[0].routes[1].weight: expected an integer (1-10000), got 0",
      'F:3: rules[0].routes[1].weight: expected a rule with order "weighted", got order listed',
    ],
  );
});

Deno.test("registrar: a route without name, weight or limits; its media needs relays", () => {
  const cfg = load(`
registrar: { target: "192.0.2.50:5060", transport: tcp, timers: { no_answer: 30s } }
rules: []
`);
  assert.equal(cfg.registrar?.host, "192.0.2.50");
  assert.equal(cfg.registrar?.transport, "tcp");
  assert.equal(cfg.registrar?.timers.noAnswer, 30_000);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.registrar, cfg.registrar);
  assert.equal(load("rules: []\n").registrar, undefined);
  assert.deepEqual(
    errorsOf(
      "sip:\n  workers: 2\n  listen: [{ address: 127.0.0.1, transports: [udp] }]\n" +
        'registrar: { target: "192.0.2.50" }\n',
    ),
    ["F:4: registrar: expected sip.workers 1 (registrations live in one process), got workers 2"],
  );
  assert.deepEqual(
    errorsOf('registrar: { target: "192.0.2.50", name: r, media: rtpengine }\n'),
    [
      'F:1: registrar.name: expected one of the keys target, uri, host, port, transport, tls_server_name, ws_path, ruri_user, from_domain, caller_id, timers, stop_codes, failover_on_timeout, follow_redirects, auth, headers, keepalive, media, trusted, nat_keepalive, got unknown key "name"',
      "F:1: registrar.media: expected media.rtpengine servers for media rtpengine, got none",
    ],
  );
});

Deno.test("domain and from_domain: a route's URIs name the carrier's domain; from_domain has a default", () => {
  const cfg = load(`
defaults: { from_domain: tandem.example }
rules:
  - routes:
      - { name: a, target: "192.0.2.10", domain: Carrier.Example, from_domain: "198.51.100.7" }
      - { name: b, target: "192.0.2.20" }
`);
  const [a, b] = cfg.rules[0].routes;
  assert.equal(a.domain, "carrier.example");
  assert.equal(a.fromDomain, "198.51.100.7");
  assert.equal(b.domain, undefined);
  assert.equal(b.fromDomain, "tandem.example");
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.rules, cfg.rules);
  assert.deepEqual(
    errorsOf(
      "defaults: { domain: carrier.example }\n" +
        'rules: [{ routes: [{ target: "192.0.2.1", domain: "not a host", from_domain: "a@b" }] }]\n' +
        'registrar: { target: "192.0.2.50", domain: carrier.example }\n',
    ),
    [
      'F:1: defaults.domain: expected one of the keys ruri_user, from_domain, caller_id, timers, stop_codes, failover_on_timeout, follow_redirects, auth, headers, keepalive, media, limits, probe, respect_retry_after, quality, trusted, got unknown key "domain"',
      'F:2: rules[0].routes[0].from_domain: expected an IP address or a host name like sip.carrier.example, got "a@b"',
      'F:2: rules[0].routes[0].domain: expected an IP address or a host name like sip.carrier.example, got "not a host"',
      'F:3: registrar.domain: expected one of the keys target, uri, host, port, transport, tls_server_name, ws_path, ruri_user, from_domain, caller_id, timers, stop_codes, failover_on_timeout, follow_redirects, auth, headers, keepalive, media, trusted, nat_keepalive, got unknown key "domain"',
    ],
  );
});

Deno.test("respect_retry_after: a cap on routes or in defaults; 0 turns a default off; loads back the same", () => {
  const cfg = load(`
defaults: { respect_retry_after: 30s }
rules:
  - routes:
      - { name: a, target: "192.0.2.10", respect_retry_after: 2m }
      - { name: b, target: "192.0.2.20" }
      - { name: c, target: "192.0.2.30", respect_retry_after: 0 }
`);
  assert.deepEqual(cfg.rules[0].routes.map((r) => r.respectRetryAfter), [
    120_000,
    30_000,
    undefined,
  ]);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.rules, cfg.rules);
  assert.deepEqual(
    errorsOf('rules: [{ routes: [{ target: "192.0.2.1", respect_retry_after: 2h }] }]\n'),
    [
      'F:1: rules[0].routes[0].respect_retry_after: expected a duration between 0ms and 1h (seconds, or a string like "500ms", "5s", "2m", "1h"), got "2h"',
    ],
  );
});

Deno.test("quality: on routes or in defaults, false turning a default off; errors named; loads back the same", () => {
  const cfg = load(`
defaults:
  quality: { min_asr: 30% }
rules:
  - routes:
      - { name: a, target: "192.0.2.10", quality: { window: 5m, min_calls: 50, min_asr: 0.25, max_pdd: 4s } }
      - { name: b, target: "192.0.2.20" }
      - { name: c, target: "192.0.2.30", quality: false }
`);
  const [a, b, c] = cfg.rules[0].routes;
  assert.deepEqual(a.quality, { window: 300_000, minCalls: 50, minAsr: 0.25, maxPdd: 4000 });
  assert.deepEqual(b.quality, { window: 600_000, minCalls: 20, minAsr: 0.3 });
  assert.equal(c.quality, undefined);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(
    back.rules[0].routes.map((r) => r.quality),
    cfg.rules[0].routes.map((r) => r.quality),
  );
  assert.deepEqual(
    errorsOf(
      'rules:\n  - routes:\n      - target: "192.0.2.1"\n' +
        "        quality: { min_asr: 130%, window: 1s }\n" +
        '      - { target: "192.0.2.2", quality: { min_calls: 5 } }\n',
    ),
    [
      'F:4: rules[0].routes[0].quality.window: expected a duration between 10s and 24h (seconds, or a string like "500ms", "5s", "2m", "1h"), got "1s"',
      'F:4: rules[0].routes[0].quality.min_asr: expected a share of calls answered, "30%" or 0.3, got "130%"',
      "F:5: rules[0].routes[1].quality: expected min_asr or max_pdd (or both), got a map",
    ],
  );
});

Deno.test("record: a rule whose routes anchor media on rtpengine; any other route is named", () => {
  const media = `media:\n  rtpengine: [{ address: 127.0.0.1, port: 22222 }]\n`;
  const cfg = load(`${media}rules:
  - name: recorded
    record: true
    routes: [{ target: "192.0.2.10", media: rtpengine }]
`);
  assert.equal(cfg.rules[0].record, true);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.equal(back.rules[0].record, true);
  assert.deepEqual(
    errorsOf(`${media}rules:
  - record: true
    routes:
      - { target: "192.0.2.10", media: rtpengine }
      - { target: "192.0.2.11" }
`),
    [
      'F:7: rules[0].routes[1].media: expected rtpengine in a rule with record (rtpengine records the calls), got "none"',
    ],
  );
});

Deno.test("trusted: false on a route or in defaults, true turning a default off; loads back the same", () => {
  const cfg = load(`
defaults:
  trusted: false
rules:
  - routes:
      - { name: a, target: "192.0.2.10" }
      - { name: b, target: "192.0.2.20", trusted: true }
`);
  const [a, b] = cfg.rules[0].routes;
  assert.equal(a.trusted, false);
  assert.equal(b.trusted, undefined);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.rules[0].routes.map((r) => r.trusted), [false, undefined]);
  assert.deepEqual(
    errorsOf('rules:\n  - routes: [{ target: "192.0.2.1", trusted: maybe }]\n'),
    ['F:2: rules[0].routes[0].trusted: expected true or false, got "maybe"'],
  );
});

Deno.test("registrar.nat_keepalive: 25 s by default, a duration or false; loads back the same", () => {
  const reg = (extra: string) =>
    load(`registrar: { target: "192.0.2.50:5060"${extra} }\n`).registrar!;
  assert.equal(reg("").natKeepalive, 25_000);
  assert.equal(reg(", nat_keepalive: 10s").natKeepalive, 10_000);
  assert.equal(reg(", nat_keepalive: false").natKeepalive, undefined);
  for (const extra of ["", ", nat_keepalive: false"]) {
    const cfg = load(`registrar: { target: "192.0.2.50:5060"${extra} }\n`);
    const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
      env: {},
    });
    assert.equal(back.registrar!.natKeepalive, cfg.registrar!.natKeepalive);
  }
  assert.match(
    errorsOf('registrar: { target: "192.0.2.50", nat_keepalive: 1s }\n')[0],
    /registrar\.nat_keepalive: expected a duration between 5s and 10m/,
  );
});

// Call limits in the configuration: `limits` of rules and routes (and `defaults`), one set of
// limits per route name, and the effective configuration that loads back the same.

import assert from "node:assert/strict";
import { effectiveConfigText, parseConfig } from "../../src/config/mod.ts";
import { workerConfig } from "../../src/app/cluster.ts";
import { errorsOf, load } from "./with-certs.ts";

const RULES = `
defaults:
  limits: { max_cps: 50 }
rules:
  - name: customer-a
    limits: { max_calls: 30, max_cps: 5 }
    match: { source: [10.1.0.0/16] }
    routes:
      - { name: carrier-a, target: "192.0.2.10", limits: { max_calls: 60 } }
      - { name: carrier-b, target: "192.0.2.20" }
  - name: others
    routes:
      - { name: carrier-a, target: "192.0.2.10", limits: { max_calls: 60 } }
`;

Deno.test("limits: rules and routes take max_calls and max_cps; defaults give routes theirs", () => {
  const cfg = load(RULES);
  const [a, others] = cfg.rules;
  assert.deepEqual(a.limits, { maxCalls: 30, maxCps: 5 });
  assert.equal(others.limits, undefined);
  assert.deepEqual(a.routes.map((r) => r.limits), [{ maxCalls: 60 }, { maxCps: 50 }]);
  assert.deepEqual(others.routes[0].limits, { maxCalls: 60 });
});

Deno.test("limits: bad values name the file, the key and what is wrong", () => {
  assert.deepEqual(
    errorsOf(
      "rules:\n  - limits: { max_calls: 0, max_cps: fast, max_call: 3 }\n" +
        '    routes: [{ target: "192.0.2.1", limits: { max_calls: 2.5 } }]\n',
    ),
    [
      "F:2: rules[0].limits.max_call: expected one of the keys max_calls, max_cps, got unknown key " +
      '"max_call" (did you mean "max_calls"?)',
      "F:2: rules[0].limits.max_calls: expected an integer (1-10000000), got 0",
      'F:2: rules[0].limits.max_cps: expected an integer (1-100000), got "fast"',
      "F:3: rules[0].routes[0].limits.max_calls: expected an integer (1-10000000), got 2.5",
    ],
  );
});

Deno.test("limits: routes of one name must agree on their limits (they share one counter)", () => {
  assert.deepEqual(
    errorsOf(
      "rules:\n  - name: a\n    routes:\n" +
        '      - { name: trunk, target: "192.0.2.1", limits: { max_calls: 10 } }\n' +
        "  - name: b\n    routes:\n" +
        '      - { name: trunk, target: "192.0.2.1" }\n',
    ),
    [
      'F:7: rules[1].routes[0].limits: expected the limits of the route named "trunk" at ' +
      "rules[0].routes[0] (routes of one name share one counter), got no limits",
    ],
  );
});

Deno.test("limits: the effective configuration loads back with the same limits", () => {
  const cfg = load(RULES);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(
    back.rules.map((r) => [r.limits, r.routes.map((x) => x.limits)]),
    cfg.rules.map((r) => [r.limits, r.routes.map((x) => x.limits)]),
  );
});

Deno.test("limits: with several SIP workers each takes its share, rounded up", () => {
  const cfg = workerConfig(load(RULES), 1, 4);
  assert.deepEqual(cfg.rules[0].limits, { maxCalls: 8, maxCps: 2 });
  assert.deepEqual(cfg.rules[0].routes.map((r) => r.limits), [{ maxCalls: 15 }, { maxCps: 13 }]);
  assert.equal(cfg.rules[1].limits, undefined);
});

Deno.test("limits.per_source: max_requests, ban (default 60s) and trusted blocks", () => {
  const cfg = load(
    "limits:\n  per_source: { max_requests: 50, trusted: [10.0.0.0/8, 2001:db8::1] }\n",
  );
  assert.deepEqual(cfg.limits.perSource, {
    maxRequests: 50,
    banMs: 60_000,
    trusted: ["10.0.0.0/8", "2001:db8::1"],
    ipv6Prefix: 64,
  });
  assert.equal(
    load("limits:\n  per_source: { max_requests: 5, ipv6_prefix: 128 }\n").limits.perSource
      ?.ipv6Prefix,
    128,
  );
  assert.equal(load("limits: { max_calls: 10 }\n").limits.perSource, undefined, "off by default");
  assert.deepEqual(
    errorsOf("limits:\n  per_source: { ban: 100ms, trusted: [10.0.0.0/33] }\n"),
    [
      "F:2: limits.per_source.max_requests: expected new requests a second allowed from one " +
      "address, got nothing",
      "F:2: limits.per_source.ban: expected a duration between 1s and 24h (seconds, or a string " +
      'like "500ms", "5s", "2m", "1h"), got "100ms"',
      'F:2: limits.per_source.trusted[0]: expected a CIDR block like "10.0.0.0/8" or ' +
      '"2001:db8::/32", got "10.0.0.0/33"',
    ],
  );
  const back = parseConfig(
    effectiveConfigText(load("limits:\n  per_source: { max_requests: 7, ban: 2m }\n")),
    "p.yaml",
    "yaml",
    { env: {} },
  );
  assert.deepEqual(back.limits.perSource, {
    maxRequests: 7,
    banMs: 120_000,
    trusted: [],
    ipv6Prefix: 64,
  });
  assert.equal(
    workerConfig(load("limits:\n  per_source: { max_requests: 7 }\n"), 0, 2).limits.perSource
      ?.maxRequests,
    4,
  );
});

Deno.test("limits.drop_user_agents: fragments kept in lower case; empty ones refused; loads back", () => {
  const cfg = load('limits:\n  drop_user_agents: [friendly-scanner, "SIPVicious", " sipcli "]\n');
  assert.deepEqual(cfg.limits.dropUserAgents, ["friendly-scanner", "sipvicious", "sipcli"]);
  assert.deepEqual(
    load("limits: { max_calls: 10 }\n").limits.dropUserAgents,
    [],
    "none by default",
  );
  assert.deepEqual(load("limits:\n  drop_user_agents: sipcli\n").limits.dropUserAgents, ["sipcli"]);
  assert.deepEqual(errorsOf('limits:\n  drop_user_agents: [friendly-scanner, "  "]\n'), [
    'F:2: limits.drop_user_agents[1]: expected a User-Agent fragment, got "  "',
  ]);
  const back = parseConfig(effectiveConfigText(cfg), "p.yaml", "yaml", { env: {} });
  assert.deepEqual(back.limits.dropUserAgents, cfg.limits.dropUserAgents);
});

Deno.test("rules: priority (emergency calls past load shedding) is a boolean, off by default; loads back", () => {
  const cfg = load(`
rules:
  - name: emergency
    priority: true
    match: { ruri_user_prefix: ["911", "112"] }
    routes: [{ name: psap, target: "192.0.2.30" }]
  - name: others
    routes: [{ name: carrier-a, target: "192.0.2.10" }]
`);
  assert.equal(cfg.rules[0].priority, true);
  assert.equal(cfg.rules[1].priority, undefined);
  const back = parseConfig(effectiveConfigText(cfg), "p.yaml", "yaml", { env: {} });
  assert.deepEqual(back.rules.map((r) => r.priority), [true, undefined]);
  assert.deepEqual(
    errorsOf('rules: [{ name: e, priority: "yes", routes: [{ target: "192.0.2.1" }] }]\n'),
    ['F:1: rules[0].priority: expected true or false, got "yes"'],
  );
});

Deno.test("rules: reject (a block list) takes a status or { status, reason } instead of routes", () => {
  const cfg = load(`
rules:
  - { name: premium, match: { ruri_user_prefix: ["1900"] }, reject: 403 }
  - { name: nuisance, match: { from_user_prefix: ["4420"] }, reject: { status: 603, reason: Declined } }
  - { name: others, routes: [{ target: "192.0.2.10" }] }
`);
  assert.deepEqual(cfg.rules.map((r) => [r.reject, r.routes.length]), [
    [{ status: 403 }, 0],
    [{ status: 603, reason: "Declined" }, 0],
    [undefined, 1],
  ]);
  const back = parseConfig(effectiveConfigText(cfg), "p.yaml", "yaml", { env: {} });
  assert.deepEqual(back.rules, cfg.rules);
  assert.deepEqual(
    errorsOf(
      "rules:\n" +
        "  - { name: a, reject: 200 }\n" +
        '  - { name: b, reject: { reason: "x" } }\n' +
        '  - { name: c, reject: 486, routes: [{ target: "192.0.2.1" }] }\n' +
        "  - { name: d }\n",
    ),
    [
      "F:2: rules[0].reject: expected a final status (400-699), got 200",
      "F:3: rules[1].reject.status: expected a final status (400-699), got nothing",
      'F:4: rules[2].routes: expected no routes in a rule with reject, got "a list of routes"',
      "F:5: rules[3].routes: expected a list of routes (or reject, or route_table), got nothing",
    ],
  );
});

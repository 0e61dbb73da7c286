// Loading files: formats by extension, defaults, environment substitution, the shipped files.
import assert from "node:assert/strict";
import {
  ConfigError,
  DEFAULT_CONFIG_YAML,
  defaultConfig,
  effectiveConfigText,
  loadConfigFile,
  matchRule,
  parseConfig,
} from "../../src/config/mod.ts";

const root = new URL("../../", import.meta.url).pathname;
const exampleEnv = {
  TANDEM_TOKEN: "tok",
  CARRIER_A_PASSWORD: "pw",
  RADIUS_SECRET: "s3",
  CDR_WEBHOOK_TOKEN: "wh",
};

Deno.test("defaults: a minimal file gets every default", () => {
  const cfg = parseConfig('rules:\n  - routes: [{ target: "192.0.2.1" }]\n', "m.yaml", "yaml", {
    env: {},
  });
  assert.equal(cfg.source, "m.yaml");
  assert.deepEqual(cfg.sip.listen, [
    { address: "0.0.0.0", port: 5060, transports: ["udp", "tcp"] },
    { address: "::", port: 5060, transports: ["udp", "tcp"] },
  ]);
  assert.equal(cfg.sip.t1, 500);
  assert.equal(cfg.sip.t2, 4000);
  assert.equal(cfg.sip.tcpIdleTimeout, 120_000);
  assert.deepEqual(cfg.http, { address: "127.0.0.1", port: 8080 });
  assert.deepEqual(cfg.log, { level: "info", format: "json" });
  assert.deepEqual(cfg.limits, {
    maxCalls: 150_000,
    retryAfter: 5,
    drainTimeout: 60_000,
    dropUserAgents: [],
  });
  assert.equal(cfg.radius, undefined);
  assert.equal(cfg.cdr, undefined);
  assert.equal(cfg.media, undefined);
  const [rule] = cfg.rules;
  assert.deepEqual(rule.auth, { mode: "none", realm: "tandem", onTimeout: "reject" });
  assert.deepEqual(rule.match, {});
  assert.equal(rule.order, "listed");
  assert.deepEqual(rule.routes[0], {
    name: "rule-1-1",
    host: "192.0.2.1",
    port: 5060,
    transport: "udp",
    weight: 1,
    timers: { noProgress: 5000 },
    stopCodes: [486, 600, 603],
    failoverOnTimeout: true,
    followRedirects: false,
    headers: { add: {}, pass: ["x-*"], remove: [] },
    media: "none",
  });
});

Deno.test("defaults section merges into routes; a route's own values win; 0 turns a timer off", () => {
  const cfg = parseConfig(
    `defaults:
  timers: { no_progress: 3s, no_answer: 30s }
  stop_codes: [486]
  headers: { add: { X-A: a }, pass: [x-foo] }
  keepalive: { interval: 30s }
rules:
  - routes:
      - { target: "10.0.0.1:5070", timers: { no_answer: 0, max_duration: 1h }, headers: { add: { X-B: b } } }
      - { uri: "sip:[2001:db8::1]:5080;transport=TCP", stop_codes: [404], keepalive: false }
`,
    "d.yaml",
    "yaml",
    { env: {} },
  );
  const [a, b] = cfg.rules[0].routes;
  assert.deepEqual(a.timers, { noProgress: 3000, maxDuration: 3_600_000 });
  assert.deepEqual(a.stopCodes, [486]);
  assert.deepEqual(a.headers, { add: { "X-A": "a", "X-B": "b" }, pass: ["x-foo"], remove: [] });
  assert.deepEqual(a.keepalive, { method: "OPTIONS", interval: 30_000 });
  assert.deepEqual([b.host, b.port, b.transport], ["2001:db8::1", 5080, "tcp"]);
  assert.deepEqual(b.timers, { noProgress: 3000, noAnswer: 30_000 });
  assert.deepEqual(b.stopCodes, [404]);
  assert.equal(b.keepalive, undefined);
});

Deno.test("environment substitution: ${NAME}, ${NAME:-fallback}, $${ literal, numbers", () => {
  const cfg = parseConfig(
    `http: { listen: "127.0.0.1:\${HTTP_PORT:-9090}", token: "\${TOK}" }
limits: { max_calls: "\${MAX}" }
rules:
  - routes: [{ target: "127.0.0.1", headers: { add: { X-Lit: "$\${x}", X-Env: "a-\${TOK}-b" } } }]
`,
    "e.yaml",
    "yaml",
    { env: { TOK: "secret", MAX: "42" } },
  );
  assert.deepEqual(cfg.http, { address: "127.0.0.1", port: 9090, token: "secret" });
  assert.equal(cfg.limits.maxCalls, 42);
  assert.deepEqual(cfg.rules[0].routes[0].headers.add, { "X-Lit": "${x}", "X-Env": "a-secret-b" });
  // The process environment is the default.
  Deno.env.set("TANDEM_TEST_TOKEN", "from-env");
  const c2 = parseConfig('http: { token: "${TANDEM_TEST_TOKEN}" }\n', "e.yaml", "yaml");
  assert.equal(c2.http?.token, "from-env");
});

Deno.test("http: false disables the API", () => {
  assert.equal(parseConfig("http: false\n", "h.yaml", "yaml").http, undefined);
  assert.equal(parseConfig("http = false\n", "h.toml", "toml").http, undefined);
});

Deno.test("embedded default: dual-stack 5060 UDP+TCP, HTTP on loopback, no rules", () => {
  const cfg = defaultConfig();
  assert.equal(cfg.source, "<embedded>");
  assert.deepEqual(cfg.sip.listen.map((l) => `${l.address} ${l.port} ${l.transports}`), [
    "0.0.0.0 5060 udp,tcp",
    ":: 5060 udp,tcp",
  ]);
  assert.deepEqual(cfg.http, { address: "127.0.0.1", port: 8080 });
  assert.deepEqual(cfg.rules, []);
  assert.match(DEFAULT_CONFIG_YAML, /404/);
  assert.equal(
    matchRule(cfg.rules, { ruriUser: "123", fromUser: "a", sourceIp: "192.0.2.1" }),
    undefined,
  );
});

Deno.test("example YAML and TOML load to the same Config", () => {
  const y = loadConfigFile(`${root}config/tandem.example.yaml`, { env: exampleEnv });
  const t = loadConfigFile(`${root}config/tandem.example.toml`, { env: exampleEnv });
  assert.equal(y.rules[1].routes[0].auth?.password, "pw");
  assert.equal(y.radius?.servers[0].secret, "s3");
  assert.deepEqual({ ...t, source: "" }, { ...y, source: "" });
});

Deno.test("the example names the environment variables it needs", () => {
  assert.throws(
    () => loadConfigFile(`${root}config/tandem.example.toml`, { env: {} }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.errors.map((i) => `${i.line} ${i.path}`), [
        "42 http.token",
        "88 rules[1].routes[0].auth.password",
        "166 radius.servers[0].secret",
        "185 cdr.webhook.headers.Authorization",
      ]);
      return true;
    },
  );
});

Deno.test("acceptance config: listens on both loopbacks and routes per the kit", () => {
  const cfg = loadConfigFile(`${root}config/acceptance.yaml`, { env: {} });
  assert.deepEqual(cfg.sip.listen.map((l) => `${l.address} ${l.port} ${l.transports}`), [
    "127.0.0.1 5060 udp,tcp",
    "::1 5060 udp,tcp",
  ]);
  assert.deepEqual(cfg.http, { address: "127.0.0.1", port: 8080 });
  const route = (user: string) =>
    matchRule(cfg.rules, { ruriUser: user, fromUser: "sipp", sourceIp: "127.0.0.1" });
  const hops = (user: string) =>
    route(user)!.routes.map((r) => `${r.host}:${r.port}/${r.transport}`);
  assert.deepEqual(hops("fo503-kit"), ["127.0.0.1:5091/udp", "127.0.0.1:5090/udp"]);
  assert.deepEqual(hops("fodead-kit"), ["127.0.0.1:5093/udp", "127.0.0.1:5090/udp"]);
  assert.equal(route("fodead-kit")!.routes[0].timers.noProgress, 2000);
  assert.ok(route("fodead-kit")!.routes[0].failoverOnTimeout);
  assert.deepEqual(route("auth-kit")!.routes[0].auth, { username: "kit", password: "kitpass" });
  assert.deepEqual(route("noans-kit")!.routes[0].timers, { noProgress: 5000, noAnswer: 3000 });
  assert.deepEqual(route("maxdur-kit")!.routes[0].timers, { noProgress: 5000, maxDuration: 3000 });
  for (const u of ["basic", "cancel", "", "fo50", "kit-fo503"]) {
    assert.deepEqual(hops(u), ["127.0.0.1:5090/udp"]);
  }
  // 503 is not a stop code, so fo503 fails over; extension headers pass.
  assert.ok(!route("fo503-kit")!.routes[0].stopCodes.includes(503));
  assert.deepEqual(route("basic")!.routes[0].headers.pass, ["x-*"]);
  for (const rule of cfg.rules) for (const r of rule.routes) assert.equal(r.ruriUser, undefined);
});

Deno.test("loadConfigFile: unknown extension and missing file are ConfigErrors", () => {
  assert.throws(
    () => loadConfigFile("/etc/tandem.conf"),
    /^ConfigError: \/etc\/tandem\.conf: expected a \.yaml, \.yml or \.toml file name$/,
  );
  assert.throws(
    () => loadConfigFile("/nonexistent/t.yaml"),
    /\/nonexistent\/t\.yaml: cannot read the file/,
  );
});

Deno.test("effectiveConfigText: masks secrets and, unmasked, loads back to the same Config", () => {
  const y = loadConfigFile(`${root}config/tandem.example.yaml`, { env: exampleEnv });
  const text = effectiveConfigText(y);
  for (const secret of ["tok", "pw", "s3", "Bearer wh"]) {
    assert.ok(!text.includes(`: ${secret}\n`), secret);
  }
  assert.match(text, /token: "\*{8}"/);
  assert.match(text, /Authorization: "\*{8}"/);
  const back = parseConfig(effectiveConfigText(y, { mask: false }), "p.yaml", "yaml", { env: {} });
  assert.deepEqual({ ...back, source: "" }, { ...y, source: "" });
  const acc = loadConfigFile(`${root}config/acceptance.yaml`, { env: {} });
  const acc2 = parseConfig(effectiveConfigText(acc), "p.yaml", "yaml", { env: {} });
  assert.equal(acc2.rules[2].routes[0].auth?.password, "********");
  assert.deepEqual({ ...acc2, rules: [], source: "" }, { ...acc, rules: [], source: "" });
});

Deno.test("cdr.refused: on by default, off when set false", () => {
  const on = parseConfig("cdr: { dir: /tmp/x }\n", "c.yaml", "yaml", { env: {} });
  assert.equal(on.cdr?.refused, true);
  const off = parseConfig("cdr: { dir: /tmp/x, refused: false }\n", "c.yaml", "yaml", { env: {} });
  assert.equal(off.cdr?.refused, false);
  const back = parseConfig(effectiveConfigText(off, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.equal(back.cdr?.refused, false);
});

Deno.test("cdr.checkpoint: 1 s by default, a duration or false; too short refused", () => {
  const parse = (cdr: string) =>
    parseConfig(`cdr: { dir: /tmp/x${cdr} }\n`, "c.yaml", "yaml", {
      env: {},
    });
  assert.equal(parse("").cdr?.checkpoint, 1000);
  assert.equal(parse(", checkpoint: 5s").cdr?.checkpoint, 5000);
  assert.equal(parse(", checkpoint: false").cdr?.checkpoint, 0);
  assert.equal(parse(", checkpoint: 0").cdr?.checkpoint, 0);
  for (const v of ["5s", "false"]) {
    const cfg = parse(`, checkpoint: ${v}`);
    const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
      env: {},
    });
    assert.deepEqual(back.cdr, cfg.cdr);
  }
  assert.throws(
    () => parse(", checkpoint: 10ms"),
    /c\.yaml:1: cdr\.checkpoint: expected a duration between 100ms and 1h/,
  );
});

Deno.test("cdr.sip_headers: header names, lowercased, once each; anything else refused", () => {
  const cfg = parseConfig(
    "cdr: { dir: /tmp/cdr, sip_headers: [X-Account, P-Asserted-Identity, x-account] }\n",
    "c.yaml",
    "yaml",
    { env: {} },
  );
  assert.deepEqual(cfg.cdr?.sipHeaders, ["x-account", "p-asserted-identity"]);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.cdr, cfg.cdr);
  assert.throws(
    () => parseConfig('cdr: { dir: /tmp/cdr, sip_headers: ["X Account"] }\n', "c.yaml", "yaml"),
    /c\.yaml:1: cdr\.sip_headers\[0\]: expected a header name \(token characters only\), got "X Account"/,
  );
});

Deno.test("hep: target, agent id (2001 by default), password masked; bad values named", () => {
  const cfg = parseConfig(
    'hep: { target: "[2001:db8::9]:9061", password: s3cret }\n',
    "c.yaml",
    "yaml",
    { env: {} },
  );
  assert.deepEqual(cfg.hep, { host: "2001:db8::9", port: 9061, agentId: 2001, password: "s3cret" });
  assert.deepEqual(parseConfig('hep: { target: "192.0.2.9" }\n', "c.yaml", "yaml").hep, {
    host: "192.0.2.9",
    port: 9060,
    agentId: 2001,
  });
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.hep, cfg.hep);
  assert.doesNotMatch(effectiveConfigText(cfg), /s3cret/);
  assert.throws(
    () => parseConfig('hep: { target: "homer.example:9060", agent_id: -1 }\n', "c.yaml", "yaml"),
    (e: Error) => /hep\.target/.test(e.message) && /hep\.agent_id/.test(e.message),
  );
});

Deno.test("sip.udp_send_thread: off by default, true turns it on, anything else is refused", () => {
  const parse = (text: string) => parseConfig(text, "t.yaml", "yaml", { env: {} });
  assert.equal(parse("log: { level: info }\n").sip.udpSendThread, false);
  const on = parse("sip:\n  udp_send_thread: true\n");
  assert.equal(on.sip.udpSendThread, true);
  assert.match(effectiveConfigText(on), /udp_send_thread: true/);
  assert.throws(
    () => parse("sip:\n  udp_send_thread: yes-please\n"),
    (e: unknown) =>
      e instanceof ConfigError && /sip\.udp_send_thread: expected true or false/.test(e.message),
  );
});

// Every error family is reported as FILE:LINE: key.path: expected X, got Y, all at once.
import assert from "node:assert/strict";
import { ConfigError, formatIssue, parseConfig } from "../../src/config/mod.ts";

function errorsOf(text: string, format: "yaml" | "toml" = "yaml", env = {}): string[] {
  try {
    parseConfig(text, "t." + format, format, { env });
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message, e.errors.map(formatIssue).join("\n"));
    return e.message.split("\n");
  }
  throw new Error("expected a ConfigError");
}

const route = (extra: string) => `rules:\n  - routes:\n      - target: "127.0.0.1:5090"\n${extra}`;

Deno.test("three mistakes in one file give three errors, in line order", () => {
  const errs = errorsOf(`sip:
  listen:
    - { address: 0.0.0.0, port: 70000 }
log: { level: loud }
limits: { drain_timeout: 5 parsecs }
`);
  assert.deepEqual(errs, [
    "t.yaml:3: sip.listen[0].port: expected a port (1-65535), got 70000",
    't.yaml:4: log.level: expected one of debug, info, warn, error, got "loud"',
    't.yaml:5: limits.drain_timeout: expected a duration (seconds, or a string like "500ms", "5s", "2m", "1h"), got "5 parsecs"',
  ]);
});

Deno.test("unknown keys are named, with a near-miss hint", () => {
  const [e] = errorsOf("sip:\n  listn: []\n");
  assert.match(
    e,
    /^t\.yaml:2: sip\.listn: expected one of the keys listen, .*got unknown key "listn" \(did you mean "listen"\?\)$/,
  );
  assert.match(errorsOf("bogus: 1\n")[0], /^t\.yaml:1: bogus: expected one of the keys sip, http/);
});

Deno.test("wrong types", () => {
  assert.deepEqual(errorsOf("sip:\n  listen: 5060\nrules: {}\n"), [
    "t.yaml:2: sip.listen: expected a list, got 5060",
    "t.yaml:3: rules: expected a list, got a map",
  ]);
  assert.deepEqual(errorsOf(route("        follow_redirects: yes\n")), [
    't.yaml:4: rules[0].routes[0].follow_redirects: expected true or false, got "yes"',
  ]);
});

Deno.test("bad addresses: IP literals only, IPv6 accepted", () => {
  assert.deepEqual(
    errorsOf(
      "sip:\n  listen:\n    - { address: 300.1.1.1 }\n    - { address: 'fe80::1::2' }\n    - { address: '::1' }\n",
    ),
    [
      't.yaml:3: sip.listen[0].address: expected an IP address literal (IPv4 or IPv6), got "300.1.1.1"',
      't.yaml:4: sip.listen[1].address: expected an IP address literal (IPv4 or IPv6), got "fe80::1::2"',
    ],
  );
  assert.deepEqual(errorsOf('rules:\n  - routes:\n      - target: "300.1.1.1:5060"\n'), [
    't.yaml:3: rules[0].routes[0].target: expected an IP address or a host name like sip.carrier.example, got "300.1.1.1"',
  ]);
  assert.deepEqual(errorsOf("http: { listen: 'localhost:99999' }\n"), [
    't.yaml:1: http.listen: expected an IP address and port like "127.0.0.1:8080" or "[::1]:8080", got "localhost:99999"',
  ]);
});

Deno.test("ports out of range", () => {
  assert.deepEqual(
    errorsOf(
      'rules:\n  - routes:\n      - { target: "[::1]:0" }\n      - { uri: "sip:10.0.0.1:65536" }\n',
    ),
    [
      "t.yaml:3: rules[0].routes[0].target: expected a port (1-65535), got 0",
      "t.yaml:4: rules[0].routes[1].uri: expected a port (1-65535), got 65536",
    ],
  );
});

Deno.test("bad durations, sizes and ranges", () => {
  assert.deepEqual(errorsOf("sip:\n  timers: { t1: 20 }\n  max_message_size: 12XB\n"), [
    't.yaml:2: sip.timers.t1: expected a duration between 10ms and 10s (seconds, or a string like "500ms", "5s", "2m", "1h"), got 20',
    't.yaml:3: sip.max_message_size: expected a size of at least 1500 bytes (bytes, or a string like "64KiB", "64MiB", "1GiB"), got "12XB"',
  ]);
  assert.deepEqual(errorsOf(route("        timers: { no_answer: -3 }\n")), [
    't.yaml:4: rules[0].routes[0].timers.no_answer: expected a duration (seconds, or a string like "500ms", "5s", "2m", "1h"), got -3',
  ]);
});

Deno.test("bad regexes and CIDRs", () => {
  assert.deepEqual(
    errorsOf(
      'rules:\n  - match:\n      ruri_user_regex: "(00"\n      source: [10.0.0.0/33, 10.0.0.0/8]\n    routes: [{ target: "127.0.0.1" }]\n',
    ),
    [
      't.yaml:3: rules[0].match.ruri_user_regex: expected a valid regular expression, got "(00" (Invalid regular expression: /(00/: Unterminated group)',
      't.yaml:4: rules[0].match.source[0]: expected a CIDR block like "10.0.0.0/8" or "2001:db8::/32", got "10.0.0.0/33"',
    ],
  );
});

Deno.test("CR, LF and NUL are refused in anything that reaches a SIP message", () => {
  const errs = errorsOf(route(`        headers: { add: { X-Foo: "a\\r\\nVia: evil" } }
        caller_id: { user: "bob\\n", display: "Bob\\u0000" }
        auth: { username: "kit\\r", password: kitpass }
        ruri_user: { prefix: "00\\n", regex: "^0", replace: "\\r" }
`));
  assert.deepEqual(errs, [
    't.yaml:4: rules[0].routes[0].headers.add.X-Foo: expected text without CR, LF or NUL, got "a\\r\\nVia: evil"',
    't.yaml:5: rules[0].routes[0].caller_id.user: expected text without CR, LF or NUL, got "bob\\n"',
    't.yaml:5: rules[0].routes[0].caller_id.display: expected text without CR, LF or NUL, got "Bob\\u0000"',
    't.yaml:6: rules[0].routes[0].auth.username: expected text without CR, LF or NUL, got "kit\\r"',
    't.yaml:7: rules[0].routes[0].ruri_user.prefix: expected text without CR, LF or NUL, got "00\\n"',
    't.yaml:7: rules[0].routes[0].ruri_user.replace: expected text without CR, LF or NUL, got "\\r"',
  ]);
  assert.deepEqual(errorsOf(route('        headers: { add: { "X Bad": v, Call-ID: x } }\n')), [
    't.yaml:4: rules[0].routes[0].headers.add.X Bad: expected a header name (token characters only), got "X Bad"',
    't.yaml:4: rules[0].routes[0].headers.add.Call-ID: expected a header the B2BUA does not build itself, got "Call-ID"',
  ]);
});

Deno.test("an unset environment variable is an error naming it", () => {
  assert.deepEqual(errorsOf('http: { token: "${TANDEM_TOKEN}" }\n'), [
    "t.yaml:1: http.token: expected environment variable TANDEM_TOKEN to be set, got TANDEM_TOKEN unset",
  ]);
});

Deno.test("cross-section checks: auth needs radius, media needs relays", () => {
  assert.deepEqual(
    errorsOf(
      'rules:\n  - auth: { mode: digest }\n    routes: [{ target: "127.0.0.1", media: rtpengine }]\n',
    ),
    [
      "t.yaml:2: rules[0].auth.mode: expected a radius section with servers for auth mode digest, got none",
      "t.yaml:3: rules[0].routes[0]: expected media.rtpengine servers for media rtpengine, got none",
    ],
  );
});

Deno.test("route shape: exactly one of target, uri, host; at least one route", () => {
  assert.deepEqual(
    errorsOf(
      'rules:\n  - name: a\n    routes: [{ target: "127.0.0.1", host: 127.0.0.1 }]\n  - name: a\n    routes: []\n',
    ),
    [
      "t.yaml:3: rules[0].routes[0]: expected exactly one of target, uri, host, enum, got target and host",
      't.yaml:4: rules[1].name: expected a rule name not used before, got "a"',
      "t.yaml:5: rules[1].routes: expected at least one route, got a list",
    ],
  );
});

Deno.test("TOML errors carry lines too, including inside arrays of tables", () => {
  assert.deepEqual(
    errorsOf(
      `[sip]
listen = [
  { address = "0.0.0.0" },
  { address = "::", port = 0 },
]

[[rules]]
name = "a"
[[rules.routes]]
target = "127.0.0.1:5090"
[[rules]]
name = "b"
[rules.match]
source = ["nope"]
[[rules.routes]]
target = "127.0.0.1:5090"
[[rules.routes]]
target = "127.0.0.1:5090"
media = "rtp"
`,
      "toml",
    ),
    [
      "t.toml:4: sip.listen[1].port: expected a port (1-65535), got 0",
      't.toml:14: rules[1].match.source[0]: expected a CIDR block like "10.0.0.0/8" or "2001:db8::/32", got "nope"',
      't.toml:19: rules[1].routes[1].media: expected one of none, rtpengine, rtpproxy, got "rtp"',
    ],
  );
});

Deno.test("syntax errors name the line", () => {
  assert.match(errorsOf("sip:\n  listen: [\n")[0], /^t\.yaml:\d+: YAML syntax: Flow sequence/);
  const [y] = errorsOf("a: 1\na: 2\n");
  assert.match(y, /^t\.yaml:2: YAML syntax: /);
  const [t] = errorsOf('a = 1\nb = "\n', "toml");
  assert.match(t, /^t\.toml:2: TOML syntax: /);
});

Deno.test("sip.workers: a count or auto; above 1, SIP over TCP is refused where it is asked", () => {
  const ok = (text: string) => parseConfig(text, "t.yaml", "yaml", { env: {} });
  const udp = "sip:\n  listen: [{ address: 127.0.0.1, transports: [udp] }]\n";
  assert.equal(ok(udp + "  workers: 3\n").sip.workers, 3);
  assert.equal(ok("sip: {}\n").sip.workers, 1);
  assert.ok(ok(udp + "  workers: auto\n").sip.workers >= 1);
  assert.deepEqual(errorsOf(udp + "  workers: 0\n"), [
    "t.yaml:3: sip.workers: expected an integer (1-64), got 0",
  ]);
  assert.deepEqual(errorsOf(udp + "  workers: many\n"), [
    't.yaml:3: sip.workers: expected a number from 1 to 64 or "auto", got "many"',
  ]);
  assert.deepEqual(
    errorsOf(
      "sip:\n  listen:\n    - { address: 127.0.0.1, transports: [udp, tcp] }\n  workers: 2\n" +
        'rules:\n  - routes:\n      - { target: "127.0.0.1:5090", transport: tcp }\n',
    ),
    [
      "t.yaml:3: sip.listen[0].transports: expected udp only with sip.workers 2 (TCP, TLS and " +
      "WebSocket need workers: 1), got udp, tcp",
      "t.yaml:7: rules[0].routes[0].transport: expected udp only with sip.workers 2 (TCP, TLS " +
      'and WebSocket need workers: 1), got "tcp"',
    ],
  );
});

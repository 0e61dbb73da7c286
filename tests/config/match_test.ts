// Rule matching, user rewriting, CIDR blocks and units.
import assert from "node:assert/strict";
import {
  applyUserRewrite,
  formatDuration,
  inCidr,
  isIp,
  isPrivateIp,
  matchRule,
  parseConfig,
  parseDuration,
  parseSize,
} from "../../src/config/mod.ts";

Deno.test("matchRule: first rule whose every criterion holds; empty match catches all", () => {
  const { rules } = parseConfig(
    `rules:
  - name: corp-intl
    match: { ruri_user_prefix: ["00"], source: [10.0.0.0/8, "2001:db8::/32"], from_user_regex: "^1" }
    routes: [{ target: "192.0.2.1" }]
  - name: intl
    match: { ruri_user_regex: "^00[1-9]" }
    routes: [{ target: "192.0.2.2" }]
  - name: bob
    match: { from_user_prefix: [bob, alice] }
    routes: [{ target: "192.0.2.3" }]
  - name: rest
    routes: [{ target: "192.0.2.4" }]
`,
    "r.yaml",
    "yaml",
    { env: {} },
  );
  const name = (ruriUser: string, fromUser: string, sourceIp: string) =>
    matchRule(rules, { ruriUser, fromUser, sourceIp })?.name;
  assert.equal(name("0044", "100", "10.1.2.3"), "corp-intl");
  assert.equal(name("0044", "100", "2001:db8::5"), "corp-intl");
  assert.equal(name("0044", "100", "::ffff:10.1.2.3"), "corp-intl");
  assert.equal(name("0044", "200", "10.1.2.3"), "intl");
  assert.equal(name("0044", "100", "192.0.2.9"), "intl");
  assert.equal(name("555", "alice", "192.0.2.9"), "bob");
  assert.equal(name("555", "carol", "192.0.2.9"), "rest");
  assert.equal(
    matchRule(rules.slice(0, 3), { ruriUser: "5", fromUser: "c", sourceIp: "1.1.1.1" }),
    undefined,
  );
});

Deno.test("applyUserRewrite: strip, then regex replace, then prefix", () => {
  assert.equal(applyUserRewrite({ strip: 1, prefix: "", replace: "" }, "90044"), "0044");
  assert.equal(
    applyUserRewrite({ strip: 0, prefix: "", regex: /^00/, replace: "+" }, "0044123"),
    "+44123",
  );
  assert.equal(
    applyUserRewrite({ strip: 2, prefix: "1", regex: /^(\d)/, replace: "$1$1" }, "xx23"),
    "1223",
  );
});

Deno.test("inCidr: IPv4, IPv6, mapped addresses, odd prefix lengths, garbage", () => {
  assert.ok(inCidr("10.255.0.1", "10.0.0.0/8"));
  assert.ok(!inCidr("11.0.0.1", "10.0.0.0/8"));
  assert.ok(inCidr("192.168.1.130", "192.168.1.128/25"));
  assert.ok(!inCidr("192.168.1.127", "192.168.1.128/25"));
  assert.ok(inCidr("1.2.3.4", "0.0.0.0/0"));
  assert.ok(inCidr("127.0.0.1", "127.0.0.1"));
  assert.ok(inCidr("2001:db8:0:0:1::1", "2001:db8::/32"));
  assert.ok(!inCidr("2001:db9::1", "2001:db8::/32"));
  assert.ok(inCidr("::1", "::1/128"));
  assert.ok(inCidr("::ffff:192.0.2.7", "192.0.2.0/24"));
  assert.ok(inCidr("192.0.2.7", "::ffff:192.0.2.0/120"));
  assert.ok(!inCidr("::1", "0.0.0.0/0"));
  assert.ok(!inCidr("not-an-ip", "10.0.0.0/8"));
  assert.ok(!inCidr("10.0.0.1", "10.0.0.0/40"));
});

Deno.test("isIp: literals only", () => {
  for (
    const ok of [
      "0.0.0.0",
      "::",
      "::1",
      "fe80::1",
      "2001:db8::1:2",
      "::ffff:1.2.3.4",
      "1:2:3:4:5:6:7:8",
    ]
  ) assert.ok(isIp(ok), ok);
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.04",
      "256.1.1.1",
      "a::b::c",
      "1:2:3:4:5:6:7:8:9",
      "host",
      "[::1]",
      "fe80::1%eth0",
    ]
  ) {
    assert.ok(!isIp(bad), bad);
  }
});

Deno.test("durations and sizes", () => {
  assert.equal(parseDuration(5), 5000);
  assert.equal(parseDuration(0.5), 500);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("2m"), 120_000);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("5"), 5000);
  assert.equal(parseDuration("5 s"), undefined);
  assert.equal(parseDuration("-1s"), undefined);
  assert.equal(parseSize("64MiB"), 64 * 1024 * 1024);
  assert.equal(parseSize("1KiB"), 1024);
  assert.equal(parseSize(1500), 1500);
  assert.equal(parseSize("1MB"), undefined);
  assert.equal(formatDuration(90_000), "90s");
  assert.equal(formatDuration(0), "0ms");
});

Deno.test("matchRule: match.headers — each named header present with its first value matching", () => {
  const { rules } = parseConfig(
    `rules:
  - name: acme
    match: { headers: { X-Account: "^acme$", p-asserted-identity: "@acme\\\\.example" } }
    routes: [{ target: "192.0.2.1" }]
  - name: any-account
    match: { headers: { x-account: "." } }
    routes: [{ target: "192.0.2.2" }]
  - name: rest
    routes: [{ target: "192.0.2.3" }]
`,
    "r.yaml",
    "yaml",
    { env: {} },
  );
  const name = (headers: Record<string, string>) =>
    matchRule(rules, {
      ruriUser: "1",
      fromUser: "2",
      sourceIp: "10.0.0.1",
      headers: { get: (n) => headers[n.toLowerCase()] },
    })?.name;
  assert.equal(
    name({ "x-account": "acme", "p-asserted-identity": "<sip:100@acme.example>" }),
    "acme",
  );
  assert.equal(name({ "x-account": "acme" }), "any-account", "both headers are needed");
  assert.equal(
    name({ "x-account": "acme-2", "p-asserted-identity": "@acme.example" }),
    "any-account",
  );
  assert.equal(name({}), "rest");
  assert.equal(
    matchRule(rules, { ruriUser: "1", fromUser: "2", sourceIp: "10.0.0.1" })?.name,
    "rest",
    "no header reader: a header criterion does not hold",
  );
  assert.throws(
    () =>
      parseConfig(
        'rules:\n  - match: { headers: { "X Bad": "a", X-Ok: "(" } }\n    routes: [{ target: "192.0.2.1" }]\n',
        "r.yaml",
        "yaml",
        { env: {} },
      ),
    /r\.yaml:2: rules\[0\]\.match\.headers\.X Bad: expected a header name \(token characters only\), got "X Bad"[\s\S]*rules\[0\]\.match\.headers\.X-Ok: expected a valid regular expression/,
  );
});

Deno.test("matchRule: source blocks — IPv4, IPv4-mapped IPv6 both ways, /0, IPv6, and an address that is not one", () => {
  const { rules } = parseConfig(
    `rules:
  - name: mapped
    match: { source: ["::ffff:192.0.2.0/120"] }
    routes: [{ target: "192.0.2.1" }]
  - name: v6
    match: { source: ["2001:db8::/32", "fe80::1"] }
    routes: [{ target: "192.0.2.1" }]
  - name: odd
    match: { source: [198.51.100.128/25] }
    routes: [{ target: "192.0.2.1" }]
  - name: any-v4
    match: { source: [0.0.0.0/0] }
    routes: [{ target: "192.0.2.1" }]
`,
    "r.yaml",
    "yaml",
    { env: {} },
  );
  const name = (sourceIp: string) =>
    matchRule(rules, { ruriUser: "", fromUser: "", sourceIp })?.name;
  assert.equal(name("192.0.2.7"), "mapped");
  assert.equal(name("::ffff:192.0.2.7"), "mapped");
  assert.equal(name("2001:db8:1::5"), "v6");
  assert.equal(name("fe80::1"), "v6");
  assert.equal(name("198.51.100.200"), "odd");
  assert.equal(name("198.51.100.127"), "any-v4");
  assert.equal(name("::ffff:203.0.113.9"), "any-v4", "a mapped address is its IPv4 address");
  assert.equal(name("2001:db9::1"), undefined, "IPv6 outside every block");
  assert.equal(name("::1"), undefined, "0.0.0.0/0 is IPv4 only");
  assert.equal(name("not-an-ip"), undefined);
});

Deno.test("isPrivateIp: RFC 1918, shared and link-local blocks, IPv6 ULA and link-local; not loopback or public", () => {
  for (
    const ip of [
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.20",
      "100.64.0.1",
      "169.254.1.1",
      "fd00::1",
      "fe80::1",
      "::ffff:192.168.0.1",
    ]
  ) {
    assert.equal(isPrivateIp(ip), true, ip);
  }
  for (
    const ip of [
      "127.0.0.1",
      "172.32.0.1",
      "198.51.100.7",
      "8.8.8.8",
      "2001:db8::1",
      "::1",
      "not-an-ip",
    ]
  ) {
    assert.equal(isPrivateIp(ip), false, ip);
  }
});

Deno.test("isPrivateIp: what is not an IPv4 literal is not private (the in-place reading)", () => {
  for (
    const ip of [
      "10.1.2",
      "10.1.2.3.4",
      "10.01.2.3",
      "10.1.2.256",
      "10..2.3",
      "10.1.2.3.",
      "010.1.2.3",
      "10.1.2.1000",
      "10.a.2.3",
      "",
      "192.168.0.1 ",
    ]
  ) {
    assert.equal(isPrivateIp(ip), false, JSON.stringify(ip));
  }
  assert.equal(isPrivateIp("10.0.0.0"), true);
  assert.equal(isPrivateIp("100.127.255.255"), true);
  assert.equal(isPrivateIp("100.128.0.1"), false);
  assert.equal(isPrivateIp("169.253.1.1"), false);
  assert.equal(isPrivateIp("172.15.0.1"), false);
});

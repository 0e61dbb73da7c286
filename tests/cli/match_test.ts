// `tandem match`: the rule a call comes under and what it does next, from the configuration.

import assert from "node:assert/strict";
import { describeMatch, type MatchQuery } from "../../src/cli/match.ts";
import { parseConfig } from "../../src/config/mod.ts";
import { load } from "../config/with-certs.ts";
import { makePki } from "../stir/pki.ts";

const cfg = load(`
rules:
  - { name: premium, match: { ruri_user_prefix: ["1900"] }, reject: { status: 403, reason: Destination Blocked } }
  - name: acme
    match: { source: [10.1.0.0/16], headers: { X-Account: "^acme$" } }
    auth: { mode: http, on_timeout: allow }
    limits: { max_calls: 30, max_cps: 5 }
    order: round-robin
    routes:
      - { name: carrier-a, target: "192.0.2.10" }
      - { name: carrier-b, target: sip.carrier-b.example, transport: tcp }
  - name: emergency
    priority: true
    match: { ruri_user_prefix: ["911"] }
    routes: [{ name: psap, target: "[2001:db8::9]:5070" }]
http_authorization: { url: "http://127.0.0.1:9000/authorize" }
`);

const q = (over: Partial<MatchQuery>): MatchQuery => ({
  ruriUser: "4412345",
  fromUser: "",
  sourceIp: "192.0.2.1",
  headers: [],
  ...over,
});

Deno.test("match: a reject rule says its answer", () => {
  const a = describeMatch(cfg, q({ ruriUser: "19005550000" }));
  assert.equal(a.matched, true);
  assert.equal(a.text, 'rule "premium" (rule 1 of 3)\n  refused at once: 403 Destination Blocked');
  assert.deepEqual(a.json, {
    rule: "premium",
    index: 0,
    reject: { status: 403, reason: "Destination Blocked" },
  });
});

Deno.test("match: source and header (any case) pick a customer's rule: its routes, auth and limits", () => {
  const a = describeMatch(cfg, q({ sourceIp: "10.1.2.3", headers: [["x-account", "acme"]] }));
  assert.equal(
    a.text,
    [
      'rule "acme" (rule 2 of 3)',
      "  routes (round-robin): carrier-a -> udp:192.0.2.10:5060; carrier-b -> " +
      "tcp:sip.carrier-b.example:5060 (located by DNS: SRV, then A/AAAA)",
      "  auth: http, on timeout allow",
      "  limits: max_calls 30, max_cps 5",
    ].join("\n"),
  );
  assert.deepEqual(a.json.routes, [
    { name: "carrier-a", target: "udp:192.0.2.10:5060" },
    {
      name: "carrier-b",
      target: "tcp:sip.carrier-b.example:5060 (located by DNS: SRV, then A/AAAA)",
    },
  ]);
});

Deno.test("match: a priority rule says so; no rule is a 404", () => {
  const e = describeMatch(cfg, q({ ruriUser: "911" }));
  assert.deepEqual(e.text.split("\n"), [
    'rule "emergency" (rule 3 of 3)',
    "  routes (listed): psap -> udp:[2001:db8::9]:5070",
    "  priority: let in past load shedding and limits.max_calls",
  ]);
  const none = describeMatch(cfg, q({ sourceIp: "10.1.2.3" }));
  assert.equal(none.matched, false, "the header is missing");
  assert.equal(none.text, "no rule matches (of 3): the call gets 404 No Route");
  assert.deepEqual(none.json, { rule: null, answer: 404 });
});

Deno.test("match: STIR/SHAKEN, the rule's settings over the section's", async () => {
  const pki = await makePki();
  try {
    const stir = parseConfig(
      `stir_shaken:
  sign: { key: sp.key, x5u: "https://cert.example.net/sp.pem", attest: C }
  verify: { ca: ca.pem, mode: reject }
rules:
  - { name: pbx, match: { source: [10.0.0.7] }, stir_shaken: { attest: A, verify: "off" }, routes: [{ target: "192.0.2.1" }] }
  - { name: carriers, routes: [{ target: "192.0.2.2" }] }
`,
      `${pki.dir}/tandem.yaml`,
      "yaml",
      { env: {} },
    );
    const pbx = describeMatch(stir, q({ sourceIp: "10.0.0.7" }));
    assert.match(pbx.text, /\n {2}stir\/shaken: INVITEs signed with attestation A$/);
    assert.deepEqual(pbx.json.stirShaken, { verify: "off", attest: "A" });
    const carriers = describeMatch(stir, q({}));
    assert.match(
      carriers.text,
      /stir\/shaken: caller's Identity checked \(reject\); INVITEs signed with attestation C$/,
    );
    assert.doesNotMatch(describeMatch(cfg, q({ ruriUser: "911" })).text, /stir/);
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("match: a route table gives the longest prefix's routes, cheapest first, or says why not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tandem-match-lcr-" });
  try {
    await Deno.writeTextFile(`${dir}/lcr.csv`, "44,b,0.01\n44,a,0.02\n4420,a,0.005\n");
    const lcr = parseConfig(
      `routes:
  - { name: a, target: "192.0.2.1" }
  - { name: b, target: "192.0.2.2" }
route_tables: [{ name: wholesale, file: lcr.csv }]
rules:
  - { name: uk, match: { ruri_user_prefix: ["44"] }, route_table: wholesale }
  - { name: other, route_table: wholesale, routes: [{ name: c, target: "192.0.2.3" }] }
`,
      `${dir}/tandem.yaml`,
      "yaml",
      { env: {} },
    );
    const uk = describeMatch(lcr, q({ ruriUser: "441234" }));
    assert.match(
      uk.text,
      /routes \(table wholesale, prefix 44, cheapest first\): b -> udp:192\.0\.2\.2:5060; a -> /,
    );
    assert.deepEqual(uk.json.table, { name: "wholesale", prefix: "44" });
    const london = describeMatch(lcr, q({ ruriUser: "4420123" }));
    assert.deepEqual((london.json.routes as { name: string }[]).map((r) => r.name), ["a"]);
    const other = describeMatch(lcr, q({ ruriUser: "331234" }));
    assert.match(
      other.text,
      /no prefix of it in table wholesale: the rule's routes\n {2}routes \(listed\): c ->/,
    );
    // A rule of only a table, for a number it lacks: no route.
    const strict = { ...lcr.rules[0], match: {} };
    const none = describeMatch({ ...lcr, rules: [strict] }, q({ ruriUser: "331234" }));
    assert.equal(none.matched, false);
    assert.match(none.text, /no prefix of it in table wholesale and no routes: 404 No Route$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("match: --at picks the rule a call would meet at that time, and says when it holds", () => {
  const timed = load(`
rules:
  - name: office
    match:
      ruri_user_prefix: ["2000"]
      time: { timezone: Europe/Berlin, days: [mon-fri], hours: ["08:00-18:00"], except: [2026-12-24] }
    routes: [{ name: desk, target: "192.0.2.11" }]
  - name: night
    routes: [{ name: voicemail, target: "192.0.2.12" }]
`);
  const day = describeMatch(timed, q({ ruriUser: "2000", at: Date.UTC(2026, 11, 2, 9, 0) }));
  assert.match(
    day.text,
    /^rule "office" \(rule 1 of 2\)\n {2}holds mon,tue,wed,thu,fri 08:00-18:00 Europe\/Berlin, except 1 date\(s\)\n/,
  );
  assert.deepEqual(day.json.time, {
    timezone: "Europe/Berlin",
    days: ["mon", "tue", "wed", "thu", "fri"],
    hours: ["08:00-18:00"],
    except: ["2026-12-24"],
  });
  const eve = describeMatch(timed, q({ ruriUser: "2000", at: Date.UTC(2026, 11, 24, 9, 0) }));
  assert.equal(eve.json.rule, "night");
});

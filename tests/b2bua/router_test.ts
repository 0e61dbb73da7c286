// Rule matching, Sippy-style rewrites and CIDR matching.

import assert from "node:assert/strict";
import { inCidr, matchRule, rewriteUser } from "../../src/b2bua/mod.ts";
import { route, rule } from "./loop.ts";

const ctx = (ruriUser: string, fromUser = "alice", sourceIp = "127.0.0.1") => ({
  ruriUser,
  fromUser,
  sourceIp,
});

Deno.test("matchRule: first rule whose every criterion holds wins; empty match catches all", () => {
  const fo = { ...rule([route("h", 1)], "fo503"), match: { ruriUserPrefix: ["fo503"] } };
  const re = { ...rule([route("h", 2)], "re"), match: { ruriUserRegex: /^00\d+$/ } };
  const src = {
    ...rule([route("h", 3)], "src"),
    match: { source: ["10.0.0.0/8"], fromUserPrefix: ["bob"] },
  };
  const all = rule([route("h", 4)], "all");
  const rules = [fo, re, src, all];
  assert.equal(matchRule(rules, ctx("fo503-kit"))?.name, "fo503");
  assert.equal(matchRule(rules, ctx("0049301"))?.name, "re");
  assert.equal(matchRule(rules, ctx("x", "bob", "10.1.2.3"))?.name, "src");
  assert.equal(
    matchRule(rules, ctx("x", "alice", "10.1.2.3"))?.name,
    "all",
    "every criterion must hold",
  );
  assert.equal(matchRule([fo], ctx("basic")), undefined);
});

Deno.test("rewriteUser: strip, then regex replace, then prefix", () => {
  assert.equal(rewriteUser("0049301", { strip: 2, prefix: "+", replace: "" }), "+49301");
  assert.equal(
    rewriteUser("0049301", { strip: 0, prefix: "", regex: /^00/, replace: "+" }),
    "+49301",
  );
  assert.equal(rewriteUser("123", { strip: 0, prefix: "9", regex: /2/, replace: "X" }), "91X3");
  assert.equal(rewriteUser("abc", undefined), "abc");
});

Deno.test("inCidr: IPv4 and IPv6 blocks, bare addresses, family mismatch", () => {
  assert.ok(inCidr("10.1.2.3", "10.0.0.0/8"));
  assert.ok(!inCidr("11.1.2.3", "10.0.0.0/8"));
  assert.ok(inCidr("192.168.1.130", "192.168.1.128/25"));
  assert.ok(!inCidr("192.168.1.127", "192.168.1.128/25"));
  assert.ok(inCidr("127.0.0.1", "127.0.0.1"));
  assert.ok(inCidr("::1", "::1/128"));
  assert.ok(inCidr("2001:db8::5", "2001:db8::/32"));
  assert.ok(!inCidr("2001:db9::5", "2001:db8::/32"));
  assert.ok(!inCidr("127.0.0.1", "::1/128"));
  assert.ok(inCidr("0.0.0.0", "0.0.0.0/0"));
});

// The bench's two configurations: the production-shaped one must load, keep the plain one's
// addresses (the harness talks to those), and send the SIPp caller's INVITE through its last rule
// to the SIPp callee, with limits that count without refusing at the bench's rates.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadConfigFile, matchRule } from "../../src/config/mod.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("bench configs: production-shaped and plain share the harness's addresses", () => {
  const plain = loadConfigFile(`${root}config/bench.yaml`, { env: {} });
  const prod = loadConfigFile(`${root}config/bench-production.yaml`, { env: {} });
  assert.deepEqual(prod.sip.listen, plain.sip.listen);
  assert.deepEqual(prod.http, plain.http);
  assert.equal(prod.limits.maxCalls, plain.limits.maxCalls);
  const callee = (r: { host: string; port: number }) => `${r.host}:${r.port}`;
  assert.equal(callee(prod.rules.at(-1)!.routes[0]), callee(plain.rules[0].routes[0]));
});

Deno.test("bench configs: the SIPp caller's INVITE matches the production-shaped config's 100th rule", () => {
  const prod = loadConfigFile(`${root}config/bench-production.yaml`, { env: {} });
  assert.equal(prod.rules.length, 100);
  // As ../shared/bench/uac_rr.xml sends it: from 127.0.0.1, "Subject: Performance Test".
  const headers = { get: (n: string) => n === "Subject" ? "Performance Test" : undefined };
  const rule = matchRule(prod.rules, {
    ruriUser: "service",
    fromUser: "sipp",
    sourceIp: "127.0.0.1",
    headers,
  });
  assert.equal(rule?.name, "bench");
  const rates = [rule!.limits, ...rule!.routes.map((r) => r.limits)];
  for (const l of rates) {
    assert.ok((l?.maxCps ?? Infinity) >= 10_000 && (l?.maxCalls ?? Infinity) >= 100_000);
  }
  assert.ok(prod.limits.perSource!.maxRequests >= 10_000);
});

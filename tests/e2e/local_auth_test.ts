// Digest authentication without RADIUS: a rule with `auth.mode: local` challenges callers (407)
// and checks their answers against the configuration's `users`. Through the binary, with SIPp
// as the caller (its [authentication] answers -au/-ap) and as the callee.

import assert from "node:assert/strict";
import {
  baseConfig,
  binaryAvailable,
  freePort,
  freeUdpPort,
  repoRoot,
  runSipp,
  sippAvailable,
  startTandem,
  udpBound,
  waitFor,
} from "./harness.ts";

const SCENARIOS = `${repoRoot}/tests/e2e/aaa/scenarios`;

Deno.test({
  name: "local auth: the right password gets the call through (and its user into the CDR), a " +
    "wrong one gets 403 and no call",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-local-auth-" });
    const [sip, http, callee] = [freePort(), freePort(), freeUdpPort()];
    try {
      await using tandem = await startTandem({
        binary: binaryAvailable(),
        env: { PBX1_PASSWORD: "s3cret" },
        config: baseConfig(sip, http) + `users:
  - { username: pbx1, password: "\${PBX1_PASSWORD}" }
rules:
  - name: customers
    auth: { mode: local, realm: tandem.test }
    routes: [{ target: "127.0.0.1:${callee}" }]
cdr: { dir: ${dir}/journal, file: { path: ${dir}/cdr.jsonl, rotate: size } }
`,
      });
      const uas = runSipp(
        ["-sn", "uas", "-i", "127.0.0.1", "-p", String(callee), "-m", "1", "-timeout", "20s"],
        { timeoutMs: 25_000 },
      );
      await waitFor(() => udpBound(callee), 5000, { what: "the callee" });
      const caller = (scenario: string, password: string, log: string) =>
        runSipp([
          "-sf",
          `${SCENARIOS}/${scenario}.xml`,
          `127.0.0.1:${sip}`,
          "-i",
          "127.0.0.1",
          "-p",
          String(freeUdpPort()),
          "-s",
          "12155551213",
          "-au",
          "pbx1",
          "-ap",
          password,
          "-m",
          "1",
          "-d",
          "200",
          "-timeout",
          "15s",
          "-timeout_error",
          "-trace_logs",
          "-log_file",
          `${dir}/${log}`,
        ], { timeoutMs: 20_000, cwd: dir });
      const logs = async () => (await tandem.logs()).stderr.slice(-3000);
      const ok = await caller("uac-digest", "s3cret", "ok.log");
      assert.equal(ok.code, 0, `the right password: ${ok.stdout.slice(-1500)}\n${await logs()}`);
      assert.equal((await uas).code, 0, "the callee got the call");
      const bad = await caller("uac-digest-refused", "guess", "bad.log");
      assert.equal(bad.code, 0, `a wrong password: ${bad.stdout.slice(-1500)}`);
      assert.match(await Deno.readTextFile(`${dir}/bad.log`), /FINAL 403/);
      const cdrs = async () =>
        (await Deno.readTextFile(`${dir}/cdr.jsonl`).catch(() => "")).split("\n").filter((l) =>
          l.trim()
        ).map((l) => JSON.parse(l) as { user?: string; finalCode: number });
      // The 407s are steps of a setup, not calls: two CDRs, the answered one and the 403.
      await waitFor(async () => (await cdrs()).length >= 2, 5000, { what: "two CDRs" });
      const [first, second] = await cdrs();
      assert.deepEqual([first.finalCode, first.user], [200, "pbx1"]);
      assert.deepEqual([second.finalCode, second.user], [403, undefined]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "local auth: with calling_number: enforce, the right password from a number the user " +
    "was not given gets 403 and no call",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-calling-number-" });
    const [sip, http, callee] = [freePort(), freePort(), freeUdpPort()];
    try {
      await using tandem = await startTandem({
        binary: binaryAvailable(),
        config: baseConfig(sip, http) + `users:
  - { username: pbx1, password: s3cret, numbers: ["1999"] }
rules:
  - name: customers
    auth: { mode: local, realm: tandem.test, calling_number: enforce }
    routes: [{ target: "127.0.0.1:${callee}" }]
`,
      });
      // SIPp's From is sip:sipp@...: not a number of the user's.
      const caller = await runSipp([
        ...["-sf", `${SCENARIOS}/uac-digest-refused.xml`, `127.0.0.1:${sip}`],
        ...["-i", "127.0.0.1", "-p", String(freeUdpPort()), "-s", "12155551213"],
        ...["-au", "pbx1", "-ap", "s3cret", "-m", "1", "-timeout", "15s", "-timeout_error"],
        ...["-trace_logs", "-log_file", `${dir}/caller.log`],
      ], { timeoutMs: 20_000, cwd: dir });
      assert.equal(caller.code, 0, caller.stdout.slice(-1500));
      assert.match(await Deno.readTextFile(`${dir}/caller.log`), /FINAL 403/);
      assert.match((await tandem.logs()).stderr, /"event":"calling-number-refused"/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// Caller privacy end to end, through the binary (RFC 3323, RFC 3325): a SIPp caller with an
// asserted identity asks for privacy of its identity, headers and From; toward a route marked
// `trusted: false` the SIPp callee must find none of them (its scenario fails the call if it
// does: From anonymous, no P-Asserted-Identity, no Organization, the number nowhere).

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

const SCENARIOS = `${repoRoot}/tests/e2e/scenarios`;

Deno.test({
  name: "privacy: toward an untrusted route the caller's identity, revealing headers and From " +
    "are hidden as it asked",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [sip, http, callee] = [freePort(), freePort(), freeUdpPort()];
    await using _tandem = await startTandem({
      binary: binaryAvailable(),
      config: baseConfig(sip, http) + `rules:
  - name: customers
    routes:
      - target: "127.0.0.1:${callee}"
        trusted: false
        headers: { pass: ["x-*", p-asserted-identity, organization] }
`,
    });
    const uas = runSipp(
      [
        ...["-sf", `${SCENARIOS}/privacy-uas.xml`, "-i", "127.0.0.1", "-p", String(callee)],
        ...["-m", "1", "-timeout", "15s", "-timeout_error"],
      ],
      { timeoutMs: 20_000 },
    );
    await waitFor(() => udpBound(callee), 5000, { what: "the callee" });
    const uac = await runSipp(
      [
        ...["-sf", `${SCENARIOS}/privacy-uac.xml`, `127.0.0.1:${sip}`, "-s", "12155550000"],
        ...["-i", "127.0.0.1", "-p", String(freeUdpPort()), "-m", "1"],
        ...["-timeout", "15s", "-timeout_error"],
      ],
      { timeoutMs: 20_000 },
    );
    const callee_ = await uas;
    assert.equal(callee_.code, 0, `the callee's checks: ${callee_.stdout.slice(-1500)}`);
    assert.equal(uac.code, 0, `the caller: ${uac.stdout.slice(-1500)}`);
  },
});

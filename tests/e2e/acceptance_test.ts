// The B2BUA acceptance kit (../shared/acceptance) against a running Tandem started with
// config/acceptance.yaml: every scenario over UDP, then with the caller on TCP, then on IPv6.

import assert from "node:assert/strict";
import { binaryAvailable, fixedPorts, repoRoot, sippAvailable, startTandem } from "./harness.ts";
import { kitSummary, runKit } from "./kit.ts";

Deno.test({
  name: "acceptance kit: 14 scenarios pass over UDP, TCP and IPv6 (config/acceptance.yaml)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using _ports = await fixedPorts();
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    assert.equal(Deno.uid(), 0, "the acceptance kit sniffs loopback and needs root");
    await using tandem = await startTandem({
      config: `${repoRoot}/config/acceptance.yaml`,
      binary: binaryAvailable(),
    });
    // The kit's logs go to a directory of ours: removed when every run passed, kept (and
    // named in the kit's output) when one failed.
    const logRoot = await Deno.makeTempDir({ prefix: "tandem-e2e-kit-" });
    for (const [i, args] of [[], ["--transport", "tcp"], ["--ipv6"]].entries()) {
      const text = await runKit([...args, "--logdir", `${logRoot}/run${i}`]);
      const line = kitSummary(text);
      if (line !== "14 passed, 0 failed") {
        const logs = await tandem.logs();
        console.error(text);
        console.error(logs.stderr.split("\n").slice(-40).join("\n"));
      }
      assert.equal(line, "14 passed, 0 failed", `kit ${args.join(" ") || "(udp)"}`);
    }
    await Deno.remove(logRoot, { recursive: true });
  },
});

// SIPVicious, the scanner every SIP server on the Internet meets, against the binary: what it
// learns without limits.drop_user_agents, and that it learns nothing with it while phones are
// still answered.

import assert from "node:assert/strict";
import {
  baseConfig,
  binaryAvailable,
  freePort,
  freeUdpPort,
  sipOptions,
  startTandem,
  which,
} from "./harness.ts";

/** Run one SIPVicious tool against 127.0.0.1:`port` from a free local port; its output. */
async function sipvicious(tool: string, port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(tool, {
    // -P: its own port (it takes 5060 otherwise, the acceptance kit's); -b: loopback only.
    args: [
      "127.0.0.1",
      "-p",
      String(port),
      "-b",
      "127.0.0.1",
      "-P",
      String(freeUdpPort()),
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const dec = new TextDecoder();
  return dec.decode(out.stdout) + dec.decode(out.stderr);
}

async function metric(http: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

Deno.test({
  name: "scanner: SIPVicious's svmap finds Tandem and svwar's REGISTER sweep finds no extension; " +
    "with drop_user_agents [friendly-scanner] svmap finds nothing and phones are still answered",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(
      which("svmap") && which("svwar"),
      "SIPVicious is missing: apt-get install sipvicious",
    );
    const rules = `rules:
  - { name: all, routes: [{ name: nowhere, target: "127.0.0.1:${freeUdpPort()}" }] }
`;
    {
      const [sip, http] = [freeUdpPort(), freePort()];
      await using _tandem = await startTandem({
        binary: binaryAvailable(),
        config: baseConfig(sip, http) + rules,
      });
      const map = await sipvicious("svmap", sip);
      assert.match(map, new RegExp(`127\\.0\\.0\\.1:${sip}`), map);
      // Its default sweep asks REGISTER of each extension: Tandem, no registrar, says 405.
      const war = await sipvicious("svwar", sip, "-e", "100-149");
      assert.match(war, /method not allowed/i, war);
      assert.match(war, /found nothing/, war);
      assert.equal((await sipOptions("127.0.0.1", sip)).status, 200, "alive and answering");
    }
    {
      const [sip, http] = [freeUdpPort(), freePort()];
      await using _tandem = await startTandem({
        binary: binaryAvailable(),
        config: baseConfig(sip, http) +
          "limits: { drop_user_agents: [friendly-scanner] }\n" + rules,
      });
      const map = await sipvicious("svmap", sip);
      assert.doesNotMatch(map, new RegExp(`127\\.0\\.0\\.1:${sip}`), map);
      assert.match(map, /found nothing/, map);
      assert.ok(await metric(http, "tandem_sip_user_agent_dropped_total") >= 1);
      assert.equal((await sipOptions("127.0.0.1", sip)).status, 200, "a phone is answered");
    }
  },
});

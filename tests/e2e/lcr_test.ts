// Least-cost routing through the binary: a route table (CSV) sends a number to the cheapest
// carrier for its longest prefix, fails over to the next one when the cheapest does not answer,
// and a reload with a new rate deck takes effect for the next call. Callers and carriers are
// SIPp.

import assert from "node:assert/strict";
import {
  baseConfig,
  binaryAvailable,
  freePort,
  freeUdpPort,
  runSipp,
  sippAvailable,
  type SippResult,
  sippUac,
  startTandem,
  udpBound,
  waitFor,
} from "./harness.ts";

function carrier(port: number): Promise<SippResult> {
  return runSipp([
    "-sn",
    "uas",
    "-i",
    "127.0.0.1",
    "-p",
    String(port),
    "-m",
    "1",
    "-timeout",
    "25s",
  ], {
    timeoutMs: 30_000,
  });
}

Deno.test({
  name: "lcr: the cheapest carrier for the longest prefix first, the next on no answer, and a " +
    "reloaded rate deck for the next call",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-lcr-" });
    const [silent, cheapest, later, sip, http] = [
      freeUdpPort(),
      freeUdpPort(),
      freeUdpPort(),
      freePort(),
      freePort(),
    ];
    try {
      // carrier-silent is cheapest for 44 but nothing listens there: its no-progress timer
      // fails the call over to carrier-a. 4420 is carrier-b's, cheaper than anyone for London.
      await Deno.writeTextFile(
        `${dir}/lcr.csv`,
        "prefix,route,cost\n44,carrier-silent,0.001\n44,carrier-a,0.010\n4420,carrier-b,0.005\n",
      );
      await using tandem = await startTandem({
        binary: binaryAvailable(),
        config: baseConfig(sip, http) + `routes:
  - { name: carrier-silent, target: "127.0.0.1:${silent}", timers: { no_progress: 1s } }
  - { name: carrier-a, target: "127.0.0.1:${cheapest}" }
  - { name: carrier-b, target: "127.0.0.1:${later}" }
route_tables:
  - { name: wholesale, file: ${dir}/lcr.csv }
rules:
  - { name: customers, route_table: wholesale }
`,
      });
      const a = carrier(cheapest);
      await waitFor(() => udpBound(cheapest), 5000, { what: "carrier-a" });
      const uk = await sippUac(`127.0.0.1:${sip}`, { service: "441234567" });
      const logs = async () => (await tandem.logs()).stderr.slice(-3000);
      assert.equal(uk.code, 0, `the UK call: ${uk.stdout.slice(-1500)}\n${await logs()}`);
      assert.equal((await a).code, 0, "carrier-a took it");
      const routes = await (await fetch(`http://127.0.0.1:${http}/routes`)).json() as {
        name: string;
        attempts: number;
        answered: number;
      }[];
      const byName = new Map(routes.map((r) => [r.name, r]));
      assert.equal(byName.get("carrier-silent")?.attempts, 1);
      assert.equal(byName.get("carrier-a")?.answered, 1);

      // A new rate deck: carrier-b is now cheapest for all of 44.
      await Deno.writeTextFile(`${dir}/lcr.csv`, "44,carrier-b,0.001\n44,carrier-a,0.010\n");
      const reload = await fetch(`http://127.0.0.1:${http}/reload`, { method: "POST" });
      assert.equal(reload.status, 200, await reload.text());
      const b = carrier(later);
      await waitFor(() => udpBound(later), 5000, { what: "carrier-b" });
      const again = await sippUac(`127.0.0.1:${sip}`, { service: "441234568" });
      assert.equal(
        again.code,
        0,
        `after the reload: ${again.stdout.slice(-1500)}\n${await logs()}`,
      );
      assert.equal((await b).code, 0, "carrier-b took it");
      // Both calls found a prefix in the table; the reloaded deck has one prefix left.
      const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
      assert.match(metrics, /tandem_route_table_prefixes\{table="wholesale"\} 1\n/);
      assert.match(
        metrics,
        /tandem_route_table_lookups_total\{(result="matched",table="wholesale"|table="wholesale",result="matched")\} 2/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// A real Prometheus scrapes the API served by serveHttp on 127.0.0.1 (with a bearer token, as a
// production deployment beyond loopback would), and a counter the test increments is queryable.

import assert from "node:assert/strict";
import { createApp, serveHttp } from "../../src/http/mod.ts";
import { silentLogger } from "../../src/util/log.ts";
import { Registry } from "../../src/util/metrics.ts";
import { registerProcessMetrics } from "../../src/util/process-metrics.ts";
import { FakeControlPlane } from "./fake-control.ts";
import { startPrometheus } from "./prometheus-helper.ts";

// Bounded by the helper's timeouts: start 12 s + two waits of 8 s (usually ~6 s in all).
Deno.test({
  name: "Prometheus scrapes /metrics: up == 1 and an incremented counter is queryable",
  fn: async () => {
    const token = "scrape-token";
    const registry = new Registry();
    const pm = registerProcessMetrics(registry);
    pm.start();
    const counter = registry.counter("tandem_test_scrape_total", "Incremented by the scrape test.");
    counter.inc({ route: "r1" }, 41);
    const server = await serveHttp(
      createApp(new FakeControlPlane(), { token, registry, log: silentLogger }),
      { address: "127.0.0.1", port: 0 },
    );
    const prom = await startPrometheus({
      targets: [`127.0.0.1:${server.port}`],
      bearerToken: token,
      startTimeoutMs: 12_000,
    });
    try {
      await prom.waitFor('up{job="tandem"}', (s) => s.length === 1 && s[0].value === 1, 8_000);
      counter.inc({ route: "r1" });
      const s = await prom.waitFor(
        "tandem_test_scrape_total",
        (s) => s.length === 1 && s[0].value === 42,
        8_000,
      );
      assert.equal(s[0].metric.route, "r1");
      assert.equal(s[0].metric.instance, `127.0.0.1:${server.port}`);
      const rss = await prom.query("tandem_process_resident_memory_bytes");
      assert.ok(rss.length === 1 && rss[0].value > 1e6, JSON.stringify(rss));
    } finally {
      await prom.stop();
      pm.stop();
      await server.close();
    }
  },
});

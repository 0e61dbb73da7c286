// GET /metrics output is valid Prometheus text 0.0.4 according to the real `promtool check
// metrics`: process metrics plus labelled counters, gauges and a histogram.

import assert from "node:assert/strict";
import { createApp } from "../../src/http/mod.ts";
import { silentLogger } from "../../src/util/log.ts";
import { metrics, Registry } from "../../src/util/metrics.ts";
import { registerProcessMetrics } from "../../src/util/process-metrics.ts";
import { FakeControlPlane } from "./fake-control.ts";
import { promtoolCheckMetrics } from "./prometheus-helper.ts";

function richRegistry(): Registry {
  const r = new Registry();
  const calls = r.counter("tandem_test_calls_total", "Calls by final status class.");
  calls.inc({ status: "2xx", route: "carrier-a" });
  calls.inc({ status: "4xx", route: 'quote"and\\slash' }, 3);
  r.gauge("tandem_test_active_calls", "Calls up now.").set(4);
  r.gauge("tandem_test_unset", "A labelled gauge nobody set yet.");
  const h = r.histogram("tandem_test_setup_seconds", "Time to answer.", [0.05, 0.1, 0.5, 1, 5]);
  for (const v of [0.01, 0.2, 0.7, 3, 9]) h.observe(v);
  const pdd = r.histogram("tandem_test_pdd_seconds", "Per route.", [0.5, 2]);
  pdd.observe(0.3, { route: "carrier-a" });
  pdd.observe(1.5, { route: "carrier-a" });
  pdd.observe(4, { route: 'b"c' });
  registerProcessMetrics(r);
  return r;
}

async function scrape(registry: Registry): Promise<string> {
  const app = createApp(new FakeControlPlane(), { registry, log: silentLogger });
  const res = await app.request("/metrics");
  assert.equal(res.status, 200);
  return await res.text();
}

Deno.test("/metrics with labels, a histogram and process metrics passes promtool", async () => {
  const text = await scrape(richRegistry());
  const check = await promtoolCheckMetrics(text);
  assert.ok(
    check.ok,
    `promtool check metrics failed:\n${check.output}\n--- exposition ---\n${text}`,
  );
  assert.match(text, /^tandem_test_calls_total\{route="carrier-a",status="2xx"\} 1$/m);
  assert.match(text, /^tandem_test_setup_seconds_bucket\{le="\+Inf"\} 5$/m);
  assert.match(text, /^tandem_test_pdd_seconds_bucket\{route="carrier-a",le="0\.5"\} 1$/m);
  assert.match(text, /^tandem_test_pdd_seconds_bucket\{route="carrier-a",le="\+Inf"\} 2$/m);
  assert.match(text, /^tandem_test_pdd_seconds_sum\{route="carrier-a"\} 1\.8$/m);
  assert.match(text, /^tandem_test_pdd_seconds_count\{route="b\\"c"\} 1$/m);
  for (
    const name of [
      "tandem_event_loop_lag_seconds",
      "tandem_process_resident_memory_bytes",
      "tandem_heap_used_bytes",
      "tandem_process_cpu_seconds_total",
      "tandem_uptime_seconds",
    ]
  ) {
    assert.match(text, new RegExp(`^# TYPE ${name} (gauge|counter)$`, "m"), name);
    const v = Number(text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1]);
    assert.ok(Number.isFinite(v) && v >= 0, `${name} = ${v}`);
  }
  assert.ok(Number(text.match(/^tandem_process_resident_memory_bytes (\S+)$/m)?.[1]) > 1e6);
});

Deno.test("the process-wide registry with process metrics passes promtool", async () => {
  registerProcessMetrics(metrics);
  const check = await promtoolCheckMetrics(await scrape(metrics));
  assert.ok(check.ok, check.output);
});

Deno.test("promtool helper really rejects a bad exposition", async () => {
  const check = await promtoolCheckMetrics(
    "# HELP tandem_bad_counter A counter without _total.\n# TYPE tandem_bad_counter counter\n" +
      "tandem_bad_counter 1\n",
  );
  assert.equal(check.ok, false);
  assert.match(check.output, /_total/);
});

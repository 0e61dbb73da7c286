// src/util/process-metrics.ts: the event-loop lag probe sees a blocked loop, start/stop are
// idempotent and leave no timer behind, registration is idempotent per registry.

import assert from "node:assert/strict";
import { Registry } from "../../src/util/metrics.ts";
import { registerProcessMetrics } from "../../src/util/process-metrics.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("event-loop lag gauge reports a 150 ms block within its window", async () => {
  const r = new Registry();
  const pm = registerProcessMetrics(r, { intervalMs: 20, windowMs: 5000 });
  pm.start();
  pm.start();
  try {
    await sleep(60);
    const t0 = performance.now();
    while (performance.now() - t0 < 150) { /* block the loop on purpose */ }
    await sleep(80); // later probes see no lag; the window max must still show the block
    assert.ok(pm.maxLagMs >= 100, `maxLagMs = ${pm.maxLagMs}`);
    assert.ok(pm.lagMs < 100, `latest sample should be small again, got ${pm.lagMs}`);
    const v = Number(r.expose().match(/^tandem_event_loop_lag_seconds (\S+)$/m)?.[1]);
    assert.ok(v >= 0.1 && v < 5, `gauge = ${v}`);
  } finally {
    pm.stop();
    pm.stop();
  }
});

Deno.test("registerProcessMetrics is idempotent per registry", () => {
  const r = new Registry();
  assert.equal(registerProcessMetrics(r), registerProcessMetrics(r));
  assert.notEqual(registerProcessMetrics(r), registerProcessMetrics(new Registry()));
  const text = r.expose();
  assert.equal(text.match(/^# TYPE tandem_uptime_seconds /gm)?.length, 1);
});

Deno.test("CPU seconds and uptime grow", async () => {
  const r = new Registry();
  registerProcessMetrics(r);
  const read = (name: string) => Number(r.expose().match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1]);
  const cpu0 = read("tandem_process_cpu_seconds_total");
  const up0 = read("tandem_uptime_seconds");
  const t0 = performance.now();
  while (performance.now() - t0 < 50) { /* burn CPU */ }
  await sleep(10);
  assert.ok(read("tandem_process_cpu_seconds_total") > cpu0);
  assert.ok(read("tandem_uptime_seconds") > up0);
});

// Merging several SIP workers' Prometheus expositions into one.

import assert from "node:assert/strict";
import { labelSample, mergeExpositions } from "../../src/util/metrics-merge.ts";
import { Registry } from "../../src/util/metrics.ts";
import { promtoolCheckMetrics } from "../http/prometheus-helper.ts";

Deno.test("metrics merge: each family once, every sample labelled with its worker", async () => {
  const regs = [new Registry(), new Registry()];
  regs.forEach((r, i) => {
    r.counter("tandem_calls_total", "Calls.").inc({ outcome: "answered" }, i + 1);
    r.gauge("tandem_active_calls", "Active.").set(10 * (i + 1));
    const h = r.histogram("tandem_setup_seconds", "Setup.", [0.1, 1]);
    h.observe(0.05 * (i + 1));
  });
  const text = mergeExpositions(regs.map((r, i) => ({ worker: String(i), text: r.expose() })));
  const lines = text.trim().split("\n");
  assert.equal(lines.filter((l) => l === "# TYPE tandem_calls_total counter").length, 1);
  assert.equal(lines.filter((l) => l.startsWith("# HELP tandem_setup_seconds")).length, 1);
  assert.ok(lines.includes('tandem_calls_total{worker="0",outcome="answered"} 1'));
  assert.ok(lines.includes('tandem_calls_total{worker="1",outcome="answered"} 2'));
  assert.ok(lines.includes('tandem_active_calls{worker="1"} 20'));
  assert.ok(lines.includes('tandem_setup_seconds_bucket{worker="0",le="0.1"} 1'));
  assert.ok(lines.includes('tandem_setup_seconds_count{worker="1"} 1'));
  // A family's samples follow its own TYPE line, not another family's.
  const type = lines.indexOf("# TYPE tandem_active_calls gauge");
  assert.deepEqual(lines.slice(type + 1, type + 3), [
    'tandem_active_calls{worker="0"} 10',
    'tandem_active_calls{worker="1"} 20',
  ]);
  for (const l of lines) if (!l.startsWith("#")) assert.match(l, /\{worker="[01]"/);
  const check = await promtoolCheckMetrics(text);
  assert.ok(check.ok, `promtool rejects the merged exposition:\n${check.output}\n${text}`);
});

Deno.test("metrics merge: a label value with spaces is left intact", () => {
  assert.equal(labelSample('m{a="x y"} 3', "2"), 'm{worker="2",a="x y"} 3');
  assert.equal(labelSample("m 3", "0"), 'm{worker="0"} 3');
  assert.equal(labelSample("m{} 3", "0"), 'm{worker="0"} 3');
});

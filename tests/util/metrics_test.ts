// Prometheus text exposition of counters: one sample per label set, values escaped, and the
// single-label keys (cached for the hot increments) the same as any other.

import assert from "node:assert/strict";
import { Registry } from "../../src/util/metrics.ts";

Deno.test("counters: one sample per label set; single labels, several labels and escapes", () => {
  const r = new Registry();
  const c = r.counter("t_total", "Test.");
  c.inc({ outcome: "ok" });
  c.inc({ outcome: "ok" }, 2);
  c.inc({ outcome: 'say "hi"\\\n' });
  c.inc({ b: "2", a: "1" });
  c.inc({ a: "1", b: "2" });
  c.inc();
  assert.equal(c.get({ outcome: "ok" }), 3);
  assert.equal(c.get({ a: "1", b: "2" }), 2);
  const text = r.expose();
  assert.match(text, /^t_total\{outcome="ok"\} 3$/m);
  assert.match(text, /^t_total\{outcome="say \\"hi\\"\\\\\\n"\} 1$/m);
  assert.match(text, /^t_total\{a="1",b="2"\} 2$/m);
  assert.match(text, /^t_total 1$/m);
  // Many distinct values of one label (past what is cached) still count apart.
  for (let i = 0; i < 600; i++) c.inc({ id: String(i % 300) });
  assert.equal(c.get({ id: "299" }), 2);
  assert.equal(c.get({ id: "0" }), 2);
});

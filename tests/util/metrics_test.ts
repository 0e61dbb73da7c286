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

Deno.test("counters: two labels in either order are one sample, cached or not; three labels too", () => {
  const r = new Registry();
  const c = r.counter("p_total", "Pairs.");
  c.inc({ route: "a", outcome: "answered" });
  c.inc({ outcome: "answered", route: "a" });
  c.inc({ route: 'x"y', outcome: "failed" });
  c.inc({ route: "a", outcome: "answered", extra: "1" });
  assert.equal(c.get({ route: "a", outcome: "answered" }), 2);
  const text = r.expose();
  assert.match(text, /^p_total\{outcome="answered",route="a"\} 2$/m);
  assert.match(text, /^p_total\{outcome="failed",route="x\\"y"\} 1$/m);
  assert.match(text, /^p_total\{extra="1",outcome="answered",route="a"\} 1$/m);
  // A value with the separator the cache joins by cannot pass for another pair.
  c.inc({ route: "b\u0001outcome\u0001c", outcome: "d" });
  c.inc({ route: "b", outcome: "c\u0001outcome\u0001d" });
  assert.equal(c.get({ route: "b", outcome: "c\u0001outcome\u0001d" }), 1);
  for (let i = 0; i < 5000; i++) c.inc({ route: `r${i % 2500}`, outcome: "x" });
  assert.equal(c.get({ route: "r2499", outcome: "x" }), 2);
});

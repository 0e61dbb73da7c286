// The load-shedding policy (src/app/load-shedding.ts): the CPU share and demand decide how many
// new calls to refuse only while the UDP receive queue stands; a long queue refuses on its own.

import assert from "node:assert/strict";
import { overloadShare } from "../../src/app/load-shedding.ts";

Deno.test("Load shedding: without a queue probe, the CPU share and demand decide", () => {
  assert.equal(overloadShare(0.8, 0.85, undefined), 0);
  assert.ok(Math.abs(overloadShare(0.915, 0.9, undefined) - 0.5) < 1e-9, "busy halfway");
  assert.ok(Math.abs(overloadShare(0.5, 0.945, undefined) - 0.5) < 1e-9, "demand halfway");
  assert.equal(overloadShare(0.99, 0.99, undefined), 1);
});

Deno.test("Load shedding: a busy thread that drains its queue is not shed", () => {
  assert.equal(overloadShare(0.95, 0.99, 0.3), 0, "queue under the gate");
  assert.equal(overloadShare(0.95, 0.99, 1.9), 0);
  // Standing: the CPU share decides the amount.
  assert.ok(Math.abs(overloadShare(0.915, 0.9, 2) - 0.5) < 1e-9);
  assert.equal(overloadShare(0.99, 0.99, 5), 1);
});

Deno.test("Load shedding: a long queue refuses on its own, growing to all at 150 ms", () => {
  assert.equal(overloadShare(0.6, 0.7, 20), 0, "below 30 ms with a quiet CPU");
  assert.ok(Math.abs(overloadShare(0.6, 0.7, 90) - 0.5) < 1e-9);
  assert.equal(overloadShare(0.6, 0.7, 150), 1);
});

Deno.test("Load shedding: a mostly idle thread is not shed on a probe's word", () => {
  // A probe path that stopped delivering reads as a growing queue; an idle thread cannot have one.
  assert.equal(overloadShare(0.1, 0.2, 1000), 0);
});

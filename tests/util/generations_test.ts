// Generations (src/util/generations.ts): kept at least the lifetime, at most a span more, then
// gone a generation at a time; idle, no timer.

import assert from "node:assert/strict";
import { Generations } from "../../src/util/generations.ts";
import { ManualTimers } from "../../src/util/timer-queue.ts";

Deno.test("generations: an entry is found for its whole lifetime and gone one span after", () => {
  const timers = new ManualTimers();
  const g = new Generations<number>(timers, 32_000, 4_000);
  g.set("a", 1);
  timers.advance(2_500);
  g.set("b", 2); // in the same generation as "a", 2.5 s younger
  timers.advance(29_499);
  assert.equal(g.get("a"), 1, "a at 31.999 s");
  timers.advance(1);
  assert.equal(g.get("b"), 2, "b at 29.5 s");
  timers.advance(4_000); // 36 s after "a", 33.5 s after "b"
  assert.equal(g.get("a"), undefined);
  assert.equal(g.get("b"), undefined);
  assert.equal(g.size, 0);
  assert.equal(timers.size, 0, "no timer once empty");
});

Deno.test("generations: every entry of a steady stream lives 32 to 36 s", () => {
  const timers = new ManualTimers();
  const g = new Generations<number>(timers, 32_000, 4_000);
  const added = new Map<string, number>();
  for (let t = 0; t < 60_000; t += 250) {
    const k = `k${t}`;
    g.set(k, t);
    added.set(k, timers.manual.t);
    timers.advance(250);
    for (const [key, at] of added) {
      const age = timers.manual.t - at;
      const here = g.get(key) !== undefined;
      if (age < 32_000) assert.ok(here, `${key} gone at ${age} ms`);
      if (age > 36_000) assert.ok(!here, `${key} still kept at ${age} ms`);
    }
  }
  assert.ok(g.size > 0 && g.size <= 36_000 / 250);
});

Deno.test("generations: delete takes an entry out of whichever generation holds it", () => {
  const timers = new ManualTimers();
  const g = new Generations<string>(timers, 8_000, 2_000);
  g.set("old", "x");
  timers.advance(5_000);
  g.set("new", "y");
  assert.equal(g.delete("old"), true);
  assert.equal(g.delete("old"), false);
  assert.equal(g.get("old"), undefined);
  assert.equal(g.get("new"), "y");
});

// The token bucket behind the call-rate limits and the source guard.

import assert from "node:assert/strict";
import { TokenBucket } from "../../src/util/token-bucket.ts";

function taken(b: TokenBucket, now: number, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (b.take(now)) ok++;
  return ok;
}

Deno.test("token bucket: a burst of one second's worth, then the rate, never more than the burst", () => {
  const b = new TokenBucket(10);
  assert.equal(taken(b, 0, 15), 10);
  assert.equal(b.take(99), false, "a tenth of a second refills one, not before");
  assert.equal(b.take(100), true);
  assert.equal(taken(b, 60_000, 15), 10, "a minute of quiet still refills one second's worth");
  let ok = 0;
  for (let t = 60_000; t < 70_000; t += 50) if (b.take(t)) ok++; // 20 a second offered
  assert.ok(ok >= 99 && ok <= 101, `${ok} taken in 10 s at 10 a second`);
});

Deno.test("token bucket: a lower rate caps what it holds; refill makes it full", () => {
  const b = new TokenBucket(10);
  b.setRate(3);
  assert.equal(taken(b, 0, 10), 3);
  assert.equal(b.take(0), false);
  b.refill();
  assert.equal(taken(b, 0, 10), 3);
  b.setRate(6);
  assert.equal(taken(b, 1000, 10), 6, "a second later, the new rate's burst");
});

// Branches and tags: enough random bits, a fixed alphabet, the RFC 3261 magic cookie.

import assert from "node:assert/strict";
import { isMagicBranch, newBranch, randomToken } from "../../src/transaction/branch.ts";

Deno.test("randomToken: at least 32 bits per word in base 36", () => {
  // 36^7 = 7.8e10 > 2^32 would do for one word, but words add up: 3 words need 96 bits.
  for (const words of [1, 2, 3]) {
    const t = randomToken(Math.random, words);
    assert.match(t, /^[0-9a-z]+$/);
    assert.ok(t.length * Math.log2(36) >= words * 32, `${words} words: ${t}`);
  }
  const seen = new Set(Array.from({ length: 2000 }, () => randomToken(Math.random, 2)));
  assert.equal(seen.size, 2000);
});

Deno.test("newBranch: the magic cookie, then 96 random bits, recognised as RFC 3261", () => {
  const b = newBranch(Math.random);
  assert.match(b, /^z9hG4bK[0-9a-z]{19}$/);
  assert.ok(isMagicBranch(b));
  assert.ok(!isMagicBranch("z9hG4bK"));
  assert.notEqual(newBranch(Math.random), b);
});

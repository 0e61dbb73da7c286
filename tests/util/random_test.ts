// Tokens for tags, Call-IDs and call ids.

import assert from "node:assert/strict";
import { token } from "../../src/util/random.ts";

Deno.test("token: len base-36 characters from the random source, then the suffix", () => {
  const seq = [0, 0.5, 0.999, 0.1];
  let i = 0;
  const random = () => seq[i++ % seq.length];
  assert.equal(token(random, 4), "0iz3");
  assert.equal(token(random, 3, "@10.0.0.1"), "0iz@10.0.0.1");
  assert.equal(token(random, 0), "");
  const many = new Set(Array.from({ length: 1000 }, () => token(Math.random, 10)));
  assert.equal(many.size, 1000);
  for (const t of many) assert.match(t, /^[0-9a-z]{10}$/);
});

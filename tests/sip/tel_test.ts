// RFC 3966 §5.1.1: a telephone number's digits, as STIR/SHAKEN, ENUM, route tables and users'
// number ranges compare them.

import assert from "node:assert/strict";
import { telDigits } from "../../src/sip/mod.ts";

Deno.test("telDigits: '+', visual separators, parameters and escapes go; anything else is no number", () => {
  assert.equal(telDigits("+1-215-555-1212"), "12155551212");
  assert.equal(telDigits("+1 (215) 555.1212"), "12155551212");
  assert.equal(telDigits("12155551212;verstat=TN-Validation-Passed"), "12155551212");
  assert.equal(telDigits("%2B442079460148;npdi;rn=+44"), "442079460148");
  assert.equal(telDigits("00442079460148"), "00442079460148", "leading zeros are digits");
  assert.equal(telDigits("alice"), undefined);
  assert.equal(telDigits("+"), undefined);
  assert.equal(telDigits("12a"), undefined);
  assert.equal(telDigits("%E0%A4%A"), undefined, "a bad escape");
  assert.equal(telDigits(""), undefined);
  assert.equal(telDigits(undefined), undefined);
});

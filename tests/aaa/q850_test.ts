// RFC 3398 §8.2.6.1 / Cisco default SIP → Q.850 mapping, RFC 3326 Reason parsing, and the
// Cisco time text of h323-*-time VSAs.

import assert from "node:assert/strict";
import {
  ciscoTime,
  parseReason,
  q850Hex,
  q850ToSip,
  reasonToQ850,
  sipToQ850,
} from "../../src/aaa/mod.ts";

Deno.test("SIP final code → Q.850 (RFC 3398 with Cisco defaults)", () => {
  const cases: [number, number][] = [
    [200, 16],
    [404, 1],
    [486, 17],
    [480, 18],
    [487, 127],
    [503, 63],
    [603, 21],
    [408, 102],
    [484, 28],
    [500, 41],
    [502, 38],
    [600, 17],
    [604, 1],
    [488, 127],
    [499, 127],
    [599, 41],
    [699, 31],
  ];
  for (const [sip, q] of cases) assert.equal(sipToQ850(sip), q, `SIP ${sip}`);
});

Deno.test("Q.850 → SIP (RFC 3398 §7.2.4.1)", () => {
  assert.equal(q850ToSip(17), 486);
  assert.equal(q850ToSip(1), 404);
  assert.equal(q850ToSip(19), 480);
  assert.equal(q850ToSip(34), 503);
  assert.equal(q850ToSip(99), 500);
});

Deno.test("Reason header (RFC 3326)", () => {
  assert.deepEqual(parseReason('Q.850;cause=16;text="Normal call clearing"'), {
    protocol: "Q.850",
    cause: 16,
    text: "Normal call clearing",
  });
  assert.equal(reasonToQ850('SIP ;cause=486 ;text="Busy"'), 17);
  assert.equal(reasonToQ850("q.850;cause=34"), 34);
  assert.equal(reasonToQ850("X-Other;cause=1"), undefined);
  assert.equal(reasonToQ850("Q.850"), undefined);
});

Deno.test("h323 disconnect cause is two hex digits; Cisco time text", () => {
  assert.equal(q850Hex(16), "10");
  assert.equal(q850Hex(1), "01");
  assert.equal(q850Hex(127), "7F");
  assert.equal(
    ciscoTime(Date.UTC(2026, 10, 24, 14, 2, 32, 50)),
    "14:02:32.050 UTC Tue Nov 24 2026",
  );
});

// TNAuthList (RFC 8226 §9): service provider codes, number ranges and single numbers read from
// the extension's DER, what each lets a certificate sign for, and malformed lists refused.

import assert from "node:assert/strict";
import { parseTnAuthList, tnAuthorized } from "../../src/stir/mod.ts";
import { RANGE_TN_AUTH_LIST } from "./pki.ts";

const bytes = (hex: string) => new Uint8Array(hex.split(":").map((h) => parseInt(h, 16)));

Deno.test("TNAuthList: an SPC certificate vouches for any number of its provider", () => {
  const spc = parseTnAuthList(bytes("30:08:a0:06:16:04:31:32:33:34"));
  assert.deepEqual(spc, { spc: ["1234"], ranges: [], tns: [] });
  assert.equal(tnAuthorized(spc, "12155551212"), true);
});

Deno.test("TNAuthList: a delegate certificate signs for its range and numbers only", () => {
  const list = parseTnAuthList(bytes(RANGE_TN_AUTH_LIST));
  assert.deepEqual(list, {
    spc: [],
    ranges: [{ start: "12155550100", count: 100 }],
    tns: ["12155559999"],
  });
  assert.equal(tnAuthorized(list, "12155550100"), true, "the range's start");
  assert.equal(tnAuthorized(list, "12155550199"), true, "its last number");
  assert.equal(tnAuthorized(list, "12155550200"), false, "one past it");
  assert.equal(tnAuthorized(list, "12155550099"), false, "one before it");
  assert.equal(tnAuthorized(list, "2155550150"), false, "another length");
  assert.equal(tnAuthorized(list, "12155559999"), true, "the single number");
  assert.equal(tnAuthorized(list, "12155559998"), false);
});

Deno.test("TNAuthList: malformed lists are refused, with where", () => {
  const bad = [
    "30:00", // no entries
    "30:08:a3:06:16:04:31:32:33:34", // an unknown entry
    "30:08:a2:06:16:04:31:32:33:78", // "123x" is no number
    "30:0a:a1:08:30:06:16:01:31:02:01:01", // a range of 1
    "30:08:a0:06:16:04:31:32:33:34:00", // trailing bytes
  ];
  for (const hex of bad) {
    assert.throws(() => parseTnAuthList(bytes(hex)), /malformed|expected/, hex);
  }
});

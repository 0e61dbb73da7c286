// Bencoding (BEP 3) as used by the rtpengine ng protocol: round trips and malformed input.
import assert from "node:assert/strict";
import { bdecode, bencode } from "../../src/media/bencode.ts";
import { BencodeError } from "../../src/media/errors.ts";

const t = new TextEncoder();
const s = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("bencode: scalars, lists and sorted dictionaries (BEP 3)", () => {
  assert.equal(s(bencode("spam")), "4:spam");
  assert.equal(s(bencode(-42)), "i-42e");
  assert.equal(s(bencode(["a", 1])), "l1:ai1ee");
  assert.equal(
    s(bencode({ "to-tag": "b", command: "offer", skip: undefined })),
    "d7:command5:offer6:to-tag1:be",
  );
  assert.equal(s(bencode("é")), "2:é", "length counts UTF-8 bytes");
});

Deno.test("bencode: decode round-trips an ng reply", () => {
  const v = {
    result: "ok",
    sdp: "v=0\r\n",
    flags: ["a", "b"],
    n: 0,
    nested: { x: [1, { y: "z" }] },
  };
  assert.deepEqual(bdecode(bencode(v)), v);
  assert.equal(bdecode(t.encode("0:")), "");
  assert.deepEqual(bdecode(t.encode("de")), {});
  const proto = bdecode(t.encode("d9:__proto__d1:xi1eee")) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype, "__proto__ stays a plain key");
  assert.deepEqual(Object.keys(proto), ["__proto__"]);
});

Deno.test("bencode: malformed input raises BencodeError with the offset", () => {
  const bad: [string, number][] = [
    ["", 0], // nothing
    ["i12", 3], // unterminated integer
    ["ie", 1], // no digits
    ["5:abc", 2], // string past the end
    ["l1:a", 4], // unterminated list
    ["di1e1:ae", 1], // integer key
    ["d1:a", 4], // dictionary without value
    ["x", 0], // unknown type
    ["1:ab", 3], // trailing bytes
    ["i99999999999999999999e", 1], // unsafe integer
  ];
  for (const [input, offset] of bad) {
    assert.throws(
      () => bdecode(t.encode(input)),
      (e) => e instanceof BencodeError && e.offset === offset,
      input,
    );
  }
  assert.throws(() => bdecode(t.encode("l".repeat(100) + "e".repeat(100))), BencodeError);
  assert.throws(() => bencode(1.5), TypeError);
});

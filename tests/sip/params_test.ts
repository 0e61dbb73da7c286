// RFC 3261 §25.1 generic-param lists and §7.3.1 comma-separated header lists.

import { strict as assert } from "node:assert";
import { Params, scanParams, SipParseError, splitList } from "../../src/sip/mod.ts";

Deno.test("RFC 3261 §7.3.1: splitList splits on commas outside quotes and <>", () => {
  assert.deepEqual(splitList('"a,b" <sip:x@y;p=1,2>;q=1 , <sip:z@w>'), [
    '"a,b" <sip:x@y;p=1,2>;q=1',
    "<sip:z@w>",
  ]);
  assert.deepEqual(splitList('"esc\\",aped", x'), ['"esc\\",aped"', "x"]);
  assert.deepEqual(splitList("one"), ["one"]);
  assert.deepEqual(splitList("a,,b"), ["a", "", "b"]);
});

Deno.test("RFC 3261 §25.1: Params are ordered, case-insensitive, flags are null", () => {
  const p = scanParams(";Branch=z9hG4bK1;LR;q=0.5", 0, "Via", false);
  assert.equal(p.get("branch"), "z9hG4bK1");
  assert.equal(p.get("lr"), null);
  assert.equal(p.get("missing"), undefined);
  assert.equal(p.has("Q"), true);
  p.set("BRANCH", "z9hG4bK2").set("new", null).delete("lr");
  assert.equal(p.toString(), ";Branch=z9hG4bK2;q=0.5;new");
  assert.equal(p.size, 3);
  const c = p.clone();
  c.set("q", "1");
  assert.equal(p.get("q"), "0.5");
  assert.equal(new Params().toString(), "");
});

Deno.test("RFC 3261 §25.1: header params allow SWS and quoted values holding ; and ,", () => {
  const p = scanParams(' ; a = 1 ;b="x;y,z" ; c', 0, "To", true);
  assert.deepEqual(p.list, [["a", "1"], ["b", '"x;y,z"'], ["c", null]]);
});

Deno.test("RFC 3261 §25.1: empty or stray parameters throw SipParseError naming the part", () => {
  for (const bad of [";", ";;a", ";=1", "a", ";a=1,", ';a="open']) {
    assert.throws(
      () => scanParams(bad, 0, "Contact", true),
      (e: unknown) => e instanceof SipParseError && e.part === "Contact",
      bad,
    );
  }
});

Deno.test("empty parameter lists are shared until set, and never leak between owners", () => {
  const a = scanParams("", 0, "uri", false);
  const b = new Params();
  a.set("lr", null);
  assert.equal(a.toString(), ";lr");
  assert.equal(b.toString(), "");
  assert.equal(scanParams("", 0, "uri", false).size, 0);
  b.set("transport", "tcp").set("transport", "udp");
  assert.equal(b.toString(), ";transport=udp");
  assert.equal(new Params().clone().set("x", "1").toString(), ";x=1");
  assert.equal(new Params().size, 0);
});

Deno.test("a parameter list that failed to scan leaves nothing behind for the next one", () => {
  assert.throws(() => scanParams(";a=1;b=2;=bad", 0, "Via", true), SipParseError);
  const p = scanParams(";c=3", 0, "Via", true);
  assert.deepEqual(p.list, [["c", "3"]]);
  // Two lists scanned one after the other own separate arrays.
  const q = scanParams(";d", 0, "Via", true);
  q.set("e", "5");
  assert.deepEqual(p.list, [["c", "3"]]);
  assert.equal(q.toString(), ";d;e=5");
});

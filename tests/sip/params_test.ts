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

Deno.test("a plain list read before it is split answers like a split one", () => {
  // Kept as text until edited: reads scan it; the answers must match the pairs exactly.
  const text = ";Branch=z9hG4bK1;lr;q=;maddr=[::1];received=2001:db8::1;branch=second";
  const lazy = scanParams(text, 0, "Via", true);
  const split = new Params(lazy.clone().list);
  for (const name of ["branch", "BRANCH", "lr", "q", "maddr", "received", "missing", "b", "l"]) {
    assert.equal(lazy.get(name), split.get(name), name);
    assert.equal(lazy.has(name), split.has(name), name);
  }
  assert.equal(lazy.get("branch"), "z9hG4bK1"); // the first of two
  assert.equal(lazy.get("lr"), null);
  assert.equal(lazy.get("q"), "");
  assert.equal(lazy.size, 6);
  assert.equal(lazy.toString(), text);
  assert.equal(split.toString(), text);
  // Names compare case-insensitively for letters only ("[" is not "{").
  assert.equal(scanParams(";a[=1", 0, "uri", false).get("a{"), undefined);
});

Deno.test("editing a list kept as text splits it, and copies stay apart", () => {
  const p = scanParams(";tag=abc;x=1", 0, "To", true);
  const copy = p.clone();
  p.set("tag", "def").delete("x");
  assert.equal(p.toString(), ";tag=def");
  assert.equal(copy.toString(), ";tag=abc;x=1");
  assert.equal(copy.get("tag"), "abc");
  copy.delete("TAG");
  assert.equal(copy.toString(), ";x=1");
});

Deno.test("RFC 3261 §7.3.1: white space or a quoted value is normalized, never kept", () => {
  // Trailing white space alone still leaves a plain list.
  assert.equal(scanParams(";a=1;b  ", 0, "Via", true).toString(), ";a=1;b");
  assert.equal(scanParams("  ;a=1", 0, "Via", true).toString(), ";a=1");
  assert.equal(scanParams(";a = 1; b", 0, "Via", true).toString(), ";a=1;b");
  const q = scanParams(';n="x;y"', 0, "Contact", true);
  assert.equal(q.get("n"), '"x;y"');
  assert.equal(q.size, 1);
  // URI parameters stop at `end`: the rest is not the list's.
  const u = scanParams(";transport=tcp?h=1", 0, "uri", false, 14);
  assert.equal(u.toString(), ";transport=tcp");
  assert.equal(u.get("transport"), "tcp");
});

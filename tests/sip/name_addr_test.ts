// RFC 3261 §20.10/§20.20/§20.39 name-addr and addr-spec, §25.1 quoted-string.

import { strict as assert } from "node:assert";
import {
  NameAddr,
  parseNameAddr,
  parseUri,
  quote,
  SipParseError,
  unquote,
} from "../../src/sip/mod.ts";

Deno.test("RFC 3261 §25.1: quoted display names with escapes keep their raw form", () => {
  const n = parseNameAddr('"A \\"quoted\\" \\\\ name" <sip:a@b>;tag=1', "From");
  assert.equal(n.display, '"A \\"quoted\\" \\\\ name"');
  assert.equal(unquote(n.display!), 'A "quoted" \\ name');
  assert.equal(quote('A "quoted" \\ name'), n.display);
  assert.equal(n.tag, "1");
});

Deno.test("RFC 3261 §20.10: in a name-addr, params inside <> are the URI's, after are the header's", () => {
  const n = parseNameAddr("Bob <sip:bob@b;transport=tcp>;expires=60;q=0.5", "Contact");
  assert.equal(n.display, "Bob");
  assert.equal(n.uri.params.get("transport"), "tcp");
  assert.equal(n.params.get("expires"), "60");
  assert.equal(n.toString(), "Bob <sip:bob@b;transport=tcp>;expires=60;q=0.5");
});

Deno.test("RFC 3261 §20.10: in an addr-spec every ;param is a header param", () => {
  const n = parseNameAddr("sip:bob@b;tag=xyz;lr", "To");
  assert.equal(n.uri.toString(), "sip:bob@b");
  assert.equal(n.tag, "xyz");
  assert.equal(n.params.get("lr"), null);
  assert.throws(() => parseNameAddr("sip:bob@b?x=y", "Contact"), SipParseError);
});

Deno.test("RFC 4475 §3.1.1.6: an unquoted display name may touch the <", () => {
  assert.equal(parseNameAddr("caller<sip:caller@example.com>", "From").display, "caller");
});

Deno.test("RFC 3261 §20.10: malformed values throw SipParseError naming the header", () => {
  for (
    const bad of [
      '"open <sip:a@b>',
      "Bell, Alex <sip:a@b>",
      "<sip:a@b",
      "< sip:a@b >",
      "",
      "<sip:a@b>;;",
      '"x" sip:a@b',
    ]
  ) {
    assert.throws(
      () => parseNameAddr(bad, "To"),
      (e: unknown) => e instanceof SipParseError && e.part === "To",
      bad,
    );
  }
});

Deno.test("RFC 3261 §19.3: setting and clearing the tag", () => {
  const n = new NameAddr(parseUri("sip:a@b"));
  n.tag = "t1";
  assert.equal(n.toString(), "<sip:a@b>;tag=t1");
  const c = n.clone();
  n.tag = undefined;
  assert.equal(n.toString(), "<sip:a@b>");
  assert.equal(c.tag, "t1");
});

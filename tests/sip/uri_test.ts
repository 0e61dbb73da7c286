// RFC 3261 §19.1 SIP/SIPS URIs, RFC 3966 tel URIs, opaque absolute URIs.

import { strict as assert } from "node:assert";
import {
  asRequestUri,
  escapeUser,
  isSupportedScheme,
  parseUri,
  SipParseError,
  unescapeOnce,
} from "../../src/sip/mod.ts";

const fails = (text: string, part = "Request-URI") =>
  assert.throws(
    () => parseUri(text, part),
    (e: unknown) => e instanceof SipParseError && e.part === part,
  );

Deno.test("RFC 3261 §19.1.1: sip URI with user, password, host, port, params and headers", () => {
  const u = parseUri(
    "sip:alice:secret@atlanta.com:5061;transport=TCP;lr;maddr=239.255.255.1?subject=x&priority=urgent",
  );
  assert.equal(u.scheme, "sip");
  assert.equal(u.user, "alice");
  assert.equal(u.password, "secret");
  assert.equal(u.host, "atlanta.com");
  assert.equal(u.port, 5061);
  assert.equal(u.params.get("lr"), null);
  assert.equal(u.params.get("MADDR"), "239.255.255.1");
  assert.equal(u.headers, "subject=x&priority=urgent");
  assert.equal(
    u.toString(),
    "sip:alice:secret@atlanta.com:5061;transport=TCP;lr;maddr=239.255.255.1?subject=x&priority=urgent",
  );
});

Deno.test("RFC 3261 §19.1.1: transport param compares case-insensitively via uri.transport", () => {
  assert.equal(parseUri("sip:h;transport=TCP").transport, "tcp");
  assert.equal(parseUri("sip:h").transport, "udp");
  assert.equal(parseUri("sips:h").transport, "tls");
  assert.equal(parseUri("SIP:h").scheme, "sip");
});

Deno.test("RFC 3261 §19.1.1/RFC 2732: IPv6 references keep their brackets", () => {
  const u = parseUri("sip:bob@[2001:db8::10]:5070;transport=udp");
  assert.equal(u.host, "[2001:db8::10]");
  assert.equal(u.port, 5070);
  assert.equal(parseUri("sips:[::1]").host, "[::1]");
  fails("sip:[2001:db8::zz]");
  fails("sip:[::1");
  fails("sip:[]");
});

Deno.test("RFC 3261 §19.1.2: escapes stay as received; unescapeOnce decodes exactly once", () => {
  const u = parseUri("sip:%75se%72@example.com;n%61me=v%61lue%25%34%31");
  assert.equal(u.user, "%75se%72");
  assert.equal(unescapeOnce(u.user!), "user");
  assert.equal(unescapeOnce(u.params.list[0][1]!), "value%41");
  assert.equal(unescapeOnce("a%00b").length, 3); // RFC 4475 escnull: no truncation at NUL
});

Deno.test("RFC 3261 §25.1: escapeUser keeps the user grammar and percent-encodes the rest", () => {
  assert.equal(escapeUser("alice-kit.1_~*'()&=+$,;?/"), "alice-kit.1_~*'()&=+$,;?/");
  assert.equal(escapeUser("*21#"), "*21%23");
  assert.equal(escapeUser("a b\0%"), "a%20b%00%25");
  assert.equal(escapeUser('<@:">'), "%3C%40%3A%22%3E");
  assert.equal(escapeUser("jörg"), "j%C3%B6rg");
  assert.equal(
    unescapeOnce(escapeUser("x%41 y")),
    "x%41 y",
    "escape then unescape is the identity",
  );
  assert.equal(parseUri(`sip:${escapeUser("a\r\nb@c")}@h`).user, "a%0D%0Ab%40c");
  assert.equal(
    escapeUser("%C3x%23 #", true),
    "%C3x%23%20%23",
    "keepEscapes: escapes stay, the rest is escaped",
  );
  assert.equal(escapeUser("%zz", true), "%25zz", "a % that starts no escape is escaped");
});

Deno.test("RFC 3261 §19.1.1 Table 1: asRequestUri drops headers and the method parameter", () => {
  const u = parseUri("sip:a@h:5060;method=REGISTER;transport=tcp;lr?Subject=x&Call-ID=y");
  assert.equal(asRequestUri(u).toString(), "sip:a@h:5060;transport=tcp;lr");
  assert.equal(u.toString(), "sip:a@h:5060;method=REGISTER;transport=tcp;lr?Subject=x&Call-ID=y");
  const plain = parseUri("sip:a@h;lr");
  assert.equal(asRequestUri(plain), plain, "nothing to strip: the same URI");
});

Deno.test("RFC 3966: tel URIs carry the number in user and their parameters", () => {
  const u = parseUri("tel:+1-201-555-0123;phone-context=example.com");
  assert.equal(u.scheme, "tel");
  assert.equal(u.user, "+1-201-555-0123");
  assert.equal(u.params.get("phone-context"), "example.com");
  assert.equal(u.toString(), "tel:+1-201-555-0123;phone-context=example.com");
  assert.ok(isSupportedScheme(u));
  fails("tel:");
});

Deno.test("RFC 3261 §20.10: any absolute URI parses opaque; only sip/sips/tel are supported", () => {
  const u = parseUri("http://www.example.com/x?y", "From");
  assert.equal(u.scheme, "http");
  assert.equal(u.opaque, "//www.example.com/x?y");
  assert.equal(u.toString(), "http://www.example.com/x?y");
  assert.equal(isSupportedScheme(u), false);
  assert.equal(isSupportedScheme(parseUri("sips:a@b")), true);
});

Deno.test("RFC 3261 §25.1: malformed URIs are rejected naming the part", () => {
  fails("sip:user@", "To");
  fails("sip:@host");
  fails("sip:a@b:70000");
  fails("sip:a@b:");
  fails("sip:a@b;;lr");
  fails("sip:a@b;=x");
  fails("sip:a@b c");
  fails("<sip:a@b>");
  fails("sip:a@b\r\nX: y");
  fails("1sip:a@b");
  fails("nocolon");
  fails("sip:a@b!c");
});

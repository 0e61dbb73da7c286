// Bearer-token enforcement (RFC 6750 §2.1, §3) on the HTTP API, and the exposure check that
// refuses a token-less API beyond loopback.

import assert from "node:assert/strict";
import {
  bearerToken,
  checkHttpExposure,
  createApp,
  HttpExposureError,
  isLoopbackAddress,
  timingSafeEqualStrings,
} from "../../src/http/mod.ts";
import { silentLogger } from "../../src/util/log.ts";
import { Registry } from "../../src/util/metrics.ts";
import { FakeControlPlane } from "./fake-control.ts";

const TOKEN = "s3cret-token";
const app = createApp(new FakeControlPlane(), {
  token: TOKEN,
  registry: new Registry(),
  log: silentLogger,
});
const ALL: [string, string][] = [
  ["GET", "/ready"],
  ["GET", "/metrics"],
  ["GET", "/calls"],
  ["GET", "/calls/c1"],
  ["DELETE", "/calls/c1"],
  ["POST", "/reload"],
  ["POST", "/drain"],
  ["GET", "/stats"],
  ["POST", "/gc"],
  ["GET", "/unknown"],
];

Deno.test("without credentials every route but /health is 401 with WWW-Authenticate", async () => {
  for (const [method, path] of ALL) {
    const res = await app.request(path, { method });
    assert.equal(res.status, 401, `${method} ${path}`);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="tandem"');
    assert.match((await res.json()).error, /Authorization: Bearer/);
  }
});

Deno.test("a wrong token is 401 invalid_token and does nothing", async () => {
  const control = new FakeControlPlane();
  const guarded = createApp(control, { token: TOKEN, registry: new Registry() });
  for (const auth of [`Bearer ${TOKEN}x`, "Bearer s3cret", `Basic ${TOKEN}`, TOKEN, "Bearer "]) {
    const res = await guarded.request("/calls/c1", {
      method: "DELETE",
      headers: { Authorization: auth },
    });
    assert.equal(res.status, 401, auth);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="tandem"/);
    await res.body?.cancel();
  }
  assert.equal(control.dropped.length, 0);
});

Deno.test("the right token opens every route; scheme is case-insensitive", async () => {
  for (const [method, path] of ALL.filter(([, p]) => p !== "/unknown")) {
    const res = await app.request(path, {
      method,
      headers: { Authorization: `bearer ${TOKEN}` },
    });
    assert.ok(res.status < 400 || res.status === 404, `${method} ${path}: ${res.status}`);
    await res.body?.cancel();
  }
  const unknown = await app.request("/unknown", { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(unknown.status, 404);
});

Deno.test("/health never needs the token", async () => {
  const res = await app.request("/health");
  assert.equal(res.status, 200);
});

Deno.test("an empty token means no authentication", async () => {
  const open = createApp(new FakeControlPlane(), { token: "", registry: new Registry() });
  assert.equal((await open.request("/stats")).status, 200);
});

Deno.test("timingSafeEqualStrings and bearerToken", async () => {
  assert.equal(await timingSafeEqualStrings("abc", "abc"), true);
  assert.equal(await timingSafeEqualStrings("abc", "abd"), false);
  assert.equal(await timingSafeEqualStrings("abc", "abcd"), false);
  assert.equal(await timingSafeEqualStrings("", ""), true);
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("BEARER\tabc "), "abc");
  assert.equal(bearerToken("Bearer a b"), undefined);
  assert.equal(bearerToken("Basic abc"), undefined);
  assert.equal(bearerToken(null), undefined);
});

Deno.test("isLoopbackAddress knows loopback literals only", () => {
  for (
    const a of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"]
  ) {
    assert.equal(isLoopbackAddress(a), true, a);
  }
  for (
    const a of [
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "192.168.1.1",
      "localhost",
      "128.0.0.1",
      "127.0.0.256",
      "::2",
      "::ffff:10.0.0.1",
      "1::1",
      "",
    ]
  ) {
    assert.equal(isLoopbackAddress(a), false, a);
  }
});

Deno.test("checkHttpExposure refuses a non-loopback address without a token", () => {
  checkHttpExposure("127.0.0.1", undefined);
  checkHttpExposure("::1", "");
  checkHttpExposure("0.0.0.0", "tok");
  for (const [address, token] of [["0.0.0.0", undefined], ["::", ""], ["10.1.2.3", undefined]]) {
    assert.throws(() => checkHttpExposure(address!, token), (err: unknown) => {
      assert.ok(err instanceof HttpExposureError);
      assert.equal(err.address, address);
      assert.match(err.message, /set http\.token .* or bind http\.address to 127\.0\.0\.1/);
      return true;
    });
  }
});

// The HTTP API surface (src/http/app.ts) over a fake control plane: status codes, JSON shapes,
// query validation and error bodies.

import assert from "node:assert/strict";
import { createApp, PROMETHEUS_CONTENT_TYPE } from "../../src/http/mod.ts";
import { Logger } from "../../src/util/log.ts";
import { Registry } from "../../src/util/metrics.ts";
import { FakeControlPlane, sampleCall } from "./fake-control.ts";

function setup(token?: string) {
  const control = new FakeControlPlane();
  const logs: string[] = [];
  const registry = new Registry();
  registry.counter("tandem_test_calls_total", "Calls seen by the test.").inc();
  const app = createApp(control, {
    token,
    registry,
    log: new Logger("debug", "json", (l) => logs.push(l)),
  });
  return { control, app, logs };
}

Deno.test("GET /health is 200 with the report when alive", async () => {
  const { app } = setup();
  const res = await app.request("/health");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const body = await res.json();
  assert.equal(body.ok, true);
  assert.equal(body.eventLoopLagMs, 1.5);
  assert.deepEqual(body.transports, [{ name: "udp 127.0.0.1:5060", ok: true }]);
});

Deno.test("GET /health is 503 when a transport is down, even if ok is claimed", async () => {
  const { app, control } = setup();
  control.healthReport = {
    ok: true,
    transports: [{ name: "tcp 127.0.0.1:5060", ok: false, detail: "socket closed" }],
    eventLoopLagMs: 0,
  };
  const res = await app.request("/health");
  assert.equal(res.status, 503);
  assert.equal((await res.json()).ok, false);
});

Deno.test("GET /health is 503 when the control plane says not ok or throws", async () => {
  const { app, control, logs } = setup();
  control.healthReport = { ...control.healthReport, ok: false };
  assert.equal((await app.request("/health")).status, 503);
  control.explode = new Error("boom");
  const res = await app.request("/health");
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.ok, false);
  assert.doesNotMatch(body.error, /boom/);
  assert.ok(logs.some((l) => l.includes("http.health.failed")));
});

Deno.test("GET /ready follows the control plane: 200 ready, 503 with the reason", async () => {
  const { app, control } = setup();
  assert.equal((await app.request("/ready")).status, 200);
  control.readyReport = { ready: false, reason: "draining" };
  const res = await app.request("/ready");
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { ready: false, reason: "draining" });
});

Deno.test("GET /metrics serves the registry as Prometheus text 0.0.4", async () => {
  const { app } = setup();
  const res = await app.request("/metrics");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  assert.match(await res.text(), /^tandem_test_calls_total 1$/m);
});

Deno.test("GET /calls lists calls and passes filters with a default limit", async () => {
  const { app, control } = setup();
  const res = await app.request("/calls");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(body, [sampleCall(), sampleCall({ id: "c2", state: "ringing", route: "b" })]);
  assert.deepEqual(control.listed.at(-1), { limit: 1000 });

  const res2 = await app.request("/calls?state=ringing&route=b&caller=alice&callee=100&limit=5");
  assert.deepEqual((await res2.json()).map((c: { id: string }) => c.id), ["c2"]);
  assert.deepEqual(control.listed.at(-1), {
    state: "ringing",
    route: "b",
    caller: "alice",
    callee: "100",
    limit: 5,
  });
});

Deno.test("GET /calls enforces limit even if the control plane returns more", async () => {
  const { app } = setup();
  const body = await (await app.request("/calls?limit=1")).json();
  assert.equal(body.length, 1);
});

Deno.test("GET /calls refuses a bad limit or an unknown filter with an actionable 400", async () => {
  const { app } = setup();
  for (const q of ["limit=0", "limit=abc", "limit=1.5", "limit=10001", "limit=-1"]) {
    const res = await app.request(`/calls?${q}`);
    assert.equal(res.status, 400, q);
    assert.match((await res.json()).error, /limit must be a whole number from 1 to 10000/);
  }
  const res = await app.request("/calls?status=ringing");
  assert.equal(res.status, 400);
  assert.match((await res.json()).error, /unknown query parameter "status".*state/);
});

Deno.test("GET /calls/:id returns the call, 404 JSON when unknown", async () => {
  const { app } = setup();
  const res = await app.request("/calls/c1");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), sampleCall());
  const missing = await app.request("/calls/nope");
  assert.equal(missing.status, 404);
  assert.match((await missing.json()).error, /no live call with id "nope"/);
});

Deno.test("DELETE /calls/:id drops the call with an optional reason", async () => {
  const { app, control, logs } = setup();
  const res = await app.request("/calls/c1?reason=operator%20request", { method: "DELETE" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { dropped: "c1" });
  assert.deepEqual(control.dropped, [{ id: "c1", reason: "operator request" }]);
  assert.ok(logs.some((l) => l.includes("http.call.dropped")));
  const again = await app.request("/calls/c1", { method: "DELETE" });
  assert.equal(again.status, 404);
});

Deno.test("DELETE /calls/:id refuses a reason with CR/LF (SIP header injection)", async () => {
  const { app, control } = setup();
  const res = await app.request("/calls/c1?reason=a%0D%0AX-Evil:%201", { method: "DELETE" });
  assert.equal(res.status, 400);
  assert.equal(control.dropped.length, 0);
  const long = await app.request(`/calls/c1?reason=${"x".repeat(201)}`, { method: "DELETE" });
  assert.equal(long.status, 400);
});

Deno.test("POST /reload: 200 with the rule count, 400 with every error", async () => {
  const { app, control } = setup();
  const ok = await app.request("/reload", { method: "POST" });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { ok: true, rules: 3, restartNeeded: [] });
  control.reloadResult = { ok: false, errors: ["rules[0].routes: expected a list", "x: y"] };
  const bad = await app.request("/reload", { method: "POST" });
  assert.equal(bad.status, 400);
  const body = await bad.json();
  assert.match(body.error, /running config is unchanged/);
  assert.deepEqual(body.errors, ["rules[0].routes: expected a list", "x: y"]);
  assert.equal(control.reloads, 2);
});

Deno.test("POST /drain is 202 and takes deadlineMs from query or JSON body", async () => {
  const { app, control } = setup();
  const res = await app.request("/drain", { method: "POST" });
  assert.equal(res.status, 202);
  assert.deepEqual(await res.json(), {
    draining: true,
    activeCalls: 2,
    deadline: "2026-01-02T03:05:00.000Z",
  });
  await app.request("/drain?deadlineMs=5000", { method: "POST" });
  await app.request("/drain", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ deadlineMs: 7000 }),
  });
  assert.deepEqual(control.drains, [undefined, 5000, 7000]);
});

Deno.test("POST /drain refuses a malformed deadline or body", async () => {
  const { app, control } = setup();
  for (
    const init of [
      { path: "/drain?deadlineMs=soon" },
      { path: "/drain?deadlineMs=-5" },
      { path: "/drain", body: "{not json" },
      { path: "/drain", body: "[1]" },
      { path: "/drain", body: '{"deadlineMs": 1.5}' },
      { path: "/drain?deadlineMs=1", body: '{"deadlineMs": 1}' },
    ]
  ) {
    const res = await app.request(init.path, { method: "POST", body: init.body });
    assert.equal(res.status, 400, JSON.stringify(init));
    assert.equal(typeof (await res.json()).error, "string");
  }
  assert.equal(control.drains.length, 0);
});

Deno.test("GET /stats returns the control plane counters", async () => {
  const { app } = setup();
  const res = await app.request("/stats");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { activeCalls: 2, totalCalls: 10 });
});

Deno.test("POST /gc collects and reports the heap; 501 naming the fix without a hook", async () => {
  const { app, control } = setup();
  const res = await app.request("/gc", { method: "POST" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    heapBeforeBytes: 9_000_000,
    heapAfterBytes: 4_000_000,
    ms: 12.5,
    heaps: 1,
  });
  assert.equal(control.collections, 1);
  assert.equal((await app.request("/gc")).status, 405);
  control.gcResult = undefined;
  const no = await app.request("/gc", { method: "POST" });
  assert.equal(no.status, 501);
  assert.match((await no.json()).error, /--v8-flags=--expose-gc/);
});

Deno.test("GET /registrations lists the phones registered through Tandem", async () => {
  const { app, control } = setup();
  const res = await app.request("/registrations");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), control.registrationList);
});

Deno.test("GET /config: the running configuration as the control plane gives it", async () => {
  const { app, control } = setup();
  const res = await app.request("/config");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), control.configValue);
});

Deno.test("GET /outbound-registrations lists the accounts Tandem registers at carriers", async () => {
  const { app, control } = setup();
  const res = await app.request("/outbound-registrations");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), control.outboundList);
});

Deno.test("GET /routes lists the routes with their calls, limits and probed servers", async () => {
  const { app, control } = setup();
  const res = await app.request("/routes");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), control.routeList);
  assert.equal((await app.request("/routes", { method: "DELETE" })).status, 404);
});

Deno.test("GET /sources/banned lists the banned sources; DELETE lifts one: 404 when not banned, 400 for a non-address", async () => {
  const { app, control, logs } = setup();
  const list = await app.request("/sources/banned");
  assert.equal(list.status, 200);
  assert.deepEqual(await list.json(), [
    { address: "192.0.2.66", until: "2026-01-02T03:05:00.000Z" },
  ]);
  const res = await app.request("/sources/banned/192.0.2.66", { method: "DELETE" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { unbanned: "192.0.2.66" });
  assert.deepEqual(control.unbanned, ["192.0.2.66"]);
  assert.ok(logs.some((l) => l.includes('"event":"http.source.unbanned"')));
  const again = await app.request("/sources/banned/192.0.2.66", { method: "DELETE" });
  assert.equal(again.status, 404);
  assert.match((await again.json()).error, /not banned/);
  const v6 = await app.request("/sources/banned/2001:db8::1", { method: "DELETE" });
  assert.equal(v6.status, 404, "an IPv6 address is an address");
  const bad = await app.request("/sources/banned/example.com", { method: "DELETE" });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /expected an IPv4 or IPv6 address/);
});

Deno.test("unknown route is 404 JSON listing the endpoints", async () => {
  const { app } = setup();
  const res = await app.request("/nope");
  assert.equal(res.status, 404);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.match(
    (await res.json()).error,
    /no such endpoint: GET \/nope; endpoints are .*GET \/calls/,
  );
});

Deno.test("wrong method is 405 JSON with Allow", async () => {
  const { app } = setup();
  const res = await app.request("/reload");
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "POST");
  assert.match((await res.json()).error, /use POST/);
  const res2 = await app.request("/calls/c1", { method: "PUT" });
  assert.equal(res2.status, 405);
  assert.equal(res2.headers.get("allow"), "GET, DELETE, HEAD");
});

Deno.test("a thrown error is 500 JSON without message or stack, and is logged", async () => {
  const { app, control, logs } = setup();
  control.explode = new Error("secret internal detail");
  for (const [path, method] of [["/calls", "GET"], ["/stats", "GET"], ["/reload", "POST"]]) {
    const res = await app.request(path, { method });
    assert.equal(res.status, 500, path);
    const text = await res.text();
    assert.doesNotMatch(text, /secret internal detail|at .*\.ts/);
    assert.match(JSON.parse(text).error, /see the Tandem log/);
  }
  assert.ok(logs.some((l) => l.includes("secret internal detail") && l.includes("http.error")));
});

Deno.test("HEAD /health answers like GET without a body", async () => {
  const { app } = setup();
  const res = await app.request("/health", { method: "HEAD" });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "");
});

Deno.test("http.allow: a request from outside the blocks gets 403, /health too; the blocks are read per request", async () => {
  const control = new FakeControlPlane();
  let allow: string[] | undefined = ["10.0.0.0/8", "2001:db8::/32"];
  const logs: string[] = [];
  const app = createApp(control, {
    registry: new Registry(),
    log: new Logger("info", "json", (l) => logs.push(l)),
    allow: () => allow,
  });
  const get = (path: string, remote?: string) =>
    app.fetch(new Request(`http://t${path}`), remote === undefined ? {} : { remote });
  assert.equal((await get("/ready", "10.1.2.3")).status, 200);
  assert.equal((await get("/ready", "2001:db8::7")).status, 200);
  const out = await get("/health", "192.0.2.9");
  assert.equal(out.status, 403);
  assert.match((await out.json()).error, /not in http\.allow/);
  assert.equal((await get("/calls", "::ffff:192.0.2.9")).status, 403);
  assert.equal((await get("/ready")).status, 403, "an unknown address is not let in");
  assert.ok(logs.some((l) => l.includes("http.forbidden_address") && l.includes("192.0.2.9")));
  allow = undefined; // a reload took the list away
  assert.equal((await get("/ready", "192.0.2.9")).status, 200);
});

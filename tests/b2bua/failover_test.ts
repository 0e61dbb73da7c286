// Failover decisions: which failures try the next route, which answer the caller.

import assert from "node:assert/strict";
import { decideFailover } from "../../src/b2bua/mod.ts";
import { route } from "./loop.ts";

const r = route("h", 1);
const withAuth = route("h", 1, { auth: { username: "u", password: "p" } });
const follow = route("h", 1, { followRedirects: true });
const noTimeoutFailover = route("h", 1, { failoverOnTimeout: false });

Deno.test("decideFailover: non-stop failures go to the next route when there is one", () => {
  assert.equal(decideFailover({ kind: "response", status: 503 }, r, false, true), "next-route");
  assert.equal(decideFailover({ kind: "response", status: 404 }, r, false, true), "next-route");
  assert.equal(decideFailover({ kind: "response", status: 503 }, r, false, false), "relay");
});

Deno.test("decideFailover: stop codes (486, 600, 603 by default) end the call", () => {
  for (const s of [486, 600, 603]) {
    assert.equal(decideFailover({ kind: "response", status: s }, r, false, true), "relay");
  }
});

Deno.test("decideFailover: 401/407 answered once with credentials, then treated as failures", () => {
  assert.equal(
    decideFailover({ kind: "response", status: 407 }, withAuth, false, true),
    "authenticate",
  );
  assert.equal(
    decideFailover({ kind: "response", status: 401 }, withAuth, false, false),
    "authenticate",
  );
  assert.equal(
    decideFailover({ kind: "response", status: 407 }, withAuth, true, true),
    "next-route",
  );
  assert.equal(decideFailover({ kind: "response", status: 407 }, r, false, false), "relay");
});

Deno.test("decideFailover: 3xx relayed by default, followed when configured", () => {
  assert.equal(decideFailover({ kind: "response", status: 302 }, r, false, true), "relay");
  assert.equal(
    decideFailover({ kind: "response", status: 302 }, follow, false, true),
    "follow-redirect",
  );
});

Deno.test("decideFailover: timeouts and transport errors fail over unless disabled", () => {
  assert.equal(decideFailover({ kind: "timeout" }, r, false, true), "next-route");
  assert.equal(decideFailover({ kind: "transport-error" }, r, false, true), "next-route");
  assert.equal(decideFailover({ kind: "timeout" }, noTimeoutFailover, false, true), "relay");
  assert.equal(decideFailover({ kind: "timeout" }, r, false, false), "relay");
});

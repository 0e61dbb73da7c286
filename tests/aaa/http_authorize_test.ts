// The HTTP authorization service's answers, checked field by field, and the request Tandem
// sends, against a real HTTP server on loopback.

import assert from "node:assert/strict";
import {
  httpAuthorize,
  HttpAuthorizeError,
  type HttpAuthorizeRequest,
  parseHttpAuthorization,
} from "../../src/aaa/mod.ts";

const REQUEST: HttpAuthorizeRequest = {
  call: "cdr-1",
  callId: "abc@10.0.0.1",
  rule: "customers",
  source: { transport: "udp", address: "10.0.0.1", port: 5070 },
  from: { uri: "sip:alice@10.0.0.1", user: "alice", display: "Alice" },
  to: "sip:100@10.0.0.9",
  ruri: "sip:100@10.0.0.9:5060",
  ruriUser: "100",
  headers: { "x-account": ["1234"] },
};

Deno.test("http authorization: accept with routes, credit, caller id; reject with a status", () => {
  assert.deepEqual(
    parseHttpAuthorization({
      action: "accept",
      routes: [
        "carrier-a",
        "192.0.2.10:5080;transport=tcp",
        "sip:[2001:db8::1]:5060",
        "gw.example",
      ],
      credit_seconds: 90.5,
      caller_id: "+4420799990000",
      display: 'Acme "Sales"',
    }),
    {
      outcome: "accept",
      routes: [
        "carrier-a",
        "192.0.2.10:5080;transport=tcp",
        "sip:[2001:db8::1]:5060",
        "gw.example",
      ],
      creditTimeMs: 90_500,
      callerId: "+4420799990000",
      display: 'Acme "Sales"',
    },
  );
  assert.deepEqual(parseHttpAuthorization({ action: "accept" }), { outcome: "accept" });
  assert.deepEqual(parseHttpAuthorization({ action: "reject" }), {
    outcome: "reject",
    status: 403,
  });
  assert.deepEqual(parseHttpAuthorization({ action: "reject", status: 486, reason: "Busy Here" }), {
    outcome: "reject",
    status: 486,
    reason: "Busy Here",
  });
});

Deno.test("http authorization: answers that would break SIP or mean nothing are errors", () => {
  const cases: [unknown, RegExp][] = [
    [[], /not a JSON object/],
    [{ action: "maybe" }, /action: expected "accept" or "reject"/],
    [{ action: "accept", extra: 1 }, /unknown key "extra"/],
    [{ action: "accept", routes: ["a b"] }, /routes: expected/],
    [{ action: "accept", routes: ["10.0.0.1>;x"] }, /routes: expected/],
    [{ action: "accept", routes: "carrier-a" }, /routes: expected/],
    [{ action: "accept", routes: Array(17).fill("a") }, /at most 16/],
    [{ action: "accept", caller_id: "bob\r\nX: y" }, /caller_id: expected/],
    [{ action: "accept", caller_id: "a@b" }, /caller_id: expected/],
    [{ action: "accept", display: "A\nB" }, /display: expected/],
    [{ action: "accept", credit_seconds: 0 }, /credit_seconds: expected/],
    [{ action: "accept", credit_seconds: "60" }, /credit_seconds: expected/],
    [{ action: "accept", status: 486 }, /status: expected nothing with an accept/],
    [{ action: "reject", status: 407 }, /status: expected a SIP status 400-699 \(not 401 or 407\)/],
    [{ action: "reject", status: 200 }, /status: expected/],
    [{ action: "reject", reason: "Busy\r\nX: y" }, /reason: expected printable/],
    [{ action: "reject", routes: ["a"] }, /routes: expected nothing with a reject/],
  ];
  for (const [body, re] of cases) {
    assert.throws(() => parseHttpAuthorization(body), (e: unknown) => {
      assert.ok(e instanceof HttpAuthorizeError, String(e));
      assert.match(e.message, re, JSON.stringify(body));
      return true;
    });
  }
});

/** A real HTTP server on loopback answering with `handler`; what it was sent is kept. */
function service(handler: (req: Request) => Response | Promise<Response>) {
  const seen: { headers: Headers; body: unknown }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({ headers: req.headers, body: await req.json() });
    return handler(req);
  });
  const url = `http://127.0.0.1:${server.addr.port}/authorize`;
  return { url, seen, close: () => server.shutdown() };
}

Deno.test("http authorization: POSTs the call as JSON with the configured headers; reads the answer", async () => {
  const svc = service(() => Response.json({ action: "accept", routes: ["carrier-b"] }));
  try {
    const got = await httpAuthorize(
      { url: svc.url, timeout: 2000, headers: { Authorization: "Bearer t0k" } },
      REQUEST,
    );
    assert.deepEqual(got, { outcome: "accept", routes: ["carrier-b"] });
    assert.equal(svc.seen.length, 1);
    assert.deepEqual(svc.seen[0].body, REQUEST);
    assert.equal(svc.seen[0].headers.get("authorization"), "Bearer t0k");
    assert.equal(svc.seen[0].headers.get("content-type"), "application/json");
  } finally {
    await svc.close();
  }
});

Deno.test("http authorization: a non-200, a body that is not JSON, or no answer in time is an error", async () => {
  let mode = "500";
  const svc = service(async () => {
    if (mode === "500") return new Response("oops", { status: 500 });
    if (mode === "text") return new Response("accept");
    await new Promise((r) => setTimeout(r, 500));
    return Response.json({ action: "accept" });
  });
  const ask = () => httpAuthorize({ url: svc.url, timeout: 200, headers: {} }, REQUEST);
  try {
    await assert.rejects(ask(), /HTTP 500/);
    mode = "text";
    await assert.rejects(ask(), /not JSON/);
    mode = "slow";
    await assert.rejects(
      ask(),
      (e: Error) => e.name === "TimeoutError" || /timed? ?out/i.test(e.message),
    );
  } finally {
    await new Promise((r) => setTimeout(r, 400)); // let the slow handler finish
    await svc.close();
  }
});

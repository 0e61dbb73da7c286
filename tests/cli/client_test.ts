// The HTTP-API client commands against a fake fetch, and runCli end to end.
import assert from "node:assert/strict";
import { FILE as TLS_FILE } from "../config/with-certs.ts";
import {
  apiBaseUrl,
  type ClientIO,
  parseCli,
  runCli,
  runClientCommand,
} from "../../src/cli/mod.ts";
import { parseConfig } from "../../src/config/mod.ts";

interface Seen {
  url: string;
  method: string;
  auth: string | null;
}

function fakeIO(reply: (s: Seen) => Response, env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const seen: Seen[] = [];
  const io: ClientIO = {
    fetch: ((url: string, init: RequestInit) => {
      const s = {
        url,
        method: init.method ?? "GET",
        auth: new Headers(init.headers).get("authorization"),
      };
      seen.push(s);
      return Promise.resolve(reply(s));
    }) as typeof fetch,
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: (n) => env[n],
  };
  return { io, out, err, seen };
}

const client = (argv: string[]) => {
  const c = parseCli(argv);
  assert.equal(c.kind, "client");
  return c as Extract<typeof c, { kind: "client" }>;
};

Deno.test("calls: GET /calls, table or --json", async () => {
  const calls = [{ id: "c1", state: "answered", from: "alice", to: "bob", extra: 1 }];
  const f = fakeIO(() => Response.json(calls));
  assert.equal(await runClientCommand(client(["calls"]), undefined, f.io), 0);
  assert.deepEqual(f.seen, [{ url: "http://127.0.0.1:8080/calls", method: "GET", auth: null }]);
  assert.equal(f.out[0], "id  state     from   to\nc1  answered  alice  bob");
  const j = fakeIO(() => Response.json(calls));
  assert.equal(await runClientCommand(client(["calls", "--json"]), undefined, j.io), 0);
  assert.deepEqual(JSON.parse(j.out[0]), calls);
});

Deno.test("routes: GET /routes, one line per route with its servers, or --json", async () => {
  const routes = [
    {
      name: "carrier-a",
      target: "udp:192.0.2.10:5060",
      rules: ["all", "vip"],
      calls: 3,
      attempts: 40,
      answered: 22,
      talkSeconds: 3310,
      maxCalls: 300,
      servers: [{ target: "udp:192.0.2.10:5060", state: "down", since: "x", last: "timeout" }],
      quality: { calls: 25, asr: 0.12, pddMs: 4210, degraded: true },
    },
    {
      name: "b",
      target: "dns:srv:tcp:carrier.example",
      rules: ["all"],
      calls: 0,
      attempts: 0,
      answered: 0,
      talkSeconds: 0,
      servers: [],
    },
  ];
  const f = fakeIO(() => Response.json(routes));
  assert.equal(await runClientCommand(client(["routes"]), undefined, f.io), 0);
  assert.equal(f.seen[0].url, "http://127.0.0.1:8080/routes");
  assert.equal(
    f.out[0],
    [
      "name       target                       rules    calls  attempts  asr  limits     quality                                 servers",
      "carrier-a  udp:192.0.2.10:5060          all,vip  3      40        55%  300 calls  degraded: 25 calls, asr 12%, pdd 4.2 s  udp:192.0.2.10:5060 down",
      "b          dns:srv:tcp:carrier.example  all      0      0         -    -          -                                       not probed",
    ].join("\n"),
  );
  const j = fakeIO(() => Response.json(routes));
  assert.equal(await runClientCommand(client(["routes", "--json"]), undefined, j.io), 0);
  assert.deepEqual(JSON.parse(j.out[0]), routes);
});

Deno.test("registrations: GET /registrations, one line per phone, or --json", async () => {
  const regs = [{
    aor: "sip:alice@example.test",
    contact: "sip:xyz@abc.invalid;transport=ws",
    via: "ws:192.0.2.7:50312",
    token: "t",
    expires: "2026-01-02T03:10:00.000Z",
  }];
  const f = fakeIO(() => Response.json(regs));
  assert.equal(await runClientCommand(client(["registrations"]), undefined, f.io), 0);
  assert.equal(f.seen[0].url, "http://127.0.0.1:8080/registrations");
  assert.equal(
    f.out[0],
    [
      "aor                     contact                           via                 expires",
      "sip:alice@example.test  sip:xyz@abc.invalid;transport=ws  ws:192.0.2.7:50312  2026-01-02T03:10:00.000Z",
    ].join("\n"),
  );
  const none = fakeIO(() => Response.json([]));
  assert.equal(await runClientCommand(client(["registrations"]), undefined, none.io), 0);
  assert.equal(none.out[0], "no registrations");
});

Deno.test("outbound-registrations: GET /outbound-registrations, one line per account, or --json", async () => {
  const list = [{
    name: "carrier-a",
    aor: "sip:+15551230000@carrier.example",
    state: "failed",
    contact: null,
    server: "udp:192.0.2.10:5060",
    expires: null,
    next: "2026-01-02T03:10:00.000Z",
    last: "403 Forbidden",
    failures: 2,
    since: "2026-01-02T03:04:05.000Z",
  }];
  const f = fakeIO(() => Response.json(list));
  assert.equal(await runClientCommand(client(["outbound-registrations"]), undefined, f.io), 0);
  assert.equal(f.seen[0].url, "http://127.0.0.1:8080/outbound-registrations");
  assert.deepEqual(f.out[0].split("\n").map((l) => l.split(/\s{2,}/)), [
    ["name", "aor", "state", "server", "last", "expires", "next"],
    [
      "carrier-a",
      "sip:+15551230000@carrier.example",
      "failed",
      "udp:192.0.2.10:5060",
      "403 Forbidden",
      "-",
      "2026-01-02T03:10:00.000Z",
    ],
  ]);
  const j = fakeIO(() => Response.json(list));
  assert.equal(
    await runClientCommand(client(["outbound-registrations", "--json"]), undefined, j.io),
    0,
  );
  assert.deepEqual(JSON.parse(j.out[0]), list);
  const none = fakeIO(() => Response.json([]));
  assert.equal(await runClientCommand(client(["outbound-registrations"]), undefined, none.io), 0);
  assert.equal(none.out[0], "no outbound registrations");
});

Deno.test("drop, reload, drain, stats use the right method and path; token and URL defaults", async () => {
  const cfg = parseConfig('http: { listen: "[::]:9000", token: t0 }\n', "c.yaml", "yaml", {
    env: {},
  });
  const f = fakeIO(() => new Response("ok\n"), { TANDEM_TOKEN: "envtok" });
  assert.equal(await runClientCommand(client(["drop", "a b@h"]), cfg, f.io), 0);
  assert.equal(await runClientCommand(client(["reload"]), cfg, f.io), 0);
  assert.equal(await runClientCommand(client(["drain", "--token", "flag"]), cfg, f.io), 0);
  assert.equal(await runClientCommand(client(["stats"]), undefined, f.io), 0);
  assert.deepEqual(f.seen, [
    { url: "http://[::1]:9000/calls/a%20b%40h", method: "DELETE", auth: "Bearer t0" },
    { url: "http://[::1]:9000/reload", method: "POST", auth: "Bearer t0" },
    { url: "http://[::1]:9000/drain", method: "POST", auth: "Bearer flag" },
    { url: "http://127.0.0.1:8080/metrics", method: "GET", auth: "Bearer envtok" },
  ]);
  assert.deepEqual(f.out, ["dropped a b@h", "ok", "ok", "ok"]);
});

Deno.test("failures: 401, 404 on drop, server error, unreachable, HTTP disabled", async () => {
  const cases: [string[], () => Response, RegExp][] = [
    [["stats"], () => new Response("", { status: 401 }), /401 unauthorized/],
    [["drop", "x"], () => new Response("", { status: 404 }), /no live call x/],
    [
      ["reload"],
      () => new Response("t.yaml:3: sip.x: bad", { status: 422, statusText: "Unprocessable" }),
      /422 Unprocessable\nt\.yaml:3/,
    ],
    [["drain"], () => {
      throw new TypeError("connection refused");
    }, /cannot reach http:\/\/127\.0\.0\.1:8080\/drain: connection refused/],
  ];
  for (const [argv, reply, re] of cases) {
    const f = fakeIO(reply);
    assert.equal(await runClientCommand(client(argv), undefined, f.io), 1, argv.join(" "));
    assert.match(f.err.join("\n"), re);
  }
  const off = parseConfig("http: false\n", "off.yaml", "yaml", { env: {} });
  const f = fakeIO(() => new Response(""));
  assert.equal(await runClientCommand(client(["calls"]), off, f.io), 2);
  assert.match(f.err[0], /HTTP API is disabled in off\.yaml; pass --url/);
  assert.equal(apiBaseUrl("http://h:1/", off), "http://h:1");
  // An API with a certificate (http.tls) is dialled over https.
  const https = parseConfig(
    "http: { listen: 127.0.0.1:8443, tls: { cert: server.pem, key: server-key.pem } }\n",
    TLS_FILE,
    "yaml",
    { env: {} },
  );
  assert.equal(apiBaseUrl(undefined, https), "https://127.0.0.1:8443");
});

Deno.test("runCli: exit statuses, --check-config, --print-config, overrides, start hook", async () => {
  const dir = await Deno.makeTempDir();
  const good = `${dir}/good.yaml`;
  const bad = `${dir}/bad.yaml`;
  await Deno.writeTextFile(
    good,
    'http: { token: "${T}" }\nrules:\n  - routes: [{ target: "127.0.0.1:5090" }]\n',
  );
  await Deno.writeTextFile(bad, "sip:\n  listen: 1\nlog: { level: x }\n");
  const run = async (argv: string[], env: Record<string, string> = { T: "secret" }) => {
    const f = fakeIO(() => new Response("[]"), env);
    let started: unknown;
    const code = await runCli(argv, {
      io: f.io,
      start: (cfg, cmd) => {
        started = {
          level: cfg.log.level,
          format: cfg.log.format,
          source: cfg.source,
          cmd: cmd.kind,
        };
        return Promise.resolve(0);
      },
    });
    return { code, out: f.out.join("\n"), err: f.err.join("\n"), started, seen: f.seen };
  };
  assert.deepEqual(
    (await run(["--check-config", "--config", good])).out,
    `${good}: configuration OK (1 rule)`,
  );
  const b = await run(["--check-config", "--config", bad]);
  assert.equal(b.code, 2);
  assert.equal(b.err.split("\n").length, 3);
  assert.match(b.err, /bad\.yaml:2: sip\.listen: expected a list, got 1/);
  assert.equal((await run(["--config", good], {})).code, 2); // T unset
  // tandem match reads routing only: an unset secret does not stop it.
  const m = await run(["match", "5551000", "--config", good], {});
  assert.equal(m.code, 0, m.err);
  assert.match(m.out, /rule "rule-1"/);
  const p = await run(["--print-config", "--config", good]);
  assert.equal(p.code, 0);
  assert.match(p.out, /token: "\*{8}"/);
  assert.ok(!p.out.includes(": secret"));
  const r = await run(["--config", good, "--log-level", "warn", "--log-format", "pretty"]);
  assert.deepEqual(r.started, { level: "warn", format: "pretty", source: good, cmd: "run" });
  const d = await run([], {});
  assert.deepEqual([d.code, (d.started as { source: string }).source], [0, "<embedded>"]);
  assert.match(
    (await run(["--version"])).out,
    /^tandem 0\.1\.0 \(deno \d+\.\d+\.\d+\)$/,
    "version and build runtime",
  );
  assert.equal((await run(["nope"])).code, 2);
  const c = await run(["calls", "--config", good]);
  assert.equal(c.code, 0);
  assert.deepEqual(c.seen[0].auth, "Bearer secret");
  assert.equal((await run(["calls"], { TANDEM_CONFIG: bad })).code, 2);
  await Deno.remove(dir, { recursive: true });
});

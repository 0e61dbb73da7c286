// Calls authorized and routed by the operator's HTTP service (`http_authorization`, rules with
// `auth.mode: http`), through the binary: the service (a real HTTP server on loopback) puts one
// call through to a route it names with a caller id of its choice, refuses one with 486, and
// answers a third with garbage, which the rule's on_timeout turns into a 503. The CDRs and the
// service's log show what each side saw.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  baseConfig,
  binaryAvailable,
  freePort,
  freeUdpPort,
  repoRoot,
  runSipp,
  sippAvailable,
  sippUac,
  startTandem,
  udpBound,
  waitFor,
} from "./harness.ts";

Deno.test({
  name: "http authorization: the service routes one call with its caller id, rejects one with " +
    "486, and a broken answer gets 503; each call has its CDR",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [sip, http, callee] = [freePort(), freePort(), freeUdpPort()];
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-httpauth-" });
    const asked: Record<string, unknown>[] = [];
    const service = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = await req.json();
      asked.push({ ...body, token: req.headers.get("authorization") });
      switch (body.ruriUser) {
        case "100":
          return Response.json({
            action: "accept",
            routes: [`127.0.0.1:${callee}`],
            caller_id: "4420799990000",
          });
        case "200":
          return Response.json({ action: "reject", status: 486, reason: "Busy Here" });
        default:
          return new Response("{ not json", { headers: { "content-type": "application/json" } });
      }
    });
    try {
      await using tandem = await startTandem({
        binary: binaryAvailable(),
        config: baseConfig(sip, http) + `http_authorization:
  url: "http://127.0.0.1:${service.addr.port}/authorize"
  headers: { Authorization: "Bearer e2e-token" }
cdr:
  dir: ${dir}/journal
  file: { path: ${dir}/cdr.jsonl, format: jsonl, rotate: size }
rules:
  - name: customers
    auth: { mode: http }
    routes: [{ name: configured, target: "127.0.0.1:9" }]
`,
      });
      const uas = runSipp(
        ["-sn", "uas", "-i", "127.0.0.1", "-p", String(callee), "-m", "1", "-timeout", "20s"],
        { timeoutMs: 30_000 },
      );
      await waitFor(() => udpBound(callee), 5000, { what: "callee SIPp" });
      const ok = await sippUac(`127.0.0.1:${sip}`, { service: "100" });
      assert.equal(ok.code, 0, `caller: ${ok.stdout.slice(-1500)}`);
      assert.equal((await uas).code, 0);
      const busy = await sippUac(`127.0.0.1:${sip}`, { service: "200" });
      assert.notEqual(busy.code, 0, "the rejected call fails");
      const broken = await sippUac(`127.0.0.1:${sip}`, { service: "300" });
      assert.notEqual(broken.code, 0, "the call with a broken answer fails");

      assert.deepEqual(asked.map((a) => [a.ruriUser, a.rule, a.token]), [
        ["100", "customers", "Bearer e2e-token"],
        ["200", "customers", "Bearer e2e-token"],
        ["300", "customers", "Bearer e2e-token"],
      ]);
      assert.deepEqual((asked[0].source as { address: string }).address, "127.0.0.1");
      type Cdr = {
        id: string;
        finalCode: number;
        attempt: number;
        destination?: string;
        out?: { from: string };
      };
      let cdrs: Cdr[] = [];
      await waitFor(
        async () => {
          const text = await Deno.readTextFile(`${dir}/cdr.jsonl`).catch(() => "");
          cdrs = text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
          return cdrs.length === 3;
        },
        5000,
        { what: "three CDRs" },
      ).catch((e) => {
        const files = [...Deno.readDirSync(dir)].map((f) => f.name);
        throw new Error(`${e.message}: ${JSON.stringify(cdrs)} in ${files}`);
      });
      const [c1, c2, c3] = cdrs;
      assert.equal(c1.finalCode, 200, JSON.stringify(c1));
      assert.equal(c1.id, asked[0].call, "the service got the call's CDR id");
      assert.equal(c1.destination, `127.0.0.1:${callee}`, "the service's route");
      assert.match(c1.out!.from, /^sipp <sip:4420799990000@127\.0\.0\.1>;tag=/);
      assert.deepEqual([c2.finalCode, c2.out], [486, undefined]);
      assert.deepEqual([c3.finalCode, c3.out], [503, undefined]);
      const logs = await tandem.logs();
      assert.match(logs.stdout + logs.stderr, /authorize-failed.*not JSON/);
    } finally {
      await service.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/** RFC 2617 §3.2.2 with qop=auth, as the operator's service would check it. */
function digestResponse(d: Record<string, string>, password: string): string {
  const h = (s: string) => createHash("md5").update(s).digest("hex");
  const ha1 = h(`${d.username}:${d.realm}:${password}`);
  const ha2 = h(`${d.method}:${d.uri}`);
  return h(`${ha1}:${d.nonce}:${d.nc}:${d.cnonce}:${d.qop}:${ha2}`);
}

Deno.test({
  name: "http authorization with digest: Tandem challenges the caller, the service checks the " +
    "credentials it passes on; the right password is put through, a wrong one gets 403",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [sip, http, callee] = [freePort(), freePort(), freeUdpPort()];
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-httpdigest-" });
    const seen: Record<string, string>[] = [];
    const service = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = await req.json();
      const d = body.digest as Record<string, string> | undefined;
      if (d) seen.push(d);
      const ok = d?.username === "alice" && d.response === digestResponse(d, "wonderland");
      return Response.json(ok ? { action: "accept" } : { action: "reject" });
    });
    try {
      await using _tandem = await startTandem({
        binary: binaryAvailable(),
        config: baseConfig(sip, http) +
          `http_authorization: { url: "http://127.0.0.1:${service.addr.port}/authorize" }
cdr:
  dir: ${dir}/journal
  file: { path: ${dir}/cdr.jsonl, format: jsonl, rotate: size }
rules:
  - name: subscribers
    auth: { mode: http, digest: true, realm: tandem.test }
    routes: [{ name: pbx, target: "127.0.0.1:${callee}" }]
`,
      });
      const caller = (scenario: string, password: string) =>
        runSipp([
          "-sf",
          `${repoRoot}/tests/e2e/aaa/scenarios/${scenario}.xml`,
          `127.0.0.1:${sip}`,
          "-s",
          "100",
          "-au",
          "alice",
          "-ap",
          password,
          "-i",
          "127.0.0.1",
          "-p",
          String(freeUdpPort()),
          "-m",
          "1",
          "-timeout",
          "20s",
          "-timeout_error",
        ], { timeoutMs: 30_000 });
      const uas = runSipp(
        ["-sn", "uas", "-i", "127.0.0.1", "-p", String(callee), "-m", "1", "-timeout", "20s"],
        { timeoutMs: 30_000 },
      );
      await waitFor(() => udpBound(callee), 5000, { what: "callee SIPp" });
      const good = await caller("uac-digest", "wonderland");
      assert.equal(good.code, 0, `caller: ${good.stdout.slice(-1500)}`);
      assert.equal((await uas).code, 0);
      const bad = await caller("uac-digest-refused", "mad-hatter");
      assert.equal(bad.code, 0, `caller with the wrong password: ${bad.stdout.slice(-1500)}`);
      // Only answers to Tandem's challenge reached the service: the first INVITEs got a 407.
      assert.equal(seen.length, 2);
      assert.deepEqual(
        seen.map((d) => [d.username, d.realm, d.method, d.qop]),
        [["alice", "tandem.test", "INVITE", "auth"], ["alice", "tandem.test", "INVITE", "auth"]],
      );
      let codes: number[] = [];
      await waitFor(
        async () => {
          const text = await Deno.readTextFile(`${dir}/cdr.jsonl`).catch(() => "");
          codes = text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l).finalCode);
          return codes.includes(200) && codes.includes(403);
        },
        5000,
        { what: "the CDRs of the put-through and the refused call" },
      ).catch((e) => {
        throw new Error(`${e.message}: ${codes}`);
      });
    } finally {
      await service.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

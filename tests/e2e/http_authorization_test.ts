// Calls authorized and routed by the operator's HTTP service (`http_authorization`, rules with
// `auth.mode: http`), through the binary: the service (a real HTTP server on loopback) puts one
// call through to a route it names with a caller id of its choice, refuses one with 486, and
// answers a third with garbage, which the rule's on_timeout turns into a 503. The CDRs and the
// service's log show what each side saw.

import assert from "node:assert/strict";
import {
  binaryAvailable,
  freePort,
  freeUdpPort,
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
        config: `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
http_authorization:
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

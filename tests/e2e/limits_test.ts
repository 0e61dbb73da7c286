// Call limits end to end, through the binary: SIPp callers held on calls past a rule's
// max_calls get 503 with Q.850 cause 34 and no Retry-After (checked by the caller's scenario);
// a route at its max_calls sends the next calls to the following route. /metrics shows the
// counts while the calls are up and after they end. A source flooding new requests past
// limits.per_source is ignored for its ban, a trusted one never.

import assert from "node:assert/strict";
import {
  binaryAvailable,
  buildOptions,
  freePort,
  freeUdpPort,
  recvWithin,
  repoRoot,
  runSipp,
  sippAvailable,
  type SippResult,
  startTandem,
  udpBound,
  waitFor,
} from "./harness.ts";

const UAC = `${repoRoot}/tests/e2e/scenarios/limit-uac.xml`;
const HOLD_MS = 3000;

/** The value of one /metrics sample (0 when absent). */
async function metric(http: number, sample: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(sample + " "));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

/** SIPp's built-in callee on `port` for `calls` calls. */
function callee(port: number, calls: number): Promise<SippResult> {
  return runSipp(
    ["-sn", "uas", "-i", "127.0.0.1", "-p", String(port), "-m", String(calls), "-timeout", "30s"],
    { timeoutMs: 45_000 },
  );
}

/** `calls` callers at once through Tandem, each holding an answered call HOLD_MS. */
function callers(sip: number, calls: number): Promise<SippResult> {
  return runSipp([
    "-sf",
    UAC,
    `127.0.0.1:${sip}`,
    "-i",
    "127.0.0.1",
    "-p",
    String(freeUdpPort()),
    "-s",
    "e2e-limit",
    "-m",
    String(calls),
    "-r",
    "50",
    "-l",
    String(calls),
    "-d",
    String(HOLD_MS),
    "-timeout",
    "30s",
    "-timeout_error",
  ], { timeoutMs: 45_000 });
}

function config(sip: number, http: number, rules: string, cdrDir?: string): string {
  return `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
${
    cdrDir
      ? `cdr:\n  dir: ${cdrDir}/journal\n  file: { path: ${cdrDir}/cdr.jsonl, rotate: size }\n`
      : ""
  }rules:
${rules}`;
}

/** The CDRs of the file sink in `dir`. */
async function cdrs(dir: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(`${dir}/cdr.jsonl`).catch(() => "");
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

Deno.test({
  name:
    "limits: five callers at once against a rule's max_calls 3 — three are put through, two get 503 with Q.850 cause 34 and no Retry-After; /metrics counts them",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [sip, http, port] = [freePort(), freePort(), freeUdpPort()];
    const dir = await Deno.makeTempDir({ prefix: "tandem-limits-" });
    await using tandem = await startTandem({
      binary: binaryAvailable(),
      config: config(
        sip,
        http,
        `  - name: customer
    limits: { max_calls: 3 }
    routes:
      - { name: callee, target: "127.0.0.1:${port}" }
`,
        dir,
      ),
    });
    const uas = callee(port, 3);
    await waitFor(() => udpBound(port), 5000, { what: "callee SIPp" });
    const uac = callers(sip, 5);
    const active = 'tandem_rule_calls_active{rule="customer"}';
    await waitFor(async () => await metric(http, active) === 3, HOLD_MS - 500, {
      what: "three calls up on the rule",
    });
    const [u, c] = await Promise.all([uac, uas]);
    const logs = async () => {
      const l = await tandem.logs();
      return (l.stdout + l.stderr).slice(-2000);
    };
    assert.equal(u.code, 0, `callers: ${u.stdout.slice(-1500)}\n${await logs()}`);
    assert.equal(c.code, 0, `callee: ${c.stdout.slice(-1500)}`);
    assert.equal(await metric(http, 'tandem_calls_total{outcome="answered"}'), 3);
    assert.equal(await metric(http, 'tandem_calls_total{outcome="limit"}'), 2);
    assert.equal(
      await metric(http, 'tandem_limit_refusals_total{limit="calls",name="customer",scope="rule"}'),
      2,
    );
    assert.equal(await metric(http, active), 0, "every place given back");
    // The refused calls are recorded too: 503, Q.850 34, no route tried.
    const all = await waitFor(
      async () => {
        const c = await cdrs(dir);
        return c.length >= 5 ? c : undefined;
      },
      5000,
      { what: "5 CDRs" },
    );
    const refused = all.filter((c) => c.finalCode === 503);
    assert.equal(refused.length, 2, JSON.stringify(all));
    for (const c of refused) {
      assert.deepEqual([c.q850, c.endReason, c.rule, c.route], [
        34,
        "rejected",
        "customer",
        undefined,
      ]);
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "limits: four callers at once, the first route's max_calls 2 — two calls on each route, counted per route while they are up",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [sip, http, portA, portB] = [freePort(), freePort(), freeUdpPort(), freeUdpPort()];
    await using _tandem = await startTandem({
      binary: binaryAvailable(),
      config: config(
        sip,
        http,
        `  - name: all
    routes:
      - { name: trunk-a, target: "127.0.0.1:${portA}", limits: { max_calls: 2 } }
      - { name: trunk-b, target: "127.0.0.1:${portB}" }
`,
      ),
    });
    const uasA = callee(portA, 2);
    const uasB = callee(portB, 2);
    await waitFor(() => udpBound(portA) && udpBound(portB), 5000, { what: "callee SIPps" });
    const uac = callers(sip, 4);
    const on = (route: string) => metric(http, `tandem_route_calls_active{route="${route}"}`);
    await waitFor(
      async () => await on("trunk-a") === 2 && await on("trunk-b") === 2,
      HOLD_MS - 500,
      {
        what: "two calls up on each route",
      },
    );
    const [u, a, b] = await Promise.all([uac, uasA, uasB]);
    assert.equal(u.code, 0, `callers: ${u.stdout.slice(-1500)}`);
    assert.equal(a.code, 0, `trunk-a callee: ${a.stdout.slice(-1500)}`);
    assert.equal(b.code, 0, `trunk-b callee: ${b.stdout.slice(-1500)}`);
    assert.equal(
      await metric(http, 'tandem_limit_refusals_total{limit="calls",name="trunk-a",scope="route"}'),
      2,
    );
    assert.equal(await on("trunk-a"), 0);
    assert.equal(await on("trunk-b"), 0);
  },
});

/**
 * Send `n` OPTIONS back to back from a socket bound to `from`, to Tandem on 127.0.0.1:`port`;
 * how many were answered within a second.
 */
async function burst(from: string, port: number, n: number): Promise<number> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: from, port: 0 });
  const local = { host: from, port: (sock.addr as Deno.NetAddr).port };
  const enc = new TextEncoder();
  try {
    for (let i = 0; i < n; i++) {
      const msg = buildOptions("127.0.0.1", port, "udp", local);
      await sock.send(enc.encode(msg), { transport: "udp", hostname: "127.0.0.1", port });
    }
    let answered = 0;
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline) {
      const got = await recvWithin(sock, deadline - Date.now());
      if (!got) break;
      if (/^SIP\/2\.0 200 /.test(new TextDecoder().decode(got[0])) && ++answered === n) break;
    }
    return answered;
  } finally {
    sock.close();
  }
}

Deno.test({
  name:
    "limits.per_source: 60 OPTIONS at once from one address — the first 20 answered, the rest dropped and the source banned for 3 s (listed in GET /sources/banned, lifted by DELETE); a trusted address is never limited",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const [sip, http] = [freePort(), freePort()];
    await using tandem = await startTandem({
      binary: binaryAvailable(),
      config: `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
limits:
  per_source: { max_requests: 20, ban: 3s, trusted: [127.0.0.2] }
`,
    });
    // The readiness probe came from 127.0.0.1 too: let its token come back.
    await new Promise((r) => setTimeout(r, 200));
    const first = await burst("127.0.0.1", sip, 60);
    // The bucket refills while the 60 go out (20 a second): a slow sender gets a few more.
    assert.ok(first >= 20 && first <= 25, `${first} of 60 answered`);
    assert.ok(await metric(http, "tandem_sip_source_dropped_total") >= 39);
    assert.equal(await metric(http, "tandem_sip_sources_banned"), 1);
    // The operator sees the ban (3 s from the 21st request) and lifts it.
    const api = `http://127.0.0.1:${http}/sources/banned`;
    const banned = await (await fetch(api)).json() as { address: string; until: string }[];
    assert.deepEqual(banned.map((b) => b.address), ["127.0.0.1"]);
    assert.ok(Date.parse(banned[0].until) > Date.now());
    assert.equal(await burst("127.0.0.1", sip, 1), 0, "banned: not even one");
    assert.equal((await fetch(`${api}/127.0.0.1`, { method: "DELETE" })).status, 200);
    assert.equal(await burst("127.0.0.1", sip, 5), 5, "unbanned: answered at once");
    assert.equal(await burst("127.0.0.2", sip, 60), 60, "a trusted address is never limited");
    const { stdout, stderr } = await tandem.logs();
    assert.match(
      stdout + stderr,
      /"event":"sip-source-banned","source":"127\.0\.0\.1","seconds":3/,
    );
    // Banned again, it is let in again when the ban runs out.
    assert.ok(await burst("127.0.0.1", sip, 60) <= 25);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await burst("127.0.0.1", sip, 5), 5, "after the ban, answered again");
    assert.equal(await metric(http, "tandem_sip_sources_banned"), 0);
  },
});

/** SIPp's built-in caller: one call to `user` through Tandem, held `holdMs`. */
function oneCall(sip: number, user: string, holdMs: number): Promise<SippResult> {
  return runSipp([
    "-sn",
    "uac",
    `127.0.0.1:${sip}`,
    "-i",
    "127.0.0.1",
    "-p",
    String(freeUdpPort()),
    "-s",
    user,
    "-m",
    "1",
    "-d",
    String(holdMs),
    "-timeout",
    "20s",
    "-timeout_error",
  ], { timeoutMs: 30_000 });
}

Deno.test({
  name: "limits: at max_calls an ordinary call gets 503, an emergency call (a priority rule) " +
    "still goes through; a blocked number gets its reject rule's answer",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [sip, http, psap, carrier] = [freeUdpPort(), freePort(), freeUdpPort(), freeUdpPort()];
    await using _tandem = await startTandem({
      binary: binaryAvailable(),
      config: config(
        sip,
        http,
        `  - name: emergency
    priority: true
    match: { ruri_user_prefix: ["911"] }
    routes: [{ name: psap, target: "127.0.0.1:${psap}" }]
  - { name: premium, match: { ruri_user_prefix: ["1900"] }, reject: 403 }
  - name: others
    routes: [{ name: carrier, target: "127.0.0.1:${carrier}" }]
limits: { max_calls: 1 }
`,
      ),
    });
    const carrierSide = callee(carrier, 1);
    const psapSide = callee(psap, 1);
    await waitFor(() => udpBound(carrier) && udpBound(psap), 5000, { what: "the callees" });
    const held = oneCall(sip, "5551234", 6000);
    await waitFor(async () => await metric(http, "tandem_calls_active") === 1, 5000, {
      what: "the first call up",
    });
    const refused = await oneCall(sip, "5550000", 0);
    assert.notEqual(refused.code, 0, "the second ordinary call is refused");
    assert.equal(await metric(http, 'tandem_calls_total{outcome="shed"}'), 1);
    const emergency = await oneCall(sip, "911", 200);
    assert.equal(emergency.code, 0, emergency.stdout.slice(-1500));
    assert.equal((await psapSide).code, 0);
    assert.equal(await metric(http, "tandem_priority_calls_admitted_total"), 1);
    assert.equal((await held).code, 0);
    assert.equal((await carrierSide).code, 0);
    // Below max_calls again (at it, the 503 would come first).
    const blocked = await oneCall(sip, "19005550000", 0);
    assert.notEqual(blocked.code, 0, "a blocked number is refused");
    assert.equal(await metric(http, 'tandem_calls_total{outcome="rejected"}'), 1);
    assert.equal(await metric(http, 'tandem_calls_total{outcome="shed"}'), 1);
  },
});

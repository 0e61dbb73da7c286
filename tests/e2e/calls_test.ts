// Issue "call bridging", end to end: SIPp callers and callees around a running Tandem. 200
// simultaneous calls; CANCEL racing the answer; re-INVITE glare (RFC 3261 §14.1); REFER and
// NOTIFY relayed in-dialog (RFC 3515); an unanswered INFO ending the call (Timer F, §17.1.2.2);
// reliable provisionals and PRACK (RFC 3262) and Require (§8.2.2.3); a delayed offer.
// After each run the HTTP API must show no call left behind.

import assert from "node:assert/strict";
import {
  baseConfig,
  binaryAvailable,
  freePort,
  freeUdpPort,
  repoRoot,
  runSipp,
  sippAvailable,
  type SippResult,
  sippUac,
  startTandem,
  type TandemProcess,
  udpBound,
  waitFor,
} from "./harness.ts";

const SCENARIOS = `${repoRoot}/tests/e2e/scenarios`;

/** Tandem on 127.0.0.1 (UDP+TCP), T1 = 100 ms (Timer F = 6.4 s), every call to the callee. */
function configText(sip: number, http: number, callee: number): string {
  return `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp, tcp] }
  timers: { t1: 100ms }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
rules:
  - name: callee
    match: {}
    routes:
      - { name: callee, target: "127.0.0.1:${callee}" }
`;
}

interface Bed {
  tandem: TandemProcess;
  sip: number;
  http: number;
  callee: number;
  api(path: string): Promise<unknown>;
}

async function startBed(): Promise<Bed> {
  assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
  const sip = freePort();
  const http = freePort();
  const callee = freeUdpPort();
  const tandem = await startTandem({ config: configText(sip, http, callee) });
  const api = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${http}${path}`);
    assert.equal(res.status, 200, `GET ${path}`);
    return await res.json();
  };
  return { tandem, sip, http, callee, api };
}

/** A scenario argument: a file under tests/e2e/scenarios, or SIPp's built-in uac/uas. */
function scenario(s: string): string[] {
  return s === "uac" || s === "uas" ? ["-sn", s] : ["-sf", `${SCENARIOS}/${s}`];
}

interface PairOptions {
  uac: string;
  uas: string;
  calls: number;
  rate?: number;
  limit?: number;
  service?: string;
  uacArgs?: string[];
  /** SIPp's own -timeout, seconds (the outer kill comes 15 s later). */
  timeoutS?: number;
}

interface Side {
  res: SippResult;
  err: string;
  msgs: string;
}

/** Run a callee SIPp on the route's port, then a caller SIPp through Tandem; both must pass. */
async function runPair(bed: Bed, o: PairOptions): Promise<{ uac: Side; uas: Side }> {
  const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-calls-" });
  const timeoutS = o.timeoutS ?? 30;
  const trace = (side: string) => [
    "-trace_err",
    "-error_file",
    `${dir}/${side}.err`,
    "-trace_msg",
    "-message_file",
    `${dir}/${side}.msg`,
    "-max_log_size",
    "20000000",
  ];
  const uasRun = runSipp([
    ...scenario(o.uas),
    "-i",
    "127.0.0.1",
    "-p",
    String(bed.callee),
    "-m",
    String(o.calls),
    "-timeout",
    `${timeoutS}s`,
    "-timeout_error",
    ...trace("uas"),
  ], { timeoutMs: (timeoutS + 15) * 1000 });
  await waitFor(() => udpBound(bed.callee), 5000, { what: `callee SIPp on ${bed.callee}` });
  const uacRes = await runSipp([
    ...scenario(o.uac),
    `127.0.0.1:${bed.sip}`,
    "-i",
    "127.0.0.1",
    "-p",
    String(freeUdpPort()),
    "-s",
    o.service ?? "e2e-callee",
    "-m",
    String(o.calls),
    "-r",
    String(o.rate ?? 10),
    "-l",
    String(o.limit ?? o.calls),
    "-timeout",
    `${timeoutS}s`,
    "-timeout_error",
    ...trace("uac"),
    ...(o.uacArgs ?? []),
  ], { timeoutMs: (timeoutS + 15) * 1000 });
  const uasRes = await uasRun;
  const read = (f: string) => Deno.readTextFile(`${dir}/${f}`).catch(() => "");
  const out = {
    uac: { res: uacRes, err: await read("uac.err"), msgs: await read("uac.msg") },
    uas: { res: uasRes, err: await read("uas.err"), msgs: await read("uas.msg") },
  };
  const bad = Object.entries(out).filter(([, s]) => s.res.code !== 0 || /CHECK FAILED/.test(s.err));
  if (bad.length) {
    const logs = await bed.tandem.logs();
    assert.fail(
      bad.map(([name, s]) =>
        `${name} (${o[name as "uac" | "uas"]}): exit ${s.res.code}${
          s.res.timedOut ? " (outer timeout)" : ""
        }\n--- errors:\n${s.err.slice(-2500)}\n--- stdout tail:\n${
          s.res.stdout.slice(-1500)
        }\n--- messages tail:\n${s.msgs.slice(-3000)}`
      ).join("\n") +
        `\n--- tandem log tail:\n${(logs.stdout + logs.stderr).slice(-3000)}\n--- logs in ${dir}`,
    );
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  return out;
}

/** Wait until Tandem lists no live call (GET /calls is [] and /stats active_calls is 0). */
async function assertNoCalls(bed: Bed, withinMs: number): Promise<void> {
  let last: unknown;
  try {
    await waitFor(
      async () => {
        const calls = await bed.api("/calls") as unknown[];
        const stats = await bed.api("/stats") as Record<string, number>;
        last = { calls: calls.slice(0, 3), stats };
        return calls.length === 0 && stats.active_calls === 0;
      },
      withinMs,
      { intervalMs: 200, what: "no live calls" },
    );
  } catch (e) {
    assert.fail(`${(e as Error).message}: last seen ${JSON.stringify(last)}`);
  }
}

/** Live transactions from /metrics (tandem_transactions_active, all kinds summed). */
async function transactionsActive(bed: Bed): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${bed.http}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^tandem_transactions_active(?:\{[^}]*\})? (\S+)$/gm)) {
    sum += Number(m[1]);
  }
  return sum;
}

Deno.test({
  name: "calls: 200 simultaneous calls held 5 s all go through, then no call is left",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const bed = await startBed();
    await using _t = bed.tandem;
    const { uac } = await runPair(bed, {
      uac: "uac",
      uas: "uas",
      calls: 200,
      rate: 100,
      limit: 200,
      uacArgs: ["-d", "5000"],
      timeoutS: 40,
    });
    assert.match(uac.res.stdout, /Successful call\s+\|\s+\d+\s+\|\s+200\s/);
    await assertNoCalls(bed, 5000);
    const stats = await bed.api("/stats") as Record<string, number>;
    assert.ok((stats.calls_answered ?? 0) >= 200, `answered calls: ${JSON.stringify(stats)}`);
  },
});

Deno.test({
  name: "calls: CANCEL 0-20 ms after the 180 races the callee's answer; 50 calls end cleanly " +
    "and every transaction drains",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const bed = await startBed();
    await using _t = bed.tandem;
    const { uac, uas } = await runPair(bed, {
      uac: "cancel-race-uac.xml",
      uas: "cancel-race-uas.xml",
      calls: 50,
      rate: 25,
      limit: 50,
      timeoutS: 30,
    });
    // Which way each race went, for the log: CANCELs the callee saw vs BYEs it got.
    const cancels = (uas.msgs.match(/^CANCEL sip:/gm) ?? []).length;
    const byes = (uac.msgs.match(/^BYE sip:/gm) ?? []).length;
    console.log(`cancel race: callee saw ${cancels} CANCEL(s); caller sent ${byes} BYE(s)`);
    await assertNoCalls(bed, 5000);
    // Timer D (32 s over UDP, RFC 3261 §17.1.1.2) is the longest-lived transaction here.
    let tx = -1;
    try {
      await waitFor(async () => (tx = await transactionsActive(bed)) === 0, 40_000, {
        intervalMs: 500,
        what: "tandem_transactions_active to reach 0",
      });
    } catch (e) {
      const stats = await bed.api("/stats");
      assert.fail(`${(e as Error).message}: ${tx} left; /stats ${JSON.stringify(stats)}`);
    }
    const stats = await bed.api("/stats") as Record<string, number>;
    assert.equal(stats.client_transactions + stats.server_transactions, 0, JSON.stringify(stats));
  },
});

Deno.test({
  name: "calls: re-INVITE glare — the second re-INVITE on a call gets 491, the first goes " +
    "through, the call ends with BYE (both directions)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const bed = await startBed();
    await using _t = bed.tandem;
    // The caller's re-INVITE first; the callee sends its own as soon as the caller's reaches it.
    await runPair(bed, { uac: "glare-uac-first.xml", uas: "glare-uas-second.xml", calls: 1 });
    await assertNoCalls(bed, 3000);
    // The other way round.
    await runPair(bed, { uac: "glare-uac-second.xml", uas: "glare-uas-first.xml", calls: 1 });
    await assertNoCalls(bed, 3000);
  },
});

Deno.test({
  name: "calls: REFER from the caller reaches the callee with Refer-To intact and 202 comes " +
    "back; the callee's NOTIFY reaches the caller (RFC 3515)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const bed = await startBed();
    await using _t = bed.tandem;
    await runPair(bed, { uac: "refer-uac.xml", uas: "refer-uas.xml", calls: 1 });
    await assertNoCalls(bed, 3000);
  },
});

Deno.test({
  name: "calls: a callee that never answers an INFO — the caller gets 408 after Timer F " +
    "(64*T1), and Tandem sends BYE to both sides",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const bed = await startBed();
    await using _t = bed.tandem;
    const started = Date.now();
    const { uac } = await runPair(bed, {
      uac: "info-timeout-uac.xml",
      uas: "info-timeout-uas.xml",
      calls: 1,
    });
    const took = Date.now() - started;
    // 64 * T1 (100 ms) = 6.4 s after the INFO; the whole run must not be much shorter.
    assert.ok(took >= 6000, `the 408 came after ${took} ms in all, before Timer F could fire`);
    assert.match(uac.msgs, /SIP\/2\.0 408/);
    await assertNoCalls(bed, 3000);
  },
});

Deno.test({
  name: "calls: reliable provisionals (RFC 3262) — a callee's reliable 183 reaches a 100rel " +
    "caller reliable and its PRACK reaches the callee mapped; towards a caller without 100rel " +
    "Tandem sends the PRACK; an INVITE requiring an unknown extension gets 420 (RFC 3261 §8.2.2.3)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const bed = await startBed();
    await using _t = bed.tandem;
    await runPair(bed, { uac: "prack-uac.xml", uas: "prack-uas.xml", calls: 3 });
    await runPair(bed, { uac: "prack-plain-uac.xml", uas: "prack-uas.xml", calls: 2 });
    await assertNoCalls(bed, 3000);

    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-require-" });
    const r = await runSipp([
      ...scenario("require-uac.xml"),
      `127.0.0.1:${bed.sip}`,
      "-i",
      "127.0.0.1",
      "-p",
      String(freeUdpPort()),
      "-s",
      "e2e-callee",
      "-m",
      "1",
      "-timeout",
      "15s",
      "-timeout_error",
      "-trace_err",
      "-error_file",
      `${dir}/uac.err`,
    ], { timeoutMs: 30_000 });
    const err = await Deno.readTextFile(`${dir}/uac.err`).catch(() => "");
    assert.equal(
      r.code,
      0,
      `require-uac: exit ${r.code}\n${err.slice(-2000)}\n${r.stdout.slice(-1500)}`,
    );
    assert.doesNotMatch(err, /CHECK FAILED/);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    const stats = await bed.api("/stats") as Record<string, number>;
    assert.equal(stats.active_calls, 0);
  },
});

Deno.test({
  name: "calls: a delayed offer (RFC 3261 §13.2.1) — the callee's 2xx offer reaches the caller " +
    "and the caller's ACK answer reaches the callee",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const bed = await startBed();
    await using _t = bed.tandem;
    await runPair(bed, { uac: "delayed-uac.xml", uas: "delayed-uas.xml", calls: 3 });
    await assertNoCalls(bed, 3000);
  },
});

Deno.test({
  name: "calls: a callee's 302 is followed (follow_redirects) and the new INVITE carries " +
    "Diversion naming the number first dialled, at Tandem's address (RFC 5806)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [sip, http, moved, target] = [freePort(), freePort(), freeUdpPort(), freeUdpPort()];
    await using tandem = await startTandem({
      binary: binaryAvailable(),
      config: baseConfig(sip, http) + `rules:
  - routes: [{ target: "127.0.0.1:${moved}", follow_redirects: true }]
`,
    });
    const scenario = (name: string) => `${SCENARIOS}/${name}.xml`;
    const uas = (args: string[]) =>
      runSipp([...args, "-i", "127.0.0.1", "-m", "1", "-timeout", "15s"], { timeoutMs: 20_000 });
    const redirector = uas([
      "-sf",
      scenario("redirect-302-uas"),
      "-p",
      String(moved),
      "-set",
      "target_port",
      String(target),
    ]);
    const diverted = uas(["-sf", scenario("diversion-uas"), "-p", String(target)]);
    await waitFor(() => udpBound(moved) && udpBound(target), 5000, { what: "callee SIPps" });
    const caller = await sippUac(`127.0.0.1:${sip}`, { service: "18005550100" });
    const logs = async () => (await tandem.logs()).stderr.slice(-3000);
    assert.equal(caller.code, 0, `caller: ${caller.stdout.slice(-1500)}\n${await logs()}`);
    const [r, d] = await Promise.all([redirector, diverted]);
    assert.equal(r.code, 0, `the 302: ${r.stdout.slice(-1500)}`);
    assert.equal(d.code, 0, `the Diversion check: ${d.stdout.slice(-2000)}`);
  },
});

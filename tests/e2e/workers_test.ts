// `sip.workers`, end to end: SIPp calls through several SIP worker processes sharing one UDP
// port. Every call must complete whichever worker the kernel hands its datagrams to; every
// worker must hold a share; the HTTP API must list, count and drop calls of every worker; a
// killed worker is restarted and the cluster keeps taking calls, and its calls that were up
// come back from its ledger as `interrupted` CDRs; every call gets exactly one CDR across the
// workers' files; SIGTERM stops every process.

import assert from "node:assert/strict";
import { ENV_WORKER } from "../../src/app/cluster.ts";
import { callIdHash, ownerOfHash } from "../../src/sip/mod.ts";
import {
  binaryAvailable,
  freePort,
  freeUdpPort,
  runSipp,
  sippAvailable,
  sleep,
  startTandem,
  tandemBinary,
  type TandemProcess,
  waitFor,
} from "./harness.ts";

function configText(sip: number, http: number, callee: number, workers: number, dir: string) {
  return `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
  workers: ${workers}
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
cdr:
  dir: ${dir}/journal
  file: { path: ${dir}/cdr.jsonl, format: jsonl, rotate: size }
rules:
  - name: callee
    match: {}
    routes:
      - { name: callee, target: "127.0.0.1:${callee}" }
`;
}

/** Direct children of `pid` (the workers), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[1]) === pid) out.push(Number(e.name));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    Deno.readTextFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

/** Prometheus samples of one metric as label text → value. */
async function samples(http: number, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{")) continue;
    const sp = line.lastIndexOf(" ");
    out.set(line.slice(name.length, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** A SIPp caller through Tandem against a SIPp callee; returns the caller's run. */
async function calls(
  sip: number,
  callee: number,
  n: number,
  o: { rate?: number; holdMs?: number; expectFail?: boolean } = {},
) {
  const uas = runSipp(
    ["-sn", "uas", "-i", "127.0.0.1", "-p", String(callee), "-m", String(n), "-timeout", "60s"],
    { timeoutMs: 75_000 },
  );
  await sleep(300);
  const uac = await runSipp([
    "-sn",
    "uac",
    `127.0.0.1:${sip}`,
    "-i",
    "127.0.0.1",
    "-p",
    String(freeUdpPort()),
    "-m",
    String(n),
    "-r",
    String(o.rate ?? 100),
    "-d",
    String(o.holdMs ?? 200),
    "-timeout",
    "60s",
    "-timeout_error",
  ], { timeoutMs: 75_000 });
  await uas.catch(() => undefined);
  return uac;
}

async function withCluster(
  workers: number,
  binary: boolean,
  fn: (t: TandemProcess, p: { sip: number; http: number; callee: number; dir: string }) => Promise<
    void
  >,
) {
  assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
  const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-workers-" });
  const sip = freeUdpPort(), http = freePort(), callee = freeUdpPort();
  const t = await startTandem({
    config: configText(sip, http, callee, workers, dir),
    binary,
    readyTimeoutMs: 40_000,
  });
  try {
    await fn(t, { sip, http, callee, dir });
  } finally {
    if (t.exitStatus() === null) await t.stop("SIGTERM", 15_000);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The worker index a worker process was started as (from its environment). */
function workerIndexOf(pid: number): number {
  const env = Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
  const v = env.find((e) => e.startsWith(`${ENV_WORKER}=`));
  return Number(v?.slice(ENV_WORKER.length + 1).split("/")[0]);
}

/** Every CDR record of the cluster: worker 0's file and each worker's own. */
function cdrs(dir: string): { callIdIn: string; endReason: string }[] {
  const out: { callIdIn: string; endReason: string }[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!/^cdr(\.w\d+)?\.jsonl$/.test(e.name)) continue;
    for (const l of Deno.readTextFileSync(`${dir}/${e.name}`).split("\n")) {
      if (l.trim()) out.push(JSON.parse(l));
    }
  }
  return out;
}

Deno.test({
  name: "workers (binary): 3 workers share the port, list/drop/metrics span them, a killed " +
    "worker comes back, one CDR per call, SIGTERM stops all",
  ignore: !binaryAvailable(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCluster(3, true, async (t, { sip, http, callee, dir }) => {
      assert.ok(binaryAvailable(), `missing ${tandemBinary()}`);
      const kids = childrenOf(t.pid);
      assert.equal(kids.length, 2, `workers 1 and 2 run beside worker 0: ${kids}`);
      const health = await (await fetch(`http://127.0.0.1:${http}/health`)).json();
      assert.equal(health.ok, true);
      assert.equal(health.transports.length, 3, JSON.stringify(health));

      // 300 calls, all complete; every worker holds a share.
      const run = await calls(sip, callee, 300, { rate: 150 });
      assert.equal(run.code, 0, `caller SIPp failed:\n${run.stdout.slice(-1500)}`);
      const answered = await samples(http, "tandem_calls_total");
      let total = 0;
      for (const w of ["0", "1", "2"]) {
        const n = answered.get(`{worker="${w}",outcome="answered"}`) ?? 0;
        assert.ok(n >= 40, `worker ${w} answered ${n} of 300`);
        total += n;
      }
      assert.equal(total, 300);
      const fwd = await samples(http, "tandem_sip_forwarded_total");
      assert.ok([...fwd.values()].reduce((a, b) => a + b, 0) > 0, "nothing was forwarded");

      // Long calls: listed across workers, then dropped through worker 0's API.
      const held = calls(sip, callee, 6, { rate: 50, holdMs: 60_000 });
      const list = await waitFor(
        async () => {
          const r = await (await fetch(`http://127.0.0.1:${http}/calls?state=answered`)).json();
          return r.length === 6 ? r : undefined;
        },
        10_000,
        { what: "6 answered calls in /calls" },
      );
      for (const c of list as { worker: number; caller: { callId: string } }[]) {
        assert.equal(c.worker, ownerOfHash(callIdHash(c.caller.callId), 3), "listed by its owner");
      }
      // The route's calls summed over the workers.
      const routes = await (await fetch(`http://127.0.0.1:${http}/routes`)).json();
      assert.deepEqual(
        routes.map((r: { name: string; rules: string[]; calls: number }) => [
          r.name,
          r.rules,
          r.calls,
        ]),
        [["callee", ["callee"], 6]],
      );
      for (const c of list as { id: string }[]) {
        const r = await fetch(`http://127.0.0.1:${http}/calls/${c.id}`, { method: "DELETE" });
        assert.equal(r.status, 200, `drop ${c.id}`);
        await r.body?.cancel();
      }
      await waitFor(
        async () => {
          const s = await (await fetch(`http://127.0.0.1:${http}/stats`)).json();
          return s.active_calls === 0 && s.workers === 3;
        },
        10_000,
        { what: "no active call left after the drops" },
      );
      await held; // the caller sees BYEs it did not expect: its verdict does not matter here

      // POST /gc collects in every worker and sums their heaps.
      const gc = await (await fetch(`http://127.0.0.1:${http}/gc`, { method: "POST" })).json();
      assert.equal(gc.heaps, 3, JSON.stringify(gc));
      assert.ok(gc.heapAfterBytes > 0 && gc.ms >= 0 && gc.objects > 30_000, JSON.stringify(gc));

      // A worker killed hard with calls up: health says so, it comes back, calls go on, and
      // its calls are billed from its ledger as interrupted.
      // Calls of 3 s; both SIPps give up 8 s in (the killed worker's calls never finish).
      const upUas = runSipp(
        ["-sn", "uas", "-i", "127.0.0.1", "-p", String(callee), "-m", "9", "-timeout", "8s"],
        { timeoutMs: 10_000 },
      );
      await sleep(300);
      const upUac = runSipp([
        ...["-sn", "uac", `127.0.0.1:${sip}`, "-i", "127.0.0.1", "-p", String(freeUdpPort())],
        ...["-m", "9", "-r", "50", "-d", "3000", "-timeout", "8s"],
      ], { timeoutMs: 10_000 });
      const upList = await waitFor(
        async () => {
          const r = await (await fetch(`http://127.0.0.1:${http}/calls?state=answered`)).json();
          return r.length === 9 ? r as { worker: number; caller: { callId: string } }[] : undefined;
        },
        10_000,
        { what: "9 answered calls in /calls" },
      );
      // The worker (1 or 2) holding the most of them.
      const heldBy = (k: number) => upList.filter((c) => c.worker === k);
      const victim = heldBy(1).length >= heldBy(2).length ? 1 : 2;
      const killed = new Set(heldBy(victim).map((c) => c.caller.callId));
      assert.ok(killed.size > 0, `worker ${victim} holds none of the 9 calls`);
      Deno.kill(kids.find((pid) => workerIndexOf(pid) === victim)!, "SIGKILL");
      const healthStatus = async () => {
        const r = await fetch(`http://127.0.0.1:${http}/health`);
        await r.body?.cancel();
        return r.status;
      };
      await waitFor(async () => await healthStatus() === 503, 5000, {
        what: "503 with a worker down",
      });
      await waitFor(async () => await healthStatus() === 200, 20_000, {
        what: "the worker restarted",
      });
      const restarts = await samples(http, "tandem_worker_restarts_total");
      assert.equal(restarts.get('{worker="0"}'), 1);
      const interrupted = await waitFor(
        () => {
          const i = cdrs(dir).filter((r) => r.endReason === "interrupted");
          return i.length >= killed.size ? i : undefined;
        },
        10_000,
        { what: `${killed.size} interrupted CDRs from worker ${victim}` },
      );
      assert.deepEqual(new Set(interrupted.map((r) => r.callIdIn)), killed);
      await Promise.all([upUas, upUac]);
      const again = await calls(sip, callee, 60, { rate: 100 });
      assert.equal(again.code, 0, `after the restart:\n${again.stdout.slice(-1500)}`);

      // Exactly one CDR per call, spread over the workers' files.
      await waitFor(() => cdrs(dir).length >= 375, 10_000, { what: "375 CDRs" });
      // Each of the 9 has one CDR: interrupted (the killed worker's) or its BYE (the others').
      const ended = cdrs(dir).filter((r) => upList.some((c) => c.caller.callId === r.callIdIn));
      assert.equal(ended.length, 9);
      const ids = cdrs(dir).map((r) => r.callIdIn);
      assert.equal(ids.length, 375);
      assert.equal(new Set(ids).size, 375, "a call has two CDRs");
      assert.ok(Deno.statSync(`${dir}/cdr.w2.jsonl`).isFile);

      const workersNow = childrenOf(t.pid);
      const st = await t.stop("SIGTERM", 20_000);
      assert.equal(st.code, 0);
      for (const pid of workersNow) {
        await waitFor(() => !alive(pid), 5000, { what: `worker ${pid} gone` });
      }
    }),
});

Deno.test({
  name: "workers (deno run): 2 workers started from source share the port and both take calls",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCluster(2, false, async (t, { sip, http, callee }) => {
      assert.equal(childrenOf(t.pid).length, 1);
      const run = await calls(sip, callee, 60, { rate: 60 });
      assert.equal(run.code, 0, `caller SIPp failed:\n${run.stdout.slice(-1500)}`);
      const answered = await samples(http, "tandem_calls_total");
      for (const w of ["0", "1"]) {
        assert.ok((answered.get(`{worker="${w}",outcome="answered"}`) ?? 0) > 5, `worker ${w}`);
      }
      const st = await t.stop("SIGTERM", 20_000);
      assert.equal(st.code, 0);
    }),
});

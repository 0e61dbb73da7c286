// CPU cost of one call through the SIP core (parser, transactions, dialogs, B2BUA) without
// sockets: the caller and callee are simulated over the in-memory loop of the B2BUA tests, so
// the number is repeatable and shows what the JavaScript costs per call. Flow per call: INVITE,
// 180, 200, ACK, re-INVITE (hold), 200, ACK, BYE, 200 (../shared/bench/uac_rr.xml's, which the
// SIPp benchmark runs, has no re-INVITE).
//
//   deno run -A scripts/bench-core.ts [calls=20000]
//   bun scripts/bench-core.ts [calls]
//   deno run -A --v8-flags=--expose-gc scripts/bench-core.ts memory [calls=20000]
//     (heap per held call: calls set up and answered, none ended)
//   deno run -A --v8-flags=--expose-gc scripts/bench-core.ts linger [calls=20000]
//     (heap per ended call whose transactions still wait out Timers J, L and M)
//   bun scripts/bench-core.ts steady [calls=200000] [rate=4000]
//     (CPU per call, collector threads apart, with as many finished calls lingering as at `rate`
//     calls/s: the clock moves 1/rate s per call; measured over the last 30 %, past 32 s)

import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import type { SipRequest, SipResponse } from "../src/sip/mod.ts";
import { linuxSchedstat } from "../src/util/busy-meter.ts";
import {
  answer,
  CALLER,
  callerInDialog,
  callerInvite,
  config,
  Loop,
  req,
  res,
  route,
  rule,
} from "../tests/b2bua/loop.ts";

const CALLEE = { host: "10.0.0.2", port: 5090, protocol: "udp" as const };
const args = process.argv.slice(2);
const memoryMode = args[0] === "memory" || args[0] === "linger";
const lingerMode = args[0] === "linger";
const steadyMode = args[0] === "steady";
const calls = Number(memoryMode || steadyMode ? args[1] : args[0]) ||
  (steadyMode ? 200_000 : 20000);

/**
 * CPU time of this (the JavaScript) thread in ms, from Linux's /proc (nanoseconds on CPU, from
 * schedstat); undefined elsewhere. The process total also holds the compiler and collector
 * threads, which vary from run to run.
 */
const schedstat = linuxSchedstat();
function threadCpuMs(): number | undefined {
  return schedstat?.()[0];
}

const cfg = config([rule([route("10.0.0.2", 5090)])]);
cfg.limits.maxCalls = 10_000_000;
const loop = new Loop(cfg);
const sdp = "v=0\no=- 1 1 IN IP4 10.0.0.2\ns=-\nc=IN IP4 10.0.0.2\nt=0 0\nm=audio 4002 RTP/AVP 0\n";

function oneCall(n: number): void {
  loop.inject(callerInvite("bench", "", n), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 180, "ct"), CALLEE);
  loop.inject(answer(inv, 200, "ct", { contact: "<sip:b@10.0.0.2:5090>", body: sdp }), CALLEE);
  const ok = loop.take().find(res(200))!.msg as SipResponse;
  const to = ok.get("to")!;
  loop.inject(callerInDialog("ACK", to, 1, n), CALLER);
  loop.inject(callerInDialog("INVITE", to, 2, n, "Contact: <sip:alice@10.0.0.1:5070>\n"), CALLER);
  const re = loop.expect(req("INVITE", 5090), "re-INVITE").msg as SipRequest;
  loop.inject(answer(re, 200, "ct", { contact: "<sip:b@10.0.0.2:5090>", body: sdp }), CALLEE);
  loop.take();
  loop.inject(callerInDialog("ACK", to, 2, n), CALLER);
  loop.inject(callerInDialog("BYE", to, 3, n), CALLER);
  const bye = loop.expect(req("BYE", 5090), "BYE").msg as SipRequest;
  loop.inject(answer(bye, 200, "ct"), CALLEE);
  loop.take();
}

/** Set up and answer one call, leaving it up. */
function holdCall(n: number): void {
  loop.inject(callerInvite("bench", "", n), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE").msg as SipRequest;
  loop.inject(answer(inv, 180, "ct"), CALLEE);
  loop.inject(answer(inv, 200, "ct", { contact: "<sip:b@10.0.0.2:5090>", body: sdp }), CALLEE);
  const ok = loop.take().find(res(200))!.msg as SipResponse;
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1, n), CALLER);
  loop.take();
}

if (memoryMode) {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  const gc = g.gc ?? (g.Bun ? () => g.Bun!.gc(true) : undefined);
  if (!gc) throw new Error("memory mode needs --v8-flags=--expose-gc (Deno) or bun");
  gc();
  const h0 = process.memoryUsage().heapUsed;
  const r0 = process.memoryUsage().rss;
  if (lingerMode) {
    // Whole calls, ended, with their transactions still waiting out Timers J, L and M: what a
    // burst of short calls costs for the next 32 s.
    for (let i = 0; i < calls; i++) oneCall(i);
    loop.timers.advance(Number(process.env.ADVANCE ?? 0));
    gc();
    const h1 = process.memoryUsage().heapUsed;
    console.log(
      `${calls} ended calls: ${((h1 - h0) / calls / 1024).toFixed(1)} KB of heap per call ` +
        `while their transactions linger (${JSON.stringify(loop.txl.size)})`,
    );
    process.exit(0);
  }
  for (let i = 0; i < calls; i++) holdCall(i);
  loop.timers.advance(70_000); // the transactions end, as 64*T1 later in real time
  gc();
  const h1 = process.memoryUsage().heapUsed;
  const r1 = process.memoryUsage().rss;
  console.log(
    `${loop.b2bua.calls.size} calls held: ${((h1 - h0) / calls / 1024).toFixed(1)} KB of heap ` +
      `per call, RSS +${((r1 - r0) / calls / 1024).toFixed(1)} KB per call ` +
      `(transactions left: ${JSON.stringify(loop.txl.size)})`,
  );
  process.exit(0);
}

/** CPU ms per thread name (digits dropped: the collector's helpers add up), Linux only. */
function threadsCpuMs(): Map<string, number> {
  const m = new Map<string, number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync("/proc/self/task");
  } catch {
    return m;
  }
  for (const t of tasks) {
    let s: string;
    try {
      s = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
    } catch {
      continue; // the thread ended
    }
    const name = s.slice(s.indexOf("(") + 1, s.lastIndexOf(")")).replace(/[0-9]+$/, "");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // utime and stime, in clock ticks (100 a second on Linux).
    m.set(name, (m.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * 10);
  }
  return m;
}

if (steadyMode) {
  // What a finished call leaves for 32 s is what the collector marks at every full collection:
  // at thousands of calls a second that is most of the heap, and what this mode shows.
  const rate = Number(args[2]) || 4000;
  const tickMs = 10;
  let owed = 0;
  const measured = Math.floor(calls * 0.3);
  let before: Map<string, number> | undefined;
  for (let i = 0; i < calls; i++) {
    oneCall(i);
    owed += 1000 / rate;
    if (owed >= tickMs) {
      loop.timers.advance(tickMs);
      owed -= tickMs;
    }
    if (i === calls - measured) before = threadsCpuMs();
  }
  const after = threadsCpuMs();
  const rows = [...after].map(([k, v]) => [k, (v - (before!.get(k) ?? 0)) / measured * 1000])
    .filter(([, v]) => (v as number) >= 0.5).sort((a, b) => (b[1] as number) - (a[1] as number));
  console.log(
    `${measured} calls at ${rate}/s of simulated time: ` +
      rows.map(([k, v]) => `${k} ${(v as number).toFixed(1)}`).join(", ") +
      ` µs CPU per call (by thread; the first is JavaScript's, with the simulated peers' work); ` +
      `lingering transactions ${JSON.stringify(loop.txl.size)}`,
  );
  process.exit(0);
}

// Long enough for the optimizing compilers to finish with the hot functions: their threads'
// time counts in the process CPU below.
const warmup = Number(process.env.WARMUP ?? 10_000);
for (let i = 0; i < warmup; i++) {
  oneCall(i);
  if (i % 2000 === 1999) loop.timers.advance(70_000);
}
loop.timers.advance(70_000);
const c0 = process.cpuUsage();
const th0 = threadCpuMs();
const t0 = performance.now();
// The thread's CPU per block of calls as well as in all: on a shared machine a neighbour's burst
// slows some blocks (caches, memory bandwidth), and the median and fastest block show through it.
const BLOCK = 2000;
const blocks: number[] = [];
let b0 = th0;
for (let i = 0; i < calls; i++) {
  oneCall(10_000 + i);
  if (i % BLOCK === BLOCK - 1) {
    loop.timers.advance(70_000); // let transactions end, as in real time
    if (b0 !== undefined) {
      const b1 = threadCpuMs()!;
      blocks.push((b1 - b0) / BLOCK * 1000);
      b0 = b1;
    }
  }
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(c0);
const cpuMs = (cpu.user + cpu.system) / 1000;
const th = th0 === undefined ? undefined : threadCpuMs()! - th0;
blocks.sort((a, b) => a - b);
const median = blocks.length ? blocks[Math.floor(blocks.length / 2)] : undefined;
// CPU time, not wall time: the number holds on a busy machine. It includes the simulated
// peers' parsing and building of their messages (roughly as much again as Tandem's own work).
console.log(
  `${calls} calls: ${(cpuMs / calls * 1000).toFixed(1)} µs CPU per call ` +
    `(${Math.round(calls / cpuMs * 1000)} calls/s per core; wall ${ms.toFixed(0)} ms; no sockets)` +
    (th === undefined ? "" : `; JavaScript thread ${(th / calls * 1000).toFixed(1)} µs per call`) +
    (median === undefined ? "" : ` (blocks of ${BLOCK}: median ${median.toFixed(1)}, ` +
      `fastest ${blocks[0].toFixed(1)})`),
);

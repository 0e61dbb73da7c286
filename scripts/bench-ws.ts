// Browser phones held by Tandem (RFC 7118 SIP over WebSocket): how fast connections are opened
// and served, and the memory an idle connection costs. Starts the built binary with a `ws`
// listener on loopback, opens N WebSockets (Deno's own client) in batches, sends an OPTIONS on
// each and waits for its 200, then reads Tandem's RSS (/proc) and its connection gauge
// (/metrics), and closes them all. Bounded: N at most 15,000, 120 s in all.
//
//   deno run -A scripts/bench-ws.ts [connections=5000] [--bin dist/tandem]

import { parseArgs } from "node:util";
import { repoRoot } from "./lib/proc.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { bin: { type: "string", default: `${repoRoot}/dist/tandem` } },
  allowPositionals: true,
});
const N = Math.min(15_000, Number(positionals[0] ?? 5000) || 5000);
const BATCH = 250;
const deadline = Date.now() + 120_000;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function rssMB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function gauge(http: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  return Number(/^tandem_sip_connections\{transport="ws"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

function options(i: number, ws: number): string {
  return `OPTIONS sip:127.0.0.1:${ws};transport=ws SIP/2.0\r\n` +
    `Via: SIP/2.0/WS c${i}.invalid;branch=z9hG4bKws${i}\r\nMax-Forwards: 70\r\n` +
    `From: <sip:b${i}@bench.invalid>;tag=t${i}\r\nTo: <sip:127.0.0.1:${ws}>\r\n` +
    `Call-ID: ws-bench-${i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
}

/** Open one WebSocket, send an OPTIONS, resolve once its 200 is in. */
function connect(i: number, ws: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(`ws://127.0.0.1:${ws}/`, "sip");
    s.onopen = () => s.send(options(i, ws));
    s.onmessage = (e) => {
      if (String(e.data).startsWith("SIP/2.0 200 ")) resolve(s);
    };
    s.onerror = () => reject(new Error(`connection ${i} failed`));
  });
}

const dir = await Deno.makeTempDir({ prefix: "tandem-bench-ws-" });
const ws = freePort();
const http = freePort();
await Deno.writeTextFile(
  `${dir}/tandem.yaml`,
  `sip:\n  listen:\n    - { address: 127.0.0.1, port: ${ws}, transports: [ws] }\n` +
    `http:\n  listen: 127.0.0.1:${http}\nlog: { level: warn }\n`,
);
const child = new Deno.Command(values.bin!, {
  args: ["--config", `${dir}/tandem.yaml`],
  stdout: "null",
  stderr: "inherit",
}).spawn();
const sockets: WebSocket[] = [];
try {
  for (;;) {
    if (Date.now() > deadline) throw new Error("Tandem did not become ready");
    try {
      if ((await fetch(`http://127.0.0.1:${http}/ready`)).ok) break;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const before = rssMB(child.pid);
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    if (Date.now() > deadline) throw new Error(`out of time after ${i} connections`);
    const batch = [];
    for (let k = i; k < Math.min(N, i + BATCH); k++) batch.push(connect(k, ws));
    sockets.push(...await Promise.all(batch));
    if (sockets.length % 2500 === 0) console.error(`[bench-ws] ${sockets.length} connected`);
  }
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const held = rssMB(child.pid);
  const open = await gauge(http);
  const result = {
    connections: N,
    openByGauge: open,
    connectAndOptionsPerSecond: Math.round(N / seconds),
    rssBeforeMB: Math.round(before * 10) / 10,
    rssHeldMB: Math.round(held * 10) / 10,
    kbPerConnection: Math.round((held - before) * 1024 / N * 100) / 100,
  };
  for (const s of sockets) s.close();
  const t1 = Date.now();
  while ((await gauge(http)) > 0 && Date.now() - t1 < 10_000) {
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(JSON.stringify({ ...result, openAfterClose: await gauge(http) }, null, 2));
} finally {
  for (const s of sockets) s.close();
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  await child.status;
  await Deno.remove(dir, { recursive: true });
}

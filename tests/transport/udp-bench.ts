// UDP echo throughput per socket adapter (RFC 3261 §18 hot path without SIP parsing): a server
// listener echoes every 600-byte datagram, a client keeps a window of datagrams in flight for
// a fixed time. Run: deno run -A tests/transport/udp-bench.ts   or   bun run tests/transport/udp-bench.ts

import {
  bunAdapter,
  denoAdapter,
  type Endpoint,
  type Listener,
  nodeAdapter,
  type SocketAdapter,
} from "../../src/transport/mod.ts";

const SECONDS = 1.5;
const WINDOW = 64;
const payload = new Uint8Array(600).fill(65);
const noErrors = { onError() {} };

async function bench(adapter: SocketAdapter): Promise<number> {
  let server: Listener | undefined = undefined;
  server = await adapter.udp({ host: "127.0.0.1", port: 0 }, {
    ...noErrors,
    onData: (d: Uint8Array, src: Endpoint) => server!.send(d, src),
  });
  let received = 0;
  let running = true;
  let client: Listener | undefined = undefined;
  client = await adapter.udp({ host: "127.0.0.1", port: 0 }, {
    ...noErrors,
    onData: () => {
      received++;
      if (running) client!.send(payload, server!.local);
    },
  });
  for (let i = 0; i < WINDOW; i++) client.send(payload, server.local);
  // Refill the window now and then in case datagrams are lost.
  const refill = setInterval(() => {
    for (let i = 0; i < WINDOW / 4; i++) client!.send(payload, server!.local);
  }, 50);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  running = false;
  clearInterval(refill);
  const rate = received / SECONDS;
  await client.close();
  await server.close();
  return rate;
}

const g = globalThis as { Bun?: unknown };
const adapters = g.Bun ? [bunAdapter, nodeAdapter] : [denoAdapter, nodeAdapter];
const runtime = g.Bun ? "bun" : "deno";
for (const a of adapters) {
  const r = await bench(a);
  console.log(`${runtime} runtime, ${a.runtime} adapter: ${Math.round(r)} round trips/s`);
}

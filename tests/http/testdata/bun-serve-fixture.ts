// Run under Bun by serve_test.ts: serve the API on 127.0.0.1:0, print the port, close on stdin EOF.
import { createApp, serveHttp } from "../../../src/http/mod.ts";
import { Registry } from "../../../src/util/metrics.ts";
import { silentLogger } from "../../../src/util/log.ts";
import { FakeControlPlane } from "../fake-control.ts";

const app = createApp(new FakeControlPlane(), { registry: new Registry(), log: silentLogger });
const server = await serveHttp(app, { address: "127.0.0.1", port: 0 });
console.log(
  JSON.stringify({ port: server.port, bun: typeof (globalThis as { Bun?: unknown }).Bun }),
);
for await (const _ of process.stdin) { /* wait for EOF */ }
await server.close();
console.log("closed");

// serveHttp (src/http/serve.ts) really binds 127.0.0.1, reports the port, serves, and closes;
// the Bun path is exercised by running a fixture under the real `bun`.

import assert from "node:assert/strict";
import { createApp, HttpServeError, serveHttp } from "../../src/http/mod.ts";
import { silentLogger } from "../../src/util/log.ts";
import { Registry } from "../../src/util/metrics.ts";
import { FakeControlPlane } from "./fake-control.ts";

const app = createApp(new FakeControlPlane(), { registry: new Registry(), log: silentLogger });

Deno.test("serveHttp under Deno serves on 127.0.0.1 port 0 and closes", async () => {
  const server = await serveHttp(app, { address: "127.0.0.1", port: 0 });
  assert.ok(server.port > 0);
  assert.equal(server.url, `127.0.0.1:${server.port}`);
  const res = await fetch(`http://127.0.0.1:${server.port}/health`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).ok, true);
  await server.close();
  await server.close(); // idempotent
  await assert.rejects(fetch(`http://127.0.0.1:${server.port}/health`));
});

Deno.test("serveHttp binds only the given address", async () => {
  const server = await serveHttp(app, { address: "127.0.0.1", port: 0 });
  try {
    // 127.0.0.2 is loopback too but a different address: a wildcard bind would answer there.
    await assert.rejects(fetch(`http://127.0.0.2:${server.port}/health`));
  } finally {
    await server.close();
  }
});

Deno.test("serveHttp rejects with HttpServeError when the port is taken", async () => {
  const server = await serveHttp(app, { address: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      serveHttp(app, { address: "127.0.0.1", port: server.port }),
      (err: unknown) => {
        assert.ok(err instanceof HttpServeError);
        assert.match(err.message, /cannot serve the HTTP API on 127\.0\.0\.1:\d+: .*http\.port/);
        return true;
      },
    );
  } finally {
    await server.close();
  }
});

Deno.test("serveHttp under Bun serves on 127.0.0.1 port 0 and closes", async () => {
  const fixture = new URL("./testdata/bun-serve-fixture.ts", import.meta.url).pathname;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("bun", {
      args: ["run", fixture],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error("bun is not on PATH: install Bun 1.x (https://bun.sh) to test the Bun path");
    }
    throw err;
  }
  const timeout = setTimeout(() => child.kill("SIGKILL"), 15_000);
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    while (!buf.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      buf += value;
    }
    if (!buf.includes("\n")) {
      throw new Error(
        `bun fixture exited without a port: ${await new Response(child.stderr).text()}`,
      );
    }
    const info = JSON.parse(buf.split("\n")[0]);
    assert.equal(info.bun, "object", "fixture must run under Bun");
    const res = await fetch(`http://127.0.0.1:${info.port}/calls/c1`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).id, "c1");
    await assert.rejects(fetch(`http://127.0.0.2:${info.port}/health`), "bound beyond 127.0.0.1");
    const missing = await fetch(`http://127.0.0.1:${info.port}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    await child.stdin.close();
    while (!buf.includes("closed")) {
      const { value, done } = await lines.read();
      if (done) break;
      buf += value;
    }
    assert.match(buf, /closed/);
    const [status, stderr] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
      lines.cancel(),
    ]);
    assert.equal(status.code, 0, stderr);
    await assert.rejects(fetch(`http://127.0.0.1:${info.port}/health`));
  } finally {
    clearTimeout(timeout);
  }
});

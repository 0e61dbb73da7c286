// Worker roles and per-worker configuration (src/app/cluster.ts); the link frame format
// (src/transport/worker-link.ts).

import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/mod.ts";
import {
  ENV_WORKER,
  ENV_WORKER_TOKEN,
  newLinkToken,
  tokenToHex,
  workerConfig,
  workerFilePath,
  workerRoleFromEnv,
} from "../../src/app/cluster.ts";
import { decodeFrame, encodeFrame } from "../../src/transport/mod.ts";

Deno.test("worker role: read from the environment Tandem sets, refused when malformed", () => {
  const token = newLinkToken();
  const env = { [ENV_WORKER]: "2/3", [ENV_WORKER_TOKEN]: tokenToHex(token) };
  const role = workerRoleFromEnv(env)!;
  assert.deepEqual([role.index, role.count], [2, 3]);
  assert.deepEqual(role.token, token);
  assert.equal(workerRoleFromEnv({}), undefined, "the process the operator started");
  for (const bad of ["0/2", "3/3", "x", "1/"]) {
    assert.throws(() => workerRoleFromEnv({ ...env, [ENV_WORKER]: bad }), /TANDEM_WORKER/);
  }
  assert.throws(() => workerRoleFromEnv({ ...env, [ENV_WORKER_TOKEN]: "abc" }), /TANDEM_WORKER/);
});

Deno.test("worker config: a share of max_calls each; HTTP on worker 0; own CDR files", () => {
  const cfg = parseConfig(
    `sip:\n  listen: [{ address: 127.0.0.1, transports: [udp] }]\n  workers: 3\n` +
      `http: { listen: "127.0.0.1:8080" }\nlimits: { max_calls: 1000 }\n` +
      `cdr: { dir: /var/lib/tandem/cdr, file: { path: /var/log/tandem/cdr.csv, format: csv } }\n`,
    "t.yaml",
    "yaml",
    { env: {} },
  );
  assert.equal(workerConfig(cfg, 0, 1), cfg, "one worker: the file as it is");
  const w0 = workerConfig(cfg, 0, 3);
  assert.equal(w0.limits.maxCalls, 334);
  assert.equal(w0.cdr, cfg.cdr);
  assert.deepEqual(w0.http, cfg.http);
  const w2 = workerConfig(cfg, 2, 3);
  assert.equal(w2.limits.maxCalls, 334);
  assert.equal(w2.http, undefined);
  assert.equal(w2.cdr!.dir, "/var/lib/tandem/cdr/worker-2");
  assert.equal(w2.cdr!.file!.path, "/var/log/tandem/cdr.w2.csv");
  assert.equal(cfg.cdr!.dir, "/var/lib/tandem/cdr", "the original is not modified");
  assert.equal(workerFilePath("cdr", 1), "cdr.w1");
  assert.equal(workerFilePath("/a.b/cdr.jsonl", 4), "/a.b/cdr.w4.jsonl");
});

Deno.test("link frame: round trip with the source; another token or a bad host is refused", () => {
  const token = newLinkToken();
  const data = new TextEncoder().encode("OPTIONS sip:x SIP/2.0\r\n\r\n");
  for (
    const source of [
      { protocol: "udp" as const, host: "192.0.2.7", port: 5060 },
      { protocol: "udp" as const, host: "2001:db8::1", port: 65535 },
    ]
  ) {
    const m = decodeFrame(token, encodeFrame(token, data, source))!;
    assert.deepEqual(m.source, source);
    assert.deepEqual(m.data, data);
  }
  const frame = encodeFrame(token, data, { protocol: "udp", host: "192.0.2.7", port: 1 });
  assert.equal(decodeFrame(newLinkToken(), frame), undefined);
  assert.equal(decodeFrame(token, frame.subarray(0, 10)), undefined);
  const evil = encodeFrame(token, data, { protocol: "udp", host: "a\r\nb", port: 1 });
  assert.equal(decodeFrame(token, evil), undefined);
});

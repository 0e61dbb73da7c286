// Tests of the e2e harness itself (no Tandem needed): ports, polling, raw UDP/TCP SIP, SIPp
// runs with their outer timeout, and startTandem's lifecycle against a stand-in executable.

import assert from "node:assert/strict";
import {
  binaryAvailable,
  buildOptions,
  freePort,
  freeTcpPort,
  freeUdpPort,
  headerOf,
  parseReply,
  readinessTarget,
  runSipp,
  sendUdp,
  sipOptions,
  sippAvailable,
  startTandem,
  waitFor,
} from "./harness.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("harness: free ports are drawn from 10000-19999, below the kernel's own, and bindable", () => {
  const u = freeUdpPort();
  const t = freeTcpPort();
  const b = freePort();
  const [low] = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/)
    .map(Number);
  for (const p of [u, t, b]) assert.ok(p >= 10000 && p < 20000 && p < low, `port ${p}`);
  Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: u }).close();
  Deno.listen({ hostname: "127.0.0.1", port: t }).close();
  Deno.listen({ hostname: "127.0.0.1", port: b }).close();
});

Deno.test("harness: a port is handed out once, reserved for other test files until this one ends", () => {
  const ports = Array.from({ length: 50 }, () => freeUdpPort());
  assert.equal(new Set(ports).size, 50);
  assert.ok(!ports.includes(10080), "never a port fetch() refuses");
  for (const p of ports.slice(0, 5)) {
    assert.ok(Deno.statSync(`${Deno.env.get("TMPDIR") ?? "/tmp"}/tandem-test-ports/${p}`).isFile);
  }
});

Deno.test("harness: waitFor returns the truthy value and times out with the reason", async () => {
  let n = 0;
  assert.equal(await waitFor(() => ++n >= 3 && n, 1000, { intervalMs: 5 }), 3);
  await assert.rejects(
    () => waitFor(() => false, 100, { intervalMs: 10, what: "never" }),
    /never not met within 100 ms/,
  );
});

Deno.test("harness: sendUdp gets the echo back, and null when nobody answers", async () => {
  const echo = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (echo.addr as Deno.NetAddr).port;
  const loop = (async () => {
    try {
      const [data, from] = await echo.receive();
      await echo.send(data, from);
    } catch {
      // closed
    }
  })();
  try {
    const reply = await sendUdp("127.0.0.1", port, "ping\r\n", 2000);
    assert.ok(reply);
    assert.equal(dec.decode(reply), "ping\r\n");
    assert.equal(await sendUdp("127.0.0.1", freeUdpPort(), "x", 200), null);
  } finally {
    echo.close();
    await loop;
  }
});

Deno.test("harness: buildOptions is a well-formed OPTIONS (RFC 3261 §8.1.1, §11)", () => {
  const msg = buildOptions("::1", 5060, "tcp", { host: "::1", port: 40000 });
  const [head, body] = msg.split("\r\n\r\n");
  assert.equal(body, "");
  assert.match(head, /^OPTIONS sip:\[::1\]:5060 SIP\/2\.0\r\n/);
  assert.match(headerOf(msg, "Via")!, /^SIP\/2\.0\/TCP \[::1\]:40000;branch=z9hG4bK\w+;rport$/);
  for (const h of ["Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Length"]) {
    assert.ok(headerOf(msg, h), `missing ${h}`);
  }
  assert.match(headerOf(msg, "From")!, /;tag=\w+/);
  assert.equal(headerOf(msg, "CSeq"), "1 OPTIONS");
});

/** A one-shot UAS: answers each request with 100 then 200, echoing Via/From/To/Call-ID/CSeq. */
function answerOf(req: string): string {
  const copy = ["Via", "From", "To", "Call-ID", "CSeq"].map((h) => `${h}: ${headerOf(req, h)}`);
  const trying = ["SIP/2.0 100 Trying", ...copy, "Content-Length: 0", "", ""].join("\r\n");
  const ok = ["SIP/2.0 200 OK", ...copy, "Content-Length: 0", "", ""].join("\r\n");
  return trying + ok;
}

Deno.test("harness: sipOptions over UDP skips 1xx and returns the final response", async () => {
  const uas = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (uas.addr as Deno.NetAddr).port;
  const loop = (async () => {
    try {
      const [data, from] = await uas.receive();
      const req = dec.decode(data);
      assert.match(req, /^OPTIONS sip:127\.0\.0\.1:\d+ SIP\/2\.0/);
      const both = answerOf(req);
      const i = both.indexOf("SIP/2.0 200");
      await uas.send(enc.encode(both.slice(0, i)), from);
      await uas.send(enc.encode(both.slice(i)), from);
    } catch {
      // closed
    }
  })();
  try {
    const reply = await sipOptions("127.0.0.1", port, "udp", 2000);
    assert.equal(reply.status, 200);
    assert.equal(reply.reason, "OK");
  } finally {
    uas.close();
    await loop;
  }
  await assert.rejects(
    () => sipOptions("127.0.0.1", freeUdpPort(), "udp", 200),
    /no final response/,
  );
});

Deno.test("harness: sipOptions over TCP reads framed responses from the stream", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const served = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(4096);
    const n = (await conn.read(buf)) ?? 0;
    await conn.write(enc.encode(answerOf(dec.decode(buf.subarray(0, n)))));
    // Wait for the client to close its end.
    await conn.read(buf).catch(() => null);
    conn.close();
  })();
  try {
    const reply = await sipOptions("127.0.0.1", port, "tcp", 2000);
    assert.equal(reply.status, 200);
  } finally {
    await served;
    listener.close();
  }
});

Deno.test("harness: parseReply rejects what is not a SIP response", () => {
  assert.equal(parseReply("SIP/2.0 486 Busy Here\r\n\r\n").status, 486);
  assert.throws(() => parseReply("OPTIONS sip:x SIP/2.0\r\n\r\n"), /not a SIP response/);
});

Deno.test("harness: readinessTarget reads http and sip listen shapes", () => {
  const o = { config: "" };
  assert.deepEqual(readinessTarget("http:\n  address: 127.0.0.1\n  port: 8089\n", "x.yaml", o), {
    url: "http://127.0.0.1:8089/ready",
  });
  assert.deepEqual(readinessTarget('http:\n  listen: "[::]:8089"\n', "x.yaml", o), {
    url: "http://[::1]:8089/ready",
  });
  assert.deepEqual(
    readinessTarget(
      "sip:\n  listen:\n    - { address: 0.0.0.0, port: 5062, transports: [tcp] }\n",
      "x.yaml",
      o,
    ),
    { sip: { host: "127.0.0.1", port: 5062, transport: "tcp" } },
  );
  assert.deepEqual(readinessTarget("sip:\n  listen: [ 'udp:127.0.0.2:5099' ]\n", "x.yaml", o), {
    sip: { host: "127.0.0.2", port: 5099, transport: "udp" },
  });
  assert.deepEqual(readinessTarget("", "x.yaml", o), {
    sip: { host: "127.0.0.1", port: 5060, transport: "udp" },
  });
});

Deno.test({
  name: "harness: runSipp plays built-in uas against built-in uac, one call",
  ignore: !sippAvailable(),
  async fn() {
    const uasPort = freeUdpPort();
    const uacPort = freeUdpPort();
    const cwd = await Deno.makeTempDir({ prefix: "harness-sipp-" });
    const uas = runSipp(
      ["-sn", "uas", "-i", "127.0.0.1", "-p", String(uasPort), "-m", "1", "-timeout", "20s"],
      { timeoutMs: 25_000, cwd },
    );
    // Let the UAS bind before the UAC sends its INVITE (SIPp's UAC would retransmit anyway).
    await new Promise((r) => setTimeout(r, 300));
    const uac = await runSipp(
      [
        "-sn",
        "uac",
        `127.0.0.1:${uasPort}`,
        "-i",
        "127.0.0.1",
        "-p",
        String(uacPort),
        "-m",
        "1",
        "-timeout",
        "20s",
        "-timeout_error",
      ],
      { timeoutMs: 25_000, cwd },
    );
    const uasResult = await uas;
    assert.equal(uac.code, 0, `uac: ${uac.stdout.slice(-2000)}\n${uac.stderr}`);
    assert.equal(uasResult.code, 0, `uas: ${uasResult.stdout.slice(-2000)}\n${uasResult.stderr}`);
    assert.equal(uac.timedOut, false);
    await Deno.remove(cwd, { recursive: true });
  },
});

Deno.test({
  name: "harness: runSipp's outer timeout kills a SIPp that would wait forever",
  ignore: !sippAvailable(),
  async fn() {
    const t0 = Date.now();
    const res = await runSipp(
      ["-sn", "uas", "-i", "127.0.0.1", "-p", String(freeUdpPort()), "-m", "1"],
      { timeoutMs: 800 },
    );
    assert.equal(res.timedOut, true);
    assert.equal(res.code, -1);
    assert.ok(Date.now() - t0 < 5000);
  },
});

/**
 * A stand-in for the Tandem binary: reads --config, serves GET /ready on the config's http
 * port, prints a line, and exits 0 on SIGTERM. `exit-early` in the config makes it exit 3.
 */
const FAKE = `
const cfgPath = Deno.args[Deno.args.indexOf("--config") + 1];
const text = Deno.readTextFileSync(cfgPath);
if (text.includes("exit-early")) { console.error("bad config"); Deno.exit(3); }
const port = Number(/port: (\\d+)/.exec(text)[1]);
console.log("fake tandem up " + Deno.args.join(" "));
const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} },
  (req) => new URL(req.url).pathname === "/ready" ? new Response("ok") : new Response("no", { status: 404 }));
Deno.addSignalListener("SIGTERM", async () => { console.log("bye"); await server.shutdown(); Deno.exit(0); });
`;

async function withFakeBinary(fn: () => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "harness-fake-" });
  await Deno.writeTextFile(`${dir}/fake.ts`, FAKE);
  const bin = `${dir}/tandem`;
  await Deno.writeTextFile(
    bin,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A "${dir}/fake.ts" "$@"\n`,
  );
  await Deno.chmod(bin, 0o755);
  const before = Deno.env.get("TANDEM_BIN");
  Deno.env.set("TANDEM_BIN", bin);
  try {
    assert.ok(binaryAvailable());
    await fn();
  } finally {
    if (before === undefined) Deno.env.delete("TANDEM_BIN");
    else Deno.env.set("TANDEM_BIN", before);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("harness: startTandem waits for /ready, captures logs, stops with SIGTERM", async () => {
  await withFakeBinary(async () => {
    const port = freeTcpPort();
    const t = await startTandem({
      config: `http:\n  address: 127.0.0.1\n  port: ${port}\n`,
      binary: true,
      args: ["--extra"],
    });
    try {
      assert.equal(t.exitStatus(), null);
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      assert.equal(await res.text(), "ok");
      await waitFor(async () => (await t.logs()).stdout.includes("fake tandem up"), 5000);
      assert.match((await t.logs()).stdout, /--config \S+tandem\.yaml --extra/);
    } finally {
      const status = await t.stop();
      assert.equal(status.code, 0);
    }
    assert.equal(t.exitStatus()?.code, 0);
    assert.match((await t.logs()).stdout, /bye/);
  });
});

Deno.test("harness: startTandem kill9 and early exit are reported", async () => {
  await withFakeBinary(async () => {
    const port = freeTcpPort();
    const t = await startTandem({
      config: `http:\n  address: 127.0.0.1\n  port: ${port}\n`,
      binary: true,
    });
    const status = await t.kill9();
    assert.equal(status.success, false);
    assert.ok(status.signal === "SIGKILL" || status.code === 137, JSON.stringify(status));

    await assert.rejects(
      () =>
        startTandem({
          config: `# exit-early\nhttp:\n  address: 127.0.0.1\n  port: ${freeTcpPort()}\n`,
          binary: true,
          readyTimeoutMs: 10_000,
        }),
      /exited early with code 3[\s\S]*bad config/,
    );
  });
});

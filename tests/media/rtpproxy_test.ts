// rtpproxy command protocol client (rtpproxy(8)) against a real peer: rtpengine's classic UDP
// control port (--listen-udp) speaks it. The unix-socket path is driven through a small
// unix→UDP bridge to that same rtpengine (the bridge adds the UDP cookie rtpengine needs).
// rtpengine runs with its default delete delay: with --delete-delay=0 its "D" never replies.
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { RelayError } from "../../src/media/errors.ts";
import { RtpproxyClient } from "../../src/media/rtpproxy.ts";
import { RtpPeer } from "./rtp.ts";
import { startRtpengine } from "./rtpengine-process.ts";

Deno.test("rtpproxy over UDP (rtpengine --listen-udp): V, VF, U, L, RTP, Q, D", async () => {
  const rte = await startRtpengine({});
  const client = new RtpproxyClient({ host: "127.0.0.1", port: rte.udpPort }, {
    timeout: 500,
    retries: 2,
  });
  const caller = await RtpPeer.open();
  const callee = await RtpPeer.open();
  try {
    assert.equal(await client.version(), "20040107");
    assert.equal(await client.supports("20050322"), true, "media numbers in tags");
    const callId = `p-${crypto.randomUUID()}`;
    const forCallee = await client.update(callId, "127.0.0.1", caller.port, "ft", undefined, {
      mediaIndex: 1,
    });
    assert.equal(forCallee.address, "127.0.0.1");
    assert.ok(forCallee.port >= rte.portMin && forCallee.port <= rte.portMax);
    const forCaller = await client.lookup(callId, "127.0.0.1", callee.port, "ft", "tt", {
      mediaIndex: 1,
    });
    assert.ok(forCaller.port >= rte.portMin && forCaller.port <= rte.portMax);
    assert.notEqual(forCaller.port, forCallee.port);

    await caller.send(forCaller.port, 25, 0x3333);
    await callee.send(forCallee.port, 20, 0x4444);
    await callee.waitFor(25);
    await caller.waitFor(20);
    assert.equal(callee.received.length, 25, rte.log());
    assert.equal(caller.received.length, 20);

    const q = await client.query(callId, "ft", "tt");
    assert.ok(q.ttl > 0);
    assert.equal(q.counters.reduce((a, b) => a + b, 0), 45, `counters ${q.counters}`);

    await client.delete(callId, "ft", "tt");
    await assert.rejects(client.delete(`${callId}-none`, "ft"), RelayError, "E8: no such call");
    await assert.rejects(client.command("X bogus"), RelayError);
  } finally {
    await caller.close();
    await callee.close();
    await client.close();
    await rte.stop();
  }
});

Deno.test("rtpproxy over a unix socket (bridged to rtpengine): U, L, D; dead socket → timeout", async () => {
  const rte = await startRtpengine({});
  const path = await Deno.makeTempFile({ suffix: ".sock" });
  await Deno.remove(path);
  const listener = Deno.listen({ transport: "unix", path });
  const udp = dgram.createSocket("udp4");
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  let n = 0;
  const bridge = (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(4096);
      const len = (await conn.read(buf)) ?? 0;
      const line = new TextDecoder().decode(buf.subarray(0, len)).trim();
      const cookie = `b${++n}`;
      const reply = await new Promise<Uint8Array>((resolve) => {
        udp.once("message", (m: Uint8Array) => resolve(m));
        udp.send(`${cookie} ${line}`, rte.udpPort, "127.0.0.1");
      });
      const text = new TextDecoder().decode(reply);
      await conn.write(new TextEncoder().encode(text.slice(text.indexOf(" ") + 1)));
      conn.close();
    }
  })();
  const client = new RtpproxyClient({ path }, { timeout: 500, retries: 1 });
  try {
    assert.equal(await client.version(), "20040107");
    const callId = `u-${crypto.randomUUID()}`;
    const a = await client.update(callId, "127.0.0.1", 42000, "ft", undefined, { mediaIndex: 1 });
    const b = await client.lookup(callId, "127.0.0.1", 42002, "ft", "tt", { mediaIndex: 1 });
    assert.ok(a.port >= rte.portMin && b.port >= rte.portMin && a.port !== b.port);
    await client.delete(callId, "ft");
    assert.equal(client.relay, `unix:${path}`);
  } finally {
    await client.close();
    listener.close();
    await bridge.catch(() => {});
    await new Promise<void>((r) => udp.close(() => r()));
    await rte.stop();
  }
  const dead = new RtpproxyClient({ path }, { timeout: 100, retries: 1 });
  await assert.rejects(dead.ping(), (e) => e instanceof RelayError && /2 attempt/.test(e.message));
  await dead.close();
  await Deno.remove(path).catch(() => {});
});

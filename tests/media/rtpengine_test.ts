// rtpengine ng protocol client against a real rtpengine (docs "ng Control Protocol"): ping,
// offer/answer rewriting, RTP through the relay, query counters, delete, re-offer (hold), and
// retransmission with timeout.
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { RelayError, RelayTimeoutError } from "../../src/media/errors.ts";
import { RtpengineClient } from "../../src/media/rtpengine.ts";
import { mediaEndpoints } from "../../src/media/sdp.ts";
import { Registry } from "../../src/util/metrics.ts";
import { RtpPeer } from "./rtp.ts";
import { startRtpengine } from "./rtpengine-process.ts";

/** An SDP for a party at 127.0.0.1:`port` offering PCMA and PCMU. */
export function sdpFor(port: number, extra: string[] = []): string {
  return [
    "v=0",
    `o=- ${port} 1 IN IP4 127.0.0.1`,
    "s=-",
    "c=IN IP4 127.0.0.1",
    "t=0 0",
    `m=audio ${port} RTP/AVP 8 0`,
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:0 PCMU/8000",
    ...extra,
    "",
  ].join("\r\n");
}

Deno.test("rtpengine: offer/answer relay RTP both ways, query counts it, delete ends it", async () => {
  const rte = await startRtpengine();
  const registry = new Registry();
  const client = new RtpengineClient("127.0.0.1", rte.ngPort, {
    timeout: 500,
    retries: 2,
    registry,
  });
  const caller = await RtpPeer.open();
  const callee = await RtpPeer.open();
  try {
    await client.ping();
    const callId = `c-${crypto.randomUUID()}`;
    const toCallee = await client.offer(callId, "ft", sdpFor(caller.port), {
      replace: ["origin", "session-connection"],
    });
    const [offered] = mediaEndpoints(toCallee);
    assert.equal(offered.address, "127.0.0.1");
    assert.ok(offered.port >= rte.portMin && offered.port <= rte.portMax, toCallee);
    assert.notEqual(offered.port, caller.port, "the callee must not see the caller's port");

    const toCaller = await client.answer(callId, "ft", "tt", sdpFor(callee.port));
    const [answered] = mediaEndpoints(toCaller);
    assert.ok(answered.port >= rte.portMin && answered.port <= rte.portMax, toCaller);
    assert.notEqual(answered.port, callee.port, "the caller must not see the callee's port");
    assert.notEqual(answered.port, offered.port);

    // Caller sends to the port in the answer it got; callee to the port in the offer it got.
    await caller.send(answered.port, 40, 0x1111);
    await callee.send(offered.port, 30, 0x2222);
    await callee.waitFor(40);
    await caller.waitFor(30);
    assert.equal(callee.received.length, 40, rte.log());
    assert.equal(caller.received.length, 30);

    const stats = await client.query(callId);
    const ft = stats.tags.find((t) => t.tag === "ft")!;
    const tt = stats.tags.find((t) => t.tag === "tt")!;
    assert.equal(ft.rtp.packets, 40, "received from the caller");
    assert.equal(tt.rtp.packets, 30, "received from the callee");
    assert.equal(ft.rtp.bytes, 40 * 172);
    assert.deepEqual(ft.localPorts, [answered.port]);
    assert.equal(stats.totals.rtp.packets, 70);

    assert.ok((await client.list()).includes(callId));
    await client.delete(callId, "ft");
    assert.ok(!(await client.list()).includes(callId));
    await assert.rejects(
      client.query(callId),
      (e) => e instanceof RelayError && /Unknown call/.test(e.message),
    );
    assert.equal(
      registry.counter("tandem_media_requests_total", "").get({
        relay: client.relay,
        command: "offer",
      }),
      1,
    );
    assert.equal(registry.counter("tandem_media_errors_total", "").get({ relay: client.relay }), 1);
  } finally {
    await caller.close();
    await callee.close();
    await client.close();
    await rte.stop();
  }
});

Deno.test("rtpengine: re-offer for hold (sendonly/recvonly) keeps the relay ports", async () => {
  const rte = await startRtpengine();
  const client = new RtpengineClient("127.0.0.1", rte.ngPort, { timeout: 500, retries: 2 });
  try {
    const callId = `h-${crypto.randomUUID()}`;
    const o1 = mediaEndpoints(await client.offer(callId, "ft", sdpFor(41000)))[0].port;
    const a1 = mediaEndpoints(await client.answer(callId, "ft", "tt", sdpFor(41002)))[0].port;
    const hold = await client.offer(callId, "ft", sdpFor(41000, ["a=sendonly"]));
    assert.match(hold, /a=sendonly/);
    assert.equal(mediaEndpoints(hold)[0].port, o1);
    const held = await client.answer(callId, "ft", "tt", sdpFor(41002, ["a=recvonly"]));
    assert.match(held, /a=recvonly/);
    assert.equal(mediaEndpoints(held)[0].port, a1);
    // Re-INVITE from the callee: it is now the offerer, so its tag goes first.
    const unhold = await client.offer(callId, "tt", sdpFor(41002));
    assert.equal(mediaEndpoints(unhold)[0].port, a1, "the caller keeps sending to a1");
    const back = await client.answer(callId, "tt", "ft", sdpFor(41000));
    assert.equal(mediaEndpoints(back)[0].port, o1, "the callee keeps sending to o1");
    await client.delete(callId, "ft");
  } finally {
    await client.close();
    await rte.stop();
  }
});

Deno.test("rtpengine: no reply → retransmits with the same cookie, then RelayTimeoutError", async () => {
  const silent = dgram.createSocket("udp4");
  await new Promise<void>((r) => silent.bind(0, "127.0.0.1", () => r()));
  const seen: string[] = [];
  silent.on("message", (m: Uint8Array) => seen.push(new TextDecoder().decode(m)));
  const registry = new Registry();
  const client = new RtpengineClient("127.0.0.1", silent.address().port, {
    timeout: 50,
    retries: 2,
    registry,
  });
  try {
    await assert.rejects(client.ping(), (e) => e instanceof RelayTimeoutError && e.attempts === 3);
    assert.equal(seen.length, 3);
    assert.equal(new Set(seen).size, 1, "a retransmission is byte-identical");
    assert.match(seen[0], /^\S+ d7:command4:pinge$/);
    assert.equal(
      registry.counter("tandem_media_timeouts_total", "").get({ relay: client.relay }),
      1,
    );
  } finally {
    await client.close();
    await new Promise<void>((r) => silent.close(() => r()));
  }
});

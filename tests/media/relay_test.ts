// MediaRelay and RelayPool against a real rtpengine: relayed SDP and RTP, codec mask and ICE
// strip, callee-side re-offer (tags swapped), delete, failure policy (reject → 503 / pass), and
// a relay coming back after a health probe (injected timers).
import assert from "node:assert/strict";
import {
  createRelayPool,
  mediaEndpoints,
  RelayPool,
  RelayUnavailableError,
  RtpengineClient,
  RtpengineRelay,
  RtpproxyClient,
  RtpproxyRelay,
} from "../../src/media/mod.ts";
import type { MediaConfig } from "../../src/config/types.ts";
import { ManualTimers } from "../../src/util/timer-queue.ts";
import { Registry } from "../../src/util/metrics.ts";
import { RtpPeer } from "./rtp.ts";
import { freeUdpPort, startRtpengine } from "./rtpengine-process.ts";

function sdp(port: number, extra: string[] = []): string {
  return [
    "v=0",
    `o=- ${port} 1 IN IP4 127.0.0.1`,
    "s=-",
    "c=IN IP4 127.0.0.1",
    "t=0 0",
    `m=audio ${port} RTP/AVP 0 8 18`,
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:18 G729/8000",
    "a=fmtp:18 annexb=no",
    "a=ice-ufrag:Zz9x",
    "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    `a=candidate:1 1 UDP 2130706431 127.0.0.1 ${port} typ host`,
    ...extra,
    "",
  ].join("\r\n");
}

const media = (port: number, over: Partial<MediaConfig> = {}): MediaConfig => ({
  rtpengine: [{ address: "127.0.0.1", port, weight: 1 }],
  rtpproxy: [],
  onFailure: "reject",
  codecs: ["PCMU", "PCMA"],
  ice: "strip",
  timeout: 200,
  retries: 1,
  ...over,
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("relay pool (rtpengine): masked, ICE-free SDP on relay ports; RTP; callee re-offer; delete", async () => {
  const rte = await startRtpengine();
  const timers = new ManualTimers();
  const pool = createRelayPool(media(rte.ngPort), "rtpengine", {
    timers,
    registry: new Registry(),
  });
  const check = new RtpengineClient("127.0.0.1", rte.ngPort, { timeout: 500, retries: 1 });
  const caller = await RtpPeer.open();
  const callee = await RtpPeer.open();
  try {
    const session = { callId: `r-${crypto.randomUUID()}`, fromTag: "a-tag" };
    const toCallee = await pool.offer(session, sdp(caller.port));
    assert.match(toCallee, /^m=audio \d+ RTP\/AVP 0 8\r$/m, "G729 masked out");
    assert.doesNotMatch(toCallee, /G729|candidate|ice-ufrag/);
    const o = mediaEndpoints(toCallee)[0];
    assert.ok(o.port >= rte.portMin && o.port <= rte.portMax && o.address === "127.0.0.1");

    const dialog = { ...session, toTag: "b-tag" };
    const toCaller = await pool.answer(dialog, sdp(callee.port));
    assert.match(toCaller, /^m=audio \d+ RTP\/AVP 0 8\r$/m);
    const a = mediaEndpoints(toCaller)[0];
    assert.ok(a.port >= rte.portMin && a.port <= rte.portMax && a.port !== o.port);

    await caller.send(a.port, 30, 1);
    await callee.send(o.port, 24, 2);
    await callee.waitFor(30);
    await caller.waitFor(24);
    assert.equal(callee.received.length, 30);
    assert.equal(caller.received.length, 24);
    const stats = await pool.stats(dialog);
    assert.deepEqual(
      stats?.legs.map((l) => [l.side, l.packets]).sort(),
      [["callee", 24], ["caller", 30]],
    );

    // Hold from the callee: its re-INVITE offer goes to the caller with the caller's old port.
    const hold = await pool.offer(dialog, sdp(callee.port, ["a=sendonly"]), { from: "callee" });
    assert.match(hold, /a=sendonly/);
    assert.equal(mediaEndpoints(hold)[0].port, a.port);
    const held = await pool.answer(dialog, sdp(caller.port, ["a=recvonly"]), { from: "callee" });
    assert.match(held, /a=recvonly/);
    assert.equal(mediaEndpoints(held)[0].port, o.port);

    assert.ok((await check.list()).includes(session.callId));
    await pool.delete(dialog);
    assert.ok(!(await check.list()).includes(session.callId));
    assert.equal(await pool.stats(dialog), undefined);
    assert.equal(pool.size, 0);
  } finally {
    await caller.close();
    await callee.close();
    await check.close();
    await pool.close();
    await rte.stop();
  }
});

Deno.test("rtpengine relay: a browser's WebRTC offer reaches a plain RTP callee as RTP/AVP, and the answer goes back as DTLS-SRTP with ICE", async () => {
  const rte = await startRtpengine();
  // The codec mask keeps Opus out of the way: a plain phone gets PCMU/PCMA.
  const pool = createRelayPool(media(rte.ngPort, { ice: "keep" }), "rtpengine", {
    timers: new ManualTimers(),
    registry: new Registry(),
  });
  try {
    const browser = Deno.readTextFileSync(
      new URL("../testdata/webrtc/chromium-offer.sdp", import.meta.url),
    ).replace(/\r?\n/g, "\r\n");
    const session = { callId: `w-${crypto.randomUUID()}`, fromTag: "browser" };
    const toPhone = await pool.offer(session, browser, {
      webrtc: { sender: true, receiver: false },
    });
    assert.match(toPhone, /^m=audio \d+ RTP\/AVP 0 8\r$/m);
    assert.doesNotMatch(toPhone, /a=(fingerprint|setup|ice-ufrag|candidate|rtcp-mux)\b/);
    const toBrowser = await pool.answer({ ...session, toTag: "phone" }, sdp(40000), {
      webrtc: { sender: false, receiver: true },
    });
    assert.match(toBrowser, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 0 8\r$/m);
    for (const a of ["fingerprint:sha-256 ", "setup:", "ice-ufrag:", "ice-pwd:", "rtcp-mux"]) {
      assert.match(toBrowser, new RegExp(`^a=${a}`, "m"), a);
    }
    assert.match(toBrowser, /^a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host\r$/m);
    // The browser's mid is kept, so its BUNDLE group still names the section.
    assert.match(toBrowser, /^a=mid:0\r$/m);

    // The other way round: a phone's offer to a browser is made WebRTC.
    const other = { callId: `w-${crypto.randomUUID()}`, fromTag: "phone" };
    const offerToBrowser = await pool.offer(other, sdp(40002), {
      webrtc: { sender: false, receiver: true },
    });
    assert.match(offerToBrowser, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 0 8\r$/m);
    assert.match(offerToBrowser, /^a=fingerprint:/m);
    assert.match(offerToBrowser, /^a=rtcp-mux\r$/m);
  } finally {
    await pool.close();
    await rte.stop();
  }
});

Deno.test("relay pool: relay down → RelayUnavailableError (reject) or SDP unchanged (pass)", async () => {
  const port = await freeUdpPort(); // nothing listens there
  const timers = new ManualTimers();
  const reject = createRelayPool(media(port), "rtpengine", { timers });
  const pass = createRelayPool(media(port, { onFailure: "pass" }), "rtpengine", { timers });
  try {
    const s = { callId: "down-1", fromTag: "a" };
    await assert.rejects(reject.offer(s, sdp(40000)), RelayUnavailableError);
    assert.equal(reject.status()[0].alive, false);
    // Dead relays are skipped: the next call fails at once, without waiting for a timeout.
    const t0 = Date.now();
    await assert.rejects(
      reject.offer({ callId: "down-2", fromTag: "a" }, sdp(40000)),
      RelayUnavailableError,
    );
    // A try would cost two 200 ms timeouts (retries: 1); anything under that is "at once".
    assert.ok(Date.now() - t0 < 390, `failed after ${Date.now() - t0} ms`);

    const offer = sdp(40000);
    assert.equal(await pass.offer(s, offer), offer);
    const answer = sdp(40002);
    assert.equal(await pass.answer({ ...s, toTag: "b" }, answer), answer, "answer passes too");
    await pass.delete(s);
  } finally {
    await reject.close();
    await pass.close();
  }
});

Deno.test("relay pool: a dead relay is skipped, the session sticks, and a relay back up is used again", async () => {
  const deadPort = await freeUdpPort();
  const live = await startRtpengine();
  const timers = new ManualTimers();
  const policy = { codecs: [], ice: "keep" as const };
  const driver = (port: number) =>
    new RtpengineRelay(
      new RtpengineClient("127.0.0.1", port, { timeout: 150, retries: 0 }),
      policy,
    );
  // random() = 0 always picks the first live member: the dead one, while it is believed alive.
  const pool = new RelayPool([
    { driver: driver(deadPort), weight: 10 },
    { driver: driver(live.ngPort), weight: 1 },
  ], { onFailure: "reject", timers, random: () => 0, healthInterval: 1000 });
  pool.start();
  let revived: Awaited<ReturnType<typeof startRtpengine>> | undefined;
  try {
    const s = { callId: `f-${crypto.randomUUID()}`, fromTag: "a" };
    const out = await pool.offer(s, sdp(40000));
    assert.ok(mediaEndpoints(out)[0].port >= live.portMin, "failed over to the live relay");
    assert.deepEqual(pool.status().map((m) => m.alive), [false, true]);
    await pool.answer({ ...s, toTag: "b" }, sdp(40002)); // sticks: same relay answers

    revived = await startRtpengine({ ngPort: deadPort, deleteDelay: 0 });
    timers.advance(1000); // health probe fires
    for (let i = 0; i < 50 && !pool.status()[0].alive; i++) await wait(20);
    assert.deepEqual(pool.status().map((m) => m.alive), [true, true]);

    const s2 = { callId: `g-${crypto.randomUUID()}`, fromTag: "a" };
    const out2 = await pool.offer(s2, sdp(40004));
    const p2 = mediaEndpoints(out2)[0].port;
    assert.ok(p2 >= revived.portMin && p2 <= revived.portMax, "new call on the revived relay");
    await pool.delete(s);
    await pool.delete(s2);
  } finally {
    await pool.close();
    await live.stop();
    await revived?.stop();
  }
});

Deno.test("rtpproxy relay (rtpengine --listen-udp): SDP rewritten to the relay, masked, RTP flows", async () => {
  const rte = await startRtpengine({});
  const timers = new ManualTimers();
  const client = new RtpproxyClient({ host: "127.0.0.1", port: rte.udpPort }, {
    timeout: 500,
    retries: 1,
  });
  const relay = new RtpproxyRelay(client, { codecs: ["PCMA"], ice: "strip" }, "127.0.0.1");
  const pool = new RelayPool([{ driver: relay, weight: 1 }], { onFailure: "reject", timers });
  const caller = await RtpPeer.open();
  const callee = await RtpPeer.open();
  try {
    const s = { callId: `x-${crypto.randomUUID()}`, fromTag: "a" };
    const toCallee = await pool.offer(s, sdp(caller.port));
    assert.match(toCallee, /^m=audio \d+ RTP\/AVP 8\r$/m);
    assert.doesNotMatch(toCallee, /candidate/);
    const o = mediaEndpoints(toCallee)[0];
    assert.ok(o.port >= rte.portMin && o.port <= rte.portMax);
    const toCaller = await pool.answer({ ...s, toTag: "b" }, sdp(callee.port));
    const a = mediaEndpoints(toCaller)[0];
    assert.ok(a.port >= rte.portMin && a.port <= rte.portMax && a.port !== o.port);
    await caller.send(a.port, 20, 5);
    await callee.send(o.port, 20, 6);
    await callee.waitFor(20);
    await caller.waitFor(20);
    assert.equal(callee.received.length, 20);
    assert.equal(caller.received.length, 20);
    await pool.delete({ ...s, toTag: "b" });
  } finally {
    await caller.close();
    await callee.close();
    await pool.close();
    await rte.stop();
  }
});

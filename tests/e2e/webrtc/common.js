// deno-lint-ignore-file no-unused-vars -- a classic browser script: the pages call these globals
// What both test phones share (served by bed.ts as /common.js): the query, a log, the report,
// polling, and the call's audio counters from WebRTC's statistics.
"use strict";
const q = new URLSearchParams(location.search);
const log = [];
const say = (s) => log.push(`${Math.round(performance.now())} ${s}`);
const report = (r) => fetch("/result", { method: "POST", body: JSON.stringify({ ...r, log }) });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(pred, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

async function audioStats(pc) {
  const out = { received: 0, sent: 0, codec: "" };
  for (const s of (await pc.getStats()).values()) {
    if (s.type === "inbound-rtp" && s.kind === "audio") out.received = s.packetsReceived;
    if (s.type === "outbound-rtp" && s.kind === "audio") out.sent = s.packetsSent;
    if (s.type === "codec" && s.mimeType) out.codec ||= s.mimeType;
  }
  return out;
}

/** Wait until the call's media flows both ways (50 packets each way); its counters. */
async function mediaFlows(pc) {
  await until(
    () => pc.connectionState === "connected",
    10000,
    `DTLS (state ${pc.connectionState})`,
  );
  return await until(
    async () => {
      const s = await audioStats(pc);
      return s.received >= 50 && s.sent >= 50 ? s : undefined;
    },
    10000,
    "50 RTP packets each way",
  );
}

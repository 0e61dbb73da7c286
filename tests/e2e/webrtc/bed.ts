// The WebRTC calls of tests/e2e/webrtc_test.ts, run inside a network namespace whose only
// interface is loopback (the test starts it under `unshare -rn`), so that Chromium's ICE
// candidates, and so every packet of the calls, stay on 127.0.0.1. A browser calls a plain SIP
// phone through Tandem (RFC 7118 SIP over WebSocket, media through rtpengine): headless
// Chromium, with its own WebSocket and WebRTC stacks (ICE, DTLS-SRTP, a fake microphone), opens
// a WebSocket (ws, then wss) to Tandem and calls; Tandem places each call over UDP to a SIPp
// phone that answers with RTP/AVP and plays PCMA. rtpengine turns the browser's DTLS-SRTP into
// plain RTP and back. Three calls: phone.html (the few lines of SIP a call needs, written here)
// over ws and over wss, then jssip-phone.html (JsSIP, from npm in .tools/, bundled with Bun)
// over wss. Exits 0 when every check held, 1 with the reason.

import assert from "node:assert/strict";
import {
  binaryAvailable,
  freeMediaPort,
  freePort,
  freeUdpPort,
  repoRoot,
  runSipp,
  sippAvailable,
  startTandem,
  type TandemProcess,
  udpBound,
  waitFor,
  which,
} from "../harness.ts";
import { startRtpengine } from "../../media/rtpengine-process.ts";
import { findBun, JSSIP_ENTRY } from "../../../scripts/lib/deps.ts";

const DIR = `${repoRoot}/tests/e2e/webrtc`;
const PCAP = "/usr/share/sip-tester/g711a.pcap";

const CERTS = `${repoRoot}/tests/testdata/tls`;

interface Ports {
  ws: number;
  wss: number;
  sip: number;
  http: number;
  phone: number;
  ng: number;
}

function configText(p: Ports) {
  return `sip:
  listen:
    - { address: 127.0.0.1, port: ${p.sip}, transports: [udp] }
    - { address: 127.0.0.1, port: ${p.ws}, transports: [ws] }
    - { address: 127.0.0.1, port: ${p.wss}, transports: [wss] }
  tls: { cert: ${CERTS}/server.pem, key: ${CERTS}/server-key.pem, ca: ${CERTS}/ca.pem }
  timers: { t1: 100ms }
http:
  listen: 127.0.0.1:${p.http}
log: { level: info, format: json }
rules:
  - name: phone
    match: {}
    routes:
      - { name: phone, target: "127.0.0.1:${p.phone}", media: rtpengine }
media:
  rtpengine: [{ address: 127.0.0.1, port: ${p.ng}, weight: 1 }]
  on_failure: reject
  codecs: [PCMA, PCMU, telephone-event]
  ice: strip
  timeout: 500ms
  retries: 1
`;
}

/** What the page reported. */
interface PhoneResult {
  ok: boolean;
  error?: string;
  answer?: string;
  invite200?: string;
  received?: number;
  sent?: number;
  codec?: string;
  log: string[];
}

/** Serve the page on 127.0.0.1 and resolve with what it POSTs to /result. */
/** Serve `html` (a file in this folder) as "/", with common.js and JsSIP's bundle beside it. */
function servePage(html: string, jssip: string) {
  const page = Deno.readTextFileSync(`${DIR}/${html}`);
  const common = Deno.readTextFileSync(`${DIR}/common.js`);
  let resolve!: (r: PhoneResult) => void;
  const result = new Promise<PhoneResult>((r) => resolve = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/") return new Response(page, { headers: { "content-type": "text/html" } });
    if (path === "/common.js") {
      return new Response(common, { headers: { "content-type": "text/javascript" } });
    }
    if (path === "/jssip.js") {
      return new Response(jssip, { headers: { "content-type": "text/javascript" } });
    }
    if (path === "/result" && req.method === "POST") {
      resolve(JSON.parse(await req.text()));
      return new Response("ok");
    }
    return new Response("not found", { status: 404 });
  });
  return { port: server.addr.port, result, close: () => server.shutdown() };
}

/** Headless Chromium on `url`: fake microphone, no prompts, loopback ICE candidates allowed. */
function chromium(url: string, profile: string): Deno.ChildProcess {
  return new Deno.Command(which("chromium")!, {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-extensions",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      "--allow-loopback-in-peer-connection",
      // The wss call: Tandem shows the test CA's certificate, which this profile does not trust.
      "--ignore-certificate-errors",
      `--user-data-dir=${profile}`,
      url,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** One call from the browser over `transport` to a fresh SIPp phone; `n`: calls so far. */
async function call(
  transport: "ws" | "wss",
  html: "phone.html" | "jssip-phone.html",
  n: number,
  bed: { tandem: TandemProcess; ports: Ports; tmp: string; jssip: string },
  /** Calls made over this transport before this one. */
  before = 0,
  /** "close": the browser drops its WebSocket instead of sending a BYE, as a closed tab does. */
  hangup: "bye" | "close" = "bye",
): Promise<void> {
  const { tandem, ports, tmp } = bed;
  // Its own range: media_test's SIPps and baresips draw from 28000-28999 beside it.
  const media = freeMediaPort(30000);
  const msgFile = `${tmp}/phone-${n}.msg`;
  const phone = runSipp([
    "-sf",
    `${DIR}/uas-play.xml`,
    "-i",
    "127.0.0.1",
    "-p",
    String(ports.phone),
    "-mi",
    "127.0.0.1",
    "-mp",
    String(media),
    "-m",
    "1",
    "-timeout",
    "40s",
    "-timeout_error",
    "-trace_msg",
    "-message_file",
    msgFile,
  ], { timeoutMs: 50_000 });
  const page = servePage(html, bed.jssip);
  let browser: Deno.ChildProcess | undefined;
  try {
    await waitFor(() => udpBound(ports.phone), 5000, { what: "the SIPp phone" });
    const port = ports[transport];
    const q = new URLSearchParams({
      ws: `${transport}://127.0.0.1:${port}/`,
      to: `sip:phone@127.0.0.1:${port};transport=ws`,
      hangup,
    });
    browser = chromium(`http://127.0.0.1:${page.port}/?${q}`, `${tmp}/profile-${n}`);
    // While the call is up, /metrics counts the browser's connection.
    let connections = 0;
    const gauge = new RegExp(`^tandem_sip_connections\\{transport="${transport}"\\} (\\d+)$`, "m");
    const poll = setInterval(async () => {
      try {
        const text = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
        connections = Math.max(connections, Number(gauge.exec(text)?.[1] ?? 0));
      } catch { /* the next poll */ }
    }, 200);
    const r = await Promise.race([
      page.result,
      new Promise<never>((_, j) => setTimeout(() => j(new Error("no result in 40 s")), 40_000)),
    ]).finally(() => clearInterval(poll));
    assert.equal(
      connections,
      1,
      `tandem_sip_connections{transport="${transport}"} during the call`,
    );
    assert.ok(
      r.ok,
      `${html} over ${transport}: the browser's call failed: ${r.error}\n${r.log.join("\n")}`,
    );
    // The browser got a WebRTC answer: DTLS-SRTP with ICE, RTP and RTCP on one port.
    assert.match(r.answer!, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 8/m);
    assert.match(r.answer!, /^a=fingerprint:sha-256 /m);
    // (JsSIP's page reports the browser's parsed copy, where Chromium writes "udp".)
    assert.match(r.answer!, /^a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host/im);
    assert.equal(r.codec, "audio/PCMA");
    assert.ok(r.received! >= 50 && r.sent! >= 50, JSON.stringify(r));

    const sipp = await phone;
    assert.equal(sipp.code, 0, `the SIPp phone failed:\n${sipp.stdout.slice(-2000)}`);
    // The phone was offered plain RTP from the relay, nothing of the browser's.
    const msgs = await Deno.readTextFile(msgFile);
    const invite = /INVITE sip:[^]*?\r\n\r\n[^]*?(?=\r\n\r\n-{5}|\s*$)/.exec(msgs)?.[0] ?? "";
    assert.match(invite, /^m=audio \d+ RTP\/AVP 8 0/m, invite);
    assert.doesNotMatch(invite, /fingerprint|candidate|ice-ufrag|\.invalid|transport=ws/i);

    // rtpengine saw media from both parties.
    const ended = await waitFor(
      async () => {
        const { stdout, stderr } = await tandem.logs();
        return (stdout + stderr).split("\n").filter((l) => l.includes('"media.session_ended"'))[n];
      },
      5000,
      { what: "media.session_ended in Tandem's log" },
    );
    const legs = JSON.parse(ended).legs as { side: string; packets: number }[];
    for (const side of ["caller", "callee"]) {
      const leg = legs.find((l) => l.side === side);
      assert.ok(leg && leg.packets >= 50, `${side} sent media through the relay: ${ended}`);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
    for (const method of hangup === "bye" ? ["INVITE", "ACK", "BYE"] : ["INVITE", "ACK"]) {
      const re = new RegExp(
        `tandem_sip_messages_in_total\\{[^}]*method="${method}"[^}]*transport="${transport}"\\} (\\d+)\n`,
      );
      const got = Number(re.exec(metrics)?.[1] ?? 0);
      // One of each per call. The 2xx is resent until the ACK comes, over WebSocket too
      // (RFC 3261 §13.3.1.4), and the browser ACKs each copy: on a busy box, more than one ACK.
      if (method === "ACK") assert.ok(got >= before + 1, `${method} over ${transport}: ${got}`);
      else assert.equal(got, before + 1, `${method} over ${transport}`);
    }
  } finally {
    try {
      browser?.kill("SIGKILL");
      await browser?.status;
    } catch { /* gone */ }
    await page.close();
    await phone.catch(() => {});
  }
}

/** JsSIP (npm, in .tools/) bundled for the browser with Bun, exposed as `JsSIP`. */
async function bundleJssip(tmp: string): Promise<string> {
  assert.ok(
    Deno.statSync(JSSIP_ENTRY).isFile,
    `${JSSIP_ENTRY} is missing: deno task test installs it`,
  );
  const bun = findBun();
  assert.ok(bun, "bun is missing: npm install --prefix .tools bun@1");
  await Deno.writeTextFile(
    `${tmp}/jssip-entry.js`,
    `import JsSIP from ${JSON.stringify(JSSIP_ENTRY)};\nglobalThis.JsSIP = JsSIP;\n`,
  );
  const out = await new Deno.Command(bun, {
    args: [
      "build",
      `${tmp}/jssip-entry.js`,
      "--target=browser",
      "--format=iife",
      `--outfile=${tmp}/jssip.js`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, `bun build of JsSIP failed: ${new TextDecoder().decode(out.stderr)}`);
  return await Deno.readTextFile(`${tmp}/jssip.js`);
}

async function run(): Promise<void> {
  assert.ok(which("chromium"), "chromium is missing: apt-get install chromium");
  assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
  assert.ok(Deno.statSync(PCAP).isFile, `${PCAP} is missing (sip-tester)`);
  const tmp = await Deno.makeTempDir({ prefix: "tandem-e2e-webrtc-" });
  const rte = await startRtpengine({ deleteDelay: 0 });
  const ports: Ports = {
    ws: freePort(),
    wss: freePort(),
    sip: freePort(),
    http: freePort(),
    phone: freeUdpPort(),
    ng: rte.ngPort,
  };
  const tandem = await startTandem({ config: configText(ports), binary: binaryAvailable() });
  try {
    const jssip = await bundleJssip(tmp);
    const bed = { tandem, ports, tmp, jssip };
    await call("ws", "phone.html", 0, bed);
    await call("wss", "phone.html", 1, bed);
    await call("wss", "jssip-phone.html", 2, bed, 1);
    // A closed tab: no BYE from the browser, yet the phone gets one (the scenario waits for it),
    // from Tandem, as the connection closes.
    await call("ws", "phone.html", 3, bed, 1, "close");
    const { stdout, stderr } = await tandem.logs();
    assert.match(stdout + stderr, /"event":"caller-connection-closed"/);
    await Deno.remove(tmp, { recursive: true });
  } catch (e) {
    const logs = await tandem.logs();
    console.error(
      `--- tandem log tail:\n${(logs.stdout + logs.stderr).slice(-4000)}\n` +
        `--- rtpengine:\n${rte.log().slice(-3000)}\n--- ${tmp}`,
    );
    throw e;
  } finally {
    await tandem.stop();
    await rte.stop();
  }
}

try {
  await run();
  console.log("webrtc bed: every check held");
  Deno.exit(0);
} catch (e) {
  console.error(`webrtc bed: ${(e as Error)?.stack ?? e}`);
  Deno.exit(1);
}

// Issue "Media relay control", end to end: a running Tandem anchors media on a real rtpengine
// (userspace, --table=-1) for routes with `media: rtpengine`. SIPp callers and callees with RTP
// (g711a.pcap played by the caller, -rtp_echo at the callee), a raw UDP caller for the failure
// policy, two headless baresip softphones, delayed offers (SDP in the 2xx and the ACK, or in a
// reliable 183 and the PRACK) and a SIP-I multipart body.
// Every SDP a party receives must name the relay (RFC 3264 offer/answer rewritten by the relay),
// and every RTP packet must cross it.

import assert from "node:assert/strict";
import {
  freeMediaPort,
  freePort,
  freeUdpPort,
  repoRoot,
  runSipp,
  sippAvailable,
  type SippResult,
  sleep,
  startTandem,
  type TandemProcess,
  udpBound,
  waitFor,
  which,
} from "./harness.ts";
import { type CallStats, RtpengineClient } from "../../src/media/mod.ts";
import { baresipDir, runBaresip, toneWav } from "./baresip.ts";
import { type RtpengineProcess, startRtpengine } from "../media/rtpengine-process.ts";

const SCENARIOS = `${repoRoot}/tests/e2e/media`;
const PCAP = "/usr/share/sip-tester/g711a.pcap";
const enc = new TextEncoder();
const dec = new TextDecoder();

interface BedOptions {
  /** rtpengine ng port (a relay that is not running yet is fine). */
  ng: number;
  onFailure: "reject" | "pass";
  /** The SIPp / raw callee's SIP port. */
  callee: number;
  /** A baresip callee's SIP port: R-URI user "bob" goes there. */
  bob?: number;
  cdrDir?: string;
  /** The catch-all rule records its calls (`record: true`). */
  record?: boolean;
}

/** Tandem on 127.0.0.1, every route anchoring media on one rtpengine; G729 masked out. */
function configText(sip: number, http: number, o: BedOptions): string {
  const bob = o.bob === undefined ? "" : `
  - name: bob
    match: { ruri_user_prefix: [bob] }
    routes:
      - { name: bob, target: "127.0.0.1:${o.bob}", media: rtpengine }`;
  const cdr = o.cdrDir === undefined ? "" : `
cdr:
  dir: ${o.cdrDir}/journal
  fsync: every
  file: { path: ${o.cdrDir}/cdr.jsonl, format: jsonl }`;
  return `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
  timers: { t1: 100ms }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
rules:${bob}
  - name: callee
    match: {}${o.record ? "\n    record: true" : ""}
    routes:
      - { name: callee, target: "127.0.0.1:${o.callee}", media: rtpengine }
media:
  rtpengine: [{ address: 127.0.0.1, port: ${o.ng}, weight: 1 }]
  on_failure: ${o.onFailure}
  codecs: [PCMU, PCMA, telephone-event]
  ice: strip
  timeout: 200ms
  retries: 1
${cdr}`;
}

async function startBed(
  o: BedOptions,
): Promise<{ tandem: TandemProcess; sip: number; http: number }> {
  const sip = freePort();
  const http = freePort();
  const tandem = await startTandem({ config: configText(sip, http, o) });
  return { tandem, sip, http };
}

/** One SIP message from a SIPp -trace_msg log: direction, wall time, text. */
interface Logged {
  sent: boolean;
  at: number;
  text: string;
}

/** Split a SIPp message log ("----- 2024-05-01\t12:34:56.789012" headers). */
function parseSippLog(log: string): Logged[] {
  const out: Logged[] = [];
  const parts = log.split(/^-{10,} (\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+)\s*$/m);
  for (let i = 1; i + 2 < parts.length + 1; i += 3) {
    const body = parts[i + 2] ?? "";
    const m = /^\s*(?:UDP|TCP) message (sent|received)[^\n]*\n\n?([\s\S]*)$/.exec(body);
    if (!m) continue;
    out.push({
      sent: m[1] === "sent",
      at: new Date(`${parts[i]}T${parts[i + 1].slice(0, 12)}`).getTime(),
      text: m[2].replace(/\r?\n/g, "\r\n"),
    });
  }
  return out;
}

/** The media line of an SDP body: connection address, port and payload types. */
function mediaOf(msg: string): { address: string; port: number; formats: string[] } {
  const body = msg.slice(msg.indexOf("\r\n\r\n") + 4);
  const c = /^c=IN IP[46] (\S+)/m.exec(body);
  const m = /^m=audio (\d+) RTP\/AVP ([\d ]+)/m.exec(body);
  assert.ok(c && m, `no c=/m= audio line in:\n${msg}`);
  return { address: c[1], port: Number(m[1]), formats: m[2].trim().split(/\s+/) };
}

const firstLine = (msg: string) => msg.slice(0, msg.indexOf("\r\n"));

function assertOk(name: string, res: SippResult, dir: string, err = ""): void {
  assert.ok(
    res.code === 0,
    `${name}: exit ${res.code}${res.timedOut ? " (outer timeout)" : ""}\n${
      res.stdout.slice(-1500)
    }\n${err.slice(-2000)}\n--- logs in ${dir}`,
  );
}

/** rtpengine's view of one call over time (ng "query" every 100 ms). */
interface Sample {
  at: number;
  stats: CallStats;
}

async function sampleRelay(
  ng: RtpengineClient,
  until: Promise<unknown>,
): Promise<{ callIds: Set<string>; samples: Sample[] }> {
  const callIds = new Set<string>();
  const samples: Sample[] = [];
  let done = false;
  until.finally(() => done = true);
  while (!done) {
    try {
      for (const id of await ng.list()) {
        callIds.add(id);
        samples.push({ at: Date.now(), stats: await ng.query(id) });
      }
    } catch {
      // the call went away between list and query
    }
    await sleep(100);
  }
  return { callIds, samples };
}

/** Packets rtpengine received from the party whose tag matches `re`. */
function packetsFrom(s: Sample, re: RegExp): number {
  return s.stats.tags.filter((t) => re.test(t.tag)).reduce((n, t) => n + t.rtp.packets, 0);
}

/** The SDP a raw caller offers: PCMU and PCMA on 127.0.0.1:`port`. */
function rawOffer(port: number): string {
  return [
    "v=0",
    `o=raw ${port} 1 IN IP4 127.0.0.1`,
    "s=-",
    "c=IN IP4 127.0.0.1",
    "t=0 0",
    `m=audio ${port} RTP/AVP 0 8`,
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "",
  ].join("\r\n");
}

/** What a raw call got: the INVITE's final status and, when answered, the answer's SDP. */
interface RawCall {
  callId: string;
  status: number;
  reason: string;
  answer?: string;
}

/**
 * One call from a bare UDP socket (RFC 3261 §17.1.1): INVITE with {@link rawOffer}, ACK for the
 * final answer (hop by hop for a failure, end to end for 2xx), and BYE right after a 2xx.
 */
async function rawCall(tandemPort: number, mediaPort: number): Promise<RawCall> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const me = `127.0.0.1:${(sock.addr as Deno.NetAddr).port}`;
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: tandemPort };
  const id = crypto.randomUUID().replaceAll("-", "");
  const callId = `${id}@raw`;
  const ruri = `sip:callee@127.0.0.1:${tandemPort}`;
  const head = (method: string, uri: string, branch: string, cseq: number, toHdr: string) => [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${me};branch=z9hG4bK${branch};rport`,
    "Max-Forwards: 70",
    `From: <sip:raw@${me}>;tag=${id.slice(0, 8)}`,
    `To: ${toHdr}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:raw@${me}>`,
  ];
  const send = (lines: string[], body = "") =>
    sock.send(
      enc.encode(
        [
          ...lines,
          ...(body ? ["Content-Type: application/sdp"] : []),
          `Content-Length: ${enc.encode(body).length}`,
          "",
          body,
        ].join("\r\n"),
      ),
      to,
    );
  const recv = async (ms: number): Promise<string | undefined> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const got = await Promise.race([
      sock.receive().then(([b]) => dec.decode(b)).catch(() => undefined),
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms)),
    ]);
    clearTimeout(timer);
    return got;
  };
  const header = (msg: string, name: string) =>
    new RegExp(`^${name}:\\s*(.*?)\\r?$`, "im").exec(msg)?.[1];
  try {
    const branch = id.slice(8, 20);
    const toHdr = `<${ruri}>`;
    await send(head("INVITE", ruri, branch, 1, toHdr), rawOffer(mediaPort));
    const deadline = Date.now() + 8000;
    let final: string | undefined;
    while (!final && Date.now() < deadline) {
      const m = await recv(deadline - Date.now());
      if (m && /^SIP\/2\.0 [2-6]\d\d/.test(m) && /CSeq:\s*1 INVITE/i.test(m)) final = m;
    }
    assert.ok(final, "no final answer to the raw INVITE within 8 s");
    const [, code, reason] = /^SIP\/2\.0 (\d{3}) ?([^\r\n]*)/.exec(final)!;
    const status = Number(code);
    const remoteTo = header(final, "To")!;
    if (status >= 300) {
      await send(head("ACK", ruri, branch, 1, remoteTo));
      return { callId, status, reason };
    }
    const contact = /<([^>]+)>/.exec(header(final, "Contact") ?? "")?.[1] ?? ruri;
    await send(head("ACK", contact, `${branch}a`, 1, remoteTo));
    const answer = final.slice(final.indexOf("\r\n\r\n") + 4);
    await send(head("BYE", contact, `${branch}b`, 2, remoteTo));
    while (Date.now() < deadline) {
      const m = await recv(deadline - Date.now());
      if (m && /^SIP\/2\.0 200/.test(m) && /CSeq:\s*2 BYE/i.test(m)) break;
    }
    return { callId, status, reason, answer };
  } finally {
    sock.close();
  }
}

/** SIPp's built-in callee for `calls` calls, logging every message to `<dir>/uas.msg`. */
async function startUas(
  port: number,
  calls: number,
  dir: string,
): Promise<{ done: Promise<SippResult>; media: number; messages(): Promise<Logged[]> }> {
  const media = freeMediaPort();
  const done = runSipp([
    "-sn",
    "uas",
    "-i",
    "127.0.0.1",
    "-p",
    String(port),
    "-mi",
    "127.0.0.1",
    "-mp",
    String(media),
    "-m",
    String(calls),
    "-timeout",
    "30s",
    "-trace_msg",
    "-message_file",
    `${dir}/uas.msg`,
  ], { timeoutMs: 40_000 });
  await waitFor(() => udpBound(port), 5000, { what: `callee SIPp on ${port}` });
  const messages = async () =>
    parseSippLog(await Deno.readTextFile(`${dir}/uas.msg`).catch(() => ""));
  return { done, media, messages };
}

/** Wait until Tandem logged `event` (JSON log lines) at least `count` times. */
async function logged(tandem: TandemProcess, event: string, count: number, ms: number) {
  await waitFor(
    async () => {
      const { stderr, stdout } = await tandem.logs();
      return (`${stdout}${stderr}`.match(new RegExp(`"event":"${event}"`, "g")) ?? []).length >=
        count;
    },
    ms,
    { what: `tandem log ${event} ×${count}`, intervalMs: 100 },
  );
}

Deno.test({
  name: "media: SIPp call through rtpengine — each side sees only relay ports, G729 masked, " +
    "RTP both ways across hold/unhold re-INVITEs, session deleted after BYE",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    assert.ok(Deno.statSync(PCAP).isFile, `${PCAP} is missing (sip-tester)`);
    const rte = await startRtpengine({ deleteDelay: 0 });
    const ng = new RtpengineClient("127.0.0.1", rte.ngPort, { timeout: 500, retries: 1 });
    const callee = freeUdpPort();
    const bed = await startBed({ ng: rte.ngPort, onFailure: "reject", callee });
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-media-" });
    try {
      const uacMedia = freeMediaPort();
      let uasMedia = freeMediaPort();
      while (uasMedia === uacMedia) uasMedia = freeMediaPort();
      const trace = (side: string) => [
        "-trace_msg",
        "-message_file",
        `${dir}/${side}.msg`,
        "-trace_err",
        "-error_file",
        `${dir}/${side}.err`,
      ];
      const uasRun = runSipp([
        "-sf",
        `${SCENARIOS}/uas-hold.xml`,
        "-i",
        "127.0.0.1",
        "-p",
        String(callee),
        "-mi",
        "127.0.0.1",
        "-mp",
        String(uasMedia),
        "-rtp_echo",
        "-m",
        "1",
        "-timeout",
        "20s",
        "-timeout_error",
        ...trace("uas"),
      ], { timeoutMs: 30_000 });
      await waitFor(() => udpBound(callee), 5000, { what: `callee SIPp on ${callee}` });
      const uacRun = runSipp([
        "-sf",
        `${SCENARIOS}/uac-hold.xml`,
        `127.0.0.1:${bed.sip}`,
        "-s",
        "callee",
        "-i",
        "127.0.0.1",
        "-p",
        String(freeUdpPort()),
        "-mi",
        "127.0.0.1",
        "-mp",
        String(uacMedia),
        "-m",
        "1",
        "-timeout",
        "20s",
        "-timeout_error",
        ...trace("uac"),
      ], { timeoutMs: 30_000 });
      const relay = await sampleRelay(ng, uacRun);
      const [uac, uas] = await Promise.all([uacRun, uasRun]);
      const read = (f: string) => Deno.readTextFile(`${dir}/${f}`).catch(() => "");
      assertOk("uac", uac, dir, await read("uac.err"));
      assertOk("uas", uas, dir, await read("uas.err"));
      const uacLog = parseSippLog(await read("uac.msg"));
      const uasLog = parseSippLog(await read("uas.msg"));

      // Signalling: what each side received names the relay, never the other side.
      const inRange = (p: number) => p >= rte.portMin && p <= rte.portMax;
      const invites = uasLog.filter((m) => !m.sent && firstLine(m.text).startsWith("INVITE "));
      assert.equal(invites.length, 3, "callee got INVITE, hold and unhold re-INVITEs");
      const toCallee = invites.map((m) => mediaOf(m.text));
      for (const [i, m] of toCallee.entries()) {
        assert.equal(m.address, "127.0.0.1");
        assert.ok(inRange(m.port), `INVITE ${i} to callee: port ${m.port} is not the relay's`);
        assert.notEqual(m.port, uacMedia, "callee never sees the caller's media port");
        assert.deepEqual(m.formats, ["0", "8"], "G729 (18) masked out of the offer");
        assert.doesNotMatch(invites[i].text, /G729/, "no G729 rtpmap left");
      }
      assert.equal(new Set(toCallee.map((m) => m.port)).size, 1, "same relay port throughout");
      assert.match(invites[1].text, /a=sendonly/, "hold reaches the callee");
      assert.match(invites[2].text, /a=sendrecv/, "unhold reaches the callee");

      const answers = uacLog.filter((m) =>
        !m.sent && firstLine(m.text).startsWith("SIP/2.0 200") && /CSeq: \d+ INVITE/.test(m.text)
      );
      assert.ok(answers.length >= 3, `caller got 3 answers, saw ${answers.length}`);
      const toCaller = answers.map((m) => mediaOf(m.text));
      for (const m of toCaller) {
        assert.equal(m.address, "127.0.0.1");
        assert.ok(inRange(m.port), `answer to caller: port ${m.port} is not the relay's`);
        assert.notEqual(m.port, uasMedia, "caller never sees the callee's media port");
        assert.notEqual(m.port, toCallee[0].port);
      }
      assert.equal(new Set(toCaller.map((m) => m.port)).size, 1, "same relay port throughout");

      // Media: rtpengine received the caller's pcap and the callee's echo of it (which the callee
      // can only echo if the relay delivered it), before the hold and after the unhold.
      assert.equal(relay.callIds.size, 1, `one relayed call: ${[...relay.callIds]}`);
      const [callId] = relay.callIds;
      const caller = /SIPpTag00/, calleeTag = /SIPpTag01/;
      const last = relay.samples[relay.samples.length - 1];
      assert.ok(packetsFrom(last, caller) > 20, `caller → relay: ${JSON.stringify(last.stats)}`);
      assert.ok(packetsFrom(last, calleeTag) > 20, `callee echo → relay: ${JSON.stringify(last)}`);
      const unholdAck = uacLog.filter((m) => m.sent && /^ACK /.test(m.text))[2];
      assert.ok(unholdAck, "caller ACKed the unhold");
      const atUnhold = relay.samples.filter((s) => s.at <= unholdAck.at).pop()!;
      assert.ok(
        packetsFrom(last, calleeTag) > packetsFrom(atUnhold, calleeTag) + 10,
        `media still flows through the relay after unhold: ${packetsFrom(atUnhold, calleeTag)} → ${
          packetsFrom(last, calleeTag)
        }`,
      );

      // After the BYE the relay holds nothing for the call.
      await waitFor(async () => !(await ng.list()).includes(callId), 3000, {
        what: "session deleted on rtpengine",
      });
      await assert.rejects(ng.query(callId), /Unknown call-id|not found/i);
      await Deno.remove(dir, { recursive: true });
    } catch (e) {
      const logs = await bed.tandem.logs();
      console.error(
        `--- tandem log tail:\n${(logs.stdout + logs.stderr).slice(-4000)}\n--- ${dir}`,
      );
      throw e;
    } finally {
      await ng.close();
      await bed.tandem.stop();
      await rte.stop();
    }
  },
});

/** What one SIPp pair through Tandem and rtpengine saw; see {@link relayedPair}. */
interface RelayedPair {
  uac: Logged[];
  uas: Logged[];
  uacMedia: number;
  uasMedia: number;
  /** Whether a port is one of the relay's. */
  relayed(port: number): boolean;
}

/**
 * One call from a SIPp caller (`uac`: scenario arguments) to a SIPp callee (`uas`) through Tandem
 * with media on a fresh rtpengine; both must pass, and the relay must hold no session after.
 * `check` reads both message logs.
 */
async function relayedPair(
  uac: string[],
  uas: string[],
  check: (p: RelayedPair) => void,
  record?: { after: (dir: string, p: RelayedPair) => Promise<void> },
): Promise<void> {
  assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
  const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-media-pair-" });
  // Recording: rtpengine writes pcaps and metadata under dir/rec, Tandem its CDRs under dir.
  const rte = await startRtpengine({
    deleteDelay: 0,
    ...(record ? { recordingDir: `${dir}/rec` } : {}),
  });
  const ng = new RtpengineClient("127.0.0.1", rte.ngPort, { timeout: 500, retries: 1 });
  const callee = freeUdpPort();
  const bed = await startBed({
    ng: rte.ngPort,
    onFailure: "reject",
    callee,
    ...(record ? { record: true, cdrDir: dir } : {}),
  });
  try {
    const uacMedia = freeMediaPort();
    let uasMedia = freeMediaPort();
    while (uasMedia === uacMedia) uasMedia = freeMediaPort();
    const side = (name: string, port: number, media: number) => [
      "-i",
      "127.0.0.1",
      "-p",
      String(port),
      "-mi",
      "127.0.0.1",
      "-mp",
      String(media),
      "-m",
      "1",
      "-timeout",
      "20s",
      "-timeout_error",
      "-trace_msg",
      "-message_file",
      `${dir}/${name}.msg`,
      "-trace_err",
      "-error_file",
      `${dir}/${name}.err`,
    ];
    const uasRun = runSipp([...uas, ...side("uas", callee, uasMedia)], { timeoutMs: 30_000 });
    await waitFor(() => udpBound(callee), 5000, { what: `callee SIPp on ${callee}` });
    const uacRes = await runSipp([
      ...uac,
      `127.0.0.1:${bed.sip}`,
      "-s",
      "callee",
      ...side("uac", freeUdpPort(), uacMedia),
    ], { timeoutMs: 30_000 });
    const uasRes = await uasRun;
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`).catch(() => "");
    assertOk("uac", uacRes, dir, await read("uac.err"));
    assertOk("uas", uasRes, dir, await read("uas.err"));
    const pair: RelayedPair = {
      uac: parseSippLog(await read("uac.msg")),
      uas: parseSippLog(await read("uas.msg")),
      uacMedia,
      uasMedia,
      relayed: (p) => p >= rte.portMin && p <= rte.portMax,
    };
    check(pair);
    await waitFor(async () => (await ng.list()).length === 0, 3000, {
      what: "session deleted on rtpengine",
    });
    await record?.after(dir, pair);
    await Deno.remove(dir, { recursive: true });
  } catch (e) {
    const logs = await bed.tandem.logs();
    console.error(`--- tandem log tail:\n${(logs.stdout + logs.stderr).slice(-4000)}\n--- ${dir}`);
    throw e;
  } finally {
    await ng.close();
    await bed.tandem.stop();
    await rte.stop();
  }
}

/** Received messages whose first line starts with `start` (and whose text matches `re`). */
const received = (log: Logged[], start: string, re?: RegExp) =>
  log.filter((m) => !m.sent && firstLine(m.text).startsWith(start) && (!re || re.test(m.text)));

const CALL_SCENARIOS = `${repoRoot}/tests/e2e/scenarios`;

Deno.test({
  name: "media: a rule with record — rtpengine writes the call's RTP, both ways, to a pcap named " +
    "by the caller's Call-ID with Tandem's metadata beside it, and the CDR says recorded",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    relayedPair(
      ["-sf", `${SCENARIOS}/uac-hold.xml`],
      ["-sf", `${SCENARIOS}/uas-hold.xml`, "-rtp_echo"],
      () => {},
      {
        after: async (dir, p) => {
          const invite = p.uac.find((m) => m.sent && firstLine(m.text).startsWith("INVITE "))!;
          const callId = /^Call-ID:\s*(\S+)/im.exec(invite.text)![1];
          const pcaps = await waitFor(
            () => {
              const names = [...Deno.readDirSync(`${dir}/rec/pcaps`)].map((e) => e.name);
              return names.length ? names : undefined;
            },
            5000,
            { what: "a pcap in rtpengine's recording directory" },
          );
          assert.equal(pcaps.length, 1, `one recording: ${pcaps}`);
          // rtpengine escapes the Call-ID as a URL component (@ is %40).
          assert.ok(
            pcaps[0].startsWith(`${encodeURIComponent(callId)}-`),
            `${pcaps[0]} is named by ${callId}`,
          );
          // The pcap (raw IPv4 frames, rtpengine's default format): RTP one way from the caller's
          // pcap, and its echo the other way.
          const pcap = await Deno.readFile(`${dir}/rec/pcaps/${pcaps[0]}`);
          const flows = new Map<string, number>();
          const v = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
          for (let at = 24; at + 16 <= pcap.length;) {
            const len = v.getUint32(at + 8, true);
            const ip = at + 16;
            const ihl = (pcap[ip] & 0x0f) * 4;
            const flow = `${v.getUint16(ip + ihl)}>${v.getUint16(ip + ihl + 2)}`;
            flows.set(flow, (flows.get(flow) ?? 0) + 1);
            at = ip + len;
          }
          const counts = [...flows.values()].sort((a, b) => b - a);
          assert.ok(counts.length >= 2 && counts[1] > 25, `flows ${JSON.stringify([...flows])}`);
          const meta = [...Deno.readDirSync(`${dir}/rec/metadata`)].map((e) =>
            Deno.readTextFileSync(`${dir}/rec/metadata/${e.name}`)
          ).join("\n");
          assert.match(meta, /tandem_call:[0-9a-z]+\|rule:callee/);
          const cdr = await waitFor(
            () => {
              // The file sink rotates daily: cdr-YYYY-MM-DD.jsonl.
              const text = [...Deno.readDirSync(dir)]
                .filter((e) => /^cdr.*\.jsonl$/.test(e.name))
                .map((e) => Deno.readTextFileSync(`${dir}/${e.name}`)).join("\n");
              const line = text.split("\n").find((l) => l.includes(callId));
              return line ? JSON.parse(line) : undefined;
            },
            5000,
            { what: "the call's CDR" },
          );
          assert.equal(cdr.recorded, true);
        },
      },
    ),
});

Deno.test({
  name: "media: a delayed offer through rtpengine, in the INVITE and in a re-INVITE — the " +
    "callee's 2xx offers reach the caller and the caller's ACK answers reach the callee, each " +
    "on relay ports",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    relayedPair(
      ["-sf", `${CALL_SCENARIOS}/delayed-uac.xml`],
      ["-sf", `${CALL_SCENARIOS}/delayed-uas.xml`],
      (p) => {
        // The INVITE's and the offerless re-INVITE's: 200s offer to the caller, ACKs answer the
        // callee, each on relay ports only.
        const offers = received(p.uac, "SIP/2.0 200", /CSeq: \d+ INVITE/).map((m) =>
          mediaOf(m.text)
        );
        const answers = received(p.uas, "ACK ").map((m) => mediaOf(m.text));
        assert.ok(offers.length >= 2, `the caller got ${offers.length} 200s to its INVITEs`);
        assert.equal(answers.length, 2, "the callee got two ACKs");
        for (const o of offers) {
          assert.ok(p.relayed(o.port), `offer to the caller: port ${o.port} is not the relay's`);
          assert.notEqual(o.port, p.uasMedia, "the caller never sees the callee's media port");
        }
        for (const a of answers) {
          assert.ok(p.relayed(a.port), `answer to the callee: port ${a.port} is not the relay's`);
          assert.notEqual(a.port, p.uacMedia, "the callee never sees the caller's media port");
          assert.notEqual(a.port, offers[0].port);
        }
      },
    ),
});

Deno.test({
  name: "media: a delayed offer with reliable early media (RFC 3262) through rtpengine — the " +
    "callee's reliable 183 offers to the caller and the caller's PRACK answers the callee, each " +
    "on relay ports",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    relayedPair(
      ["-sf", `${SCENARIOS}/prack-late-uac.xml`],
      ["-sf", `${SCENARIOS}/prack-late-uas.xml`],
      (p) => {
        const offer = received(p.uac, "SIP/2.0 183")[0];
        assert.ok(offer, "the caller got the 183");
        assert.match(offer.text, /^Require: 100rel\r$/m, "reliable towards the caller");
        const o = mediaOf(offer.text);
        assert.ok(p.relayed(o.port), `offer to the caller: port ${o.port} is not the relay's`);
        assert.notEqual(o.port, p.uasMedia, "the caller never sees the callee's media port");
        const prack = received(p.uas, "PRACK ")[0];
        assert.ok(prack, "the callee got the PRACK");
        const a = mediaOf(prack.text);
        assert.ok(p.relayed(a.port), `answer to the callee: port ${a.port} is not the relay's`);
        assert.notEqual(a.port, p.uacMedia, "the callee never sees the caller's media port");
      },
    ),
});

Deno.test({
  name: "media: a SIP-I body (multipart/mixed, SDP and ISUP) through rtpengine — the relay " +
    "rewrites the SDP part only, the ISUP part arrives byte for byte",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    relayedPair(["-sf", `${SCENARIOS}/sipi-uac.xml`], ["-sn", "uas"], (p) => {
      const sent = p.uac.find((m) => m.sent && firstLine(m.text).startsWith("INVITE "))!;
      const got = received(p.uas, "INVITE ")[0];
      assert.ok(got, "the callee got the INVITE");
      assert.match(got.text, /^Content-Type: multipart\/mixed;boundary=sipi-e2e-boundary\r$/m);
      const o = mediaOf(got.text);
      assert.ok(p.relayed(o.port), `the callee's offer: port ${o.port} is not the relay's`);
      assert.notEqual(o.port, p.uacMedia, "the callee never sees the caller's media port");
      const isup = (t: string) =>
        t.slice(t.indexOf("--sipi-e2e-boundary\r\nContent-Type: application/ISUP"));
      assert.ok(isup(got.text).includes("ISUP-IAM-e2e 0100200d0a2d2d0a0302"), got.text);
      assert.equal(isup(got.text), isup(sent.text), "the ISUP part and the closing delimiter");
      // Content-Length grew or shrank by exactly what the relay did to the SDP part.
      const sdpLen = (t: string) => {
        const from = t.indexOf("application/sdp\r\n\r\n") + 19;
        return t.indexOf("\r\n--sipi-e2e-boundary\r\n", from) - from;
      };
      const cl = (t: string) => Number(/^Content-Length: *(\d+)/m.exec(t)?.[1]);
      assert.equal(cl(got.text) - cl(sent.text), sdpLen(got.text) - sdpLen(sent.text));
      const answer = received(p.uac, "SIP/2.0 200", /CSeq: \d+ INVITE/)[0];
      assert.ok(answer, "the caller got the 200");
      assert.ok(p.relayed(mediaOf(answer.text).port), "the caller's answer names the relay");
    }),
});

Deno.test({
  name: "media: relay down with on_failure reject → 503 to the caller; relay back → calls are " +
    "relayed again",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    let rte: RtpengineProcess = await startRtpengine({ deleteDelay: 0 });
    const ngPort = rte.ngPort;
    const callee = freeUdpPort();
    const bed = await startBed({ ng: ngPort, onFailure: "reject", callee });
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-media-" });
    try {
      await rte.stop();
      // First call: the relay stays silent (timeout × retries), then the pool marks it dead.
      const first = await rawCall(bed.sip, 28990);
      assert.equal(first.status, 503, `relay down: ${first.status} ${first.reason}`);
      // Second call: no live relay, 503 at once.
      const t0 = Date.now();
      const second = await rawCall(bed.sip, 28990);
      assert.equal(second.status, 503);
      // Trying the relay would cost two 200 ms timeouts (retries: 1) before the answer.
      assert.ok(Date.now() - t0 < 390, `no relay to try: answered in ${Date.now() - t0} ms`);

      rte = await startRtpengine({ deleteDelay: 0, ngPort });
      const uas = await startUas(callee, 1, dir);
      await logged(bed.tandem, "media.relay_up", 1, 8000); // the 5 s health probe
      const third = await rawCall(bed.sip, 28990);
      assert.equal(third.status, 200, `relay back: ${third.status} ${third.reason}`);
      const toCaller = mediaOf(`\r\n\r\n${third.answer}`);
      assert.ok(toCaller.port >= rte.portMin && toCaller.port <= rte.portMax, third.answer);
      assertOk("uas", await uas.done, dir);
      const [invite] = (await uas.messages()).filter((m) => /^INVITE /.test(m.text));
      const toCallee = mediaOf(invite.text);
      assert.ok(toCallee.port >= rte.portMin && toCallee.port <= rte.portMax, invite.text);
      assert.notEqual(toCallee.port, 28990);
      await Deno.remove(dir, { recursive: true });
    } catch (e) {
      const logs = await bed.tandem.logs();
      console.error(
        `--- tandem log tail:\n${(logs.stdout + logs.stderr).slice(-4000)}\n--- ${dir}`,
      );
      throw e;
    } finally {
      await bed.tandem.stop();
      await rte.stop();
    }
  },
});

Deno.test({
  name: "media: relay down with on_failure pass → the callee gets the caller's SDP unchanged; " +
    "relay up → relayed",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const ngPort = freeUdpPort();
    const callee = freeUdpPort();
    const bed = await startBed({ ng: ngPort, onFailure: "pass", callee });
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-media-" });
    let rte: RtpengineProcess | undefined;
    try {
      const uas = await startUas(callee, 2, dir);
      const passed = await rawCall(bed.sip, 28992);
      assert.equal(passed.status, 200, `pass: ${passed.status} ${passed.reason}`);
      assert.equal(mediaOf(`\r\n\r\n${passed.answer}`).port, uas.media, "callee's own answer");

      rte = await startRtpengine({ deleteDelay: 0, ngPort });
      await logged(bed.tandem, "media.relay_up", 1, 8000);
      const relayed = await rawCall(bed.sip, 28992);
      assert.equal(relayed.status, 200);
      const toCaller = mediaOf(`\r\n\r\n${relayed.answer}`);
      assert.ok(toCaller.port >= rte.portMin && toCaller.port <= rte.portMax, relayed.answer);

      assertOk("uas", await uas.done, dir);
      const invites = (await uas.messages()).filter((m) => /^INVITE /.test(m.text));
      assert.equal(invites.length, 2);
      // The log adds a blank line after each message: the body is Content-Length bytes.
      const body = (m: Logged) => {
        const len = Number(/^Content-Length:\s*(\d+)/im.exec(m.text)?.[1]);
        return m.text.slice(m.text.indexOf("\r\n\r\n") + 4).slice(0, len);
      };
      assert.equal(body(invites[0]), rawOffer(28992), "relay down: offer passed byte for byte");
      const viaRelay = mediaOf(invites[1].text);
      assert.ok(viaRelay.port >= rte.portMin && viaRelay.port <= rte.portMax, invites[1].text);
      await Deno.remove(dir, { recursive: true });
    } catch (e) {
      const logs = await bed.tandem.logs();
      console.error(
        `--- tandem log tail:\n${(logs.stdout + logs.stderr).slice(-4000)}\n--- ${dir}`,
      );
      throw e;
    } finally {
      await bed.tandem.stop();
      await rte?.stop();
    }
  },
});

/** Samples and RMS level of a 16-bit PCM WAV file (walks the RIFF chunks to "data"). */
function wavLevel(bytes: Uint8Array): { samples: number; rms: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  let at = 12;
  while (at + 8 <= bytes.length && tag(at) !== "data") at += 8 + v.getUint32(at + 4, true);
  if (at + 8 > bytes.length) return { samples: 0, rms: 0 };
  const end = Math.min(bytes.length, at + 8 + v.getUint32(at + 4, true));
  let sum = 0, n = 0;
  for (let i = at + 8; i + 1 < end; i += 2, n++) sum += v.getInt16(i, true) ** 2;
  return { samples: n, rms: n ? Math.sqrt(sum / n) : 0 };
}

Deno.test({
  name: "media: two headless baresip softphones call through Tandem and rtpengine; each " +
    "receives the other's tone from relay ports; the CDR shows the call",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(which("baresip"), "baresip is missing: apt-get install baresip-core");
    const rte = await startRtpengine({ deleteDelay: 0 });
    const ng = new RtpengineClient("127.0.0.1", rte.ngPort, { timeout: 500, retries: 1 });
    const root = await Deno.makeTempDir({ prefix: "tandem-e2e-baresip-" });
    const alicePort = freeUdpPort(), bobPort = freeUdpPort();
    const bed = await startBed({
      ng: rte.ngPort,
      onFailure: "reject",
      callee: freeUdpPort(),
      bob: bobPort,
      cdrDir: root,
    });
    const wav = `${root}/tone.wav`;
    await Deno.writeFile(wav, toneWav(2));
    const rtpBase = 28000 + 80 * Math.floor(Math.random() * 12);
    const aliceDir = await baresipDir(root, "alice", alicePort, rtpBase, wav);
    const bobDir = await baresipDir(root, "bob", bobPort, rtpBase + 40, wav);
    const bob = runBaresip(bobDir, ["-t", "15"]);
    let alice: ReturnType<typeof runBaresip> | undefined;
    const stop = async (p?: ReturnType<typeof runBaresip>) => {
      if (!p) return;
      try {
        p.child.kill("SIGKILL");
      } catch { /* exited */ }
      await p.child.status;
    };
    try {
      await waitFor(() => /baresip is ready/.test(bob.log()), 5000, { what: "bob ready" });
      alice = runBaresip(aliceDir, ["-t", "15", "-e", `/dial sip:bob@127.0.0.1:${bed.sip}`]);
      const ended = waitFor(
        () => /terminated \(duration/.test(alice!.log()) && /terminated \(duration/.test(bob.log()),
        12_000,
        { what: "call ended on both phones" },
      );
      const relay = await sampleRelay(ng, ended);
      await ended;

      // Both phones got RTP from a relay port, and both sent RTP to the relay.
      const inRange = (p: number) => p >= rte.portMin && p <= rte.portMax;
      for (const [who, p] of [["alice", alice], ["bob", bob]] as const) {
        const m = /receiving from 127\.0\.0\.1:(\d+)/.exec(p.log());
        assert.ok(m && inRange(Number(m[1])), `${who} receives RTP from the relay:\n${p.log()}`);
      }
      assert.equal(relay.callIds.size, 1, "one relayed call");
      const [callId] = relay.callIds;
      const last = relay.samples[relay.samples.length - 1];
      assert.equal(last.stats.tags.length, 2, JSON.stringify(last.stats));
      for (const t of last.stats.tags) {
        assert.ok(t.rtp.packets > 25, `relay received from ${t.tag}: ${t.rtp.packets} packets`);
      }
      // What each phone decoded is the other's tone, not silence.
      for (const who of ["alice", "bob"]) {
        const files = [...Deno.readDirSync(`${root}/${who}/dump`)].map((e) => e.name);
        const decName = files.find((f) => f.endsWith("-dec.wav"));
        assert.ok(decName, `${who} dumped received audio: ${files}`);
        const level = wavLevel(await Deno.readFile(`${root}/${who}/dump/${decName}`));
        assert.ok(level.samples > 8000, `${who} received ${level.samples} samples (> 1 s)`);
        assert.ok(level.rms > 3000, `${who} received a tone, RMS ${level.rms.toFixed(0)}`);
      }
      await waitFor(async () => !(await ng.list()).includes(callId), 3000, {
        what: "session deleted on rtpengine",
      });

      // The CDR of the call.
      const cdr = await waitFor(
        async () => {
          // Daily rotation names the file by the disconnect date: cdr-YYYY-MM-DD.jsonl.
          const file = [...Deno.readDirSync(root)].find((e) => /^cdr.*\.jsonl$/.test(e.name));
          if (!file) return undefined;
          const text = await Deno.readTextFile(`${root}/${file.name}`);
          return text.split("\n").filter(Boolean).map((l) => JSON.parse(l))
            .find((r) => r.callIdIn === callId);
        },
        5000,
        { what: `CDR for ${callId}` },
      );
      assert.equal(cdr.route, "bob");
      assert.equal(cdr.finalCode, 200);
      assert.equal(cdr.endReason, "bye");
      assert.ok(cdr.billableMs >= 1000, `billable ${cdr.billableMs} ms: ${JSON.stringify(cdr)}`);
      // The relay's counters, read when the session was deleted, are in the CDR.
      assert.ok(
        cdr.media?.packetsIn > 25,
        `caller packets in the CDR: ${JSON.stringify(cdr.media)}`,
      );
      assert.ok(
        cdr.media?.packetsOut > 25,
        `callee packets in the CDR: ${JSON.stringify(cdr.media)}`,
      );
      await Deno.remove(root, { recursive: true });
    } catch (e) {
      const logs = await bed.tandem.logs();
      console.error(
        `--- alice:\n${alice?.log().slice(-3000)}\n--- bob:\n${bob.log().slice(-3000)}\n` +
          `--- tandem log tail:\n${(logs.stdout + logs.stderr).slice(-4000)}\n--- ${root}`,
      );
      throw e;
    } finally {
      await stop(alice);
      await stop(bob);
      await ng.close();
      await bed.tandem.stop();
      await rte.stop();
    }
  },
});

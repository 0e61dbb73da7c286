// Issue "foundation", end to end: a running Tandem answers OPTIONS and a routeless INVITE over
// UDP and TCP, IPv4 and IPv6, with SIPp as the peer (RFC 3261 §11, §17.2.1 Timer G over UDP,
// no retransmission over TCP); survives every RFC 4475 torture message over UDP and TCP without
// forwarding any of them; answers a request with a malformed header 400 naming the header
// (§21.4.1, STYLE §5).

import assert from "node:assert/strict";
import {
  freePort,
  freeUdpPort,
  parseReply,
  recvWithin,
  repoRoot,
  runSipp,
  sendUdp,
  sipOptions,
  sippAvailable,
  sleep,
  startTandem,
  type TandemProcess,
} from "./harness.ts";

const SCENARIOS = `${repoRoot}/tests/e2e/scenarios`;
const TORTURE = `${repoRoot}/../shared/torture`;
const dec = new TextDecoder();
const enc = new TextEncoder();

/** Config: SIP on 127.0.0.1 and [::1] (UDP+TCP), HTTP on loopback, `rules` as given. */
function configText(sip: number, http: number, rules = "rules: []"): string {
  return `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp, tcp] }
    - { address: "::1", port: ${sip}, transports: [udp, tcp] }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
${rules}
`;
}

/** Run one SIPp UAC scenario against Tandem; fail with SIPp's error log and Tandem's tail. */
async function sippUac(
  tandem: TandemProcess,
  xml: string,
  target: string,
  local: string,
  transport: "udp" | "tcp",
  extra: string[] = [],
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-sipp-" });
  const port = transport === "udp" ? freeUdpPort(local) : freePort(local);
  const res = await runSipp([
    "-sf",
    `${SCENARIOS}/${xml}`,
    target,
    "-i",
    local,
    "-p",
    String(port),
    "-t",
    transport === "udp" ? "u1" : "t1",
    "-m",
    "1",
    "-timeout",
    "10s",
    "-timeout_error",
    "-trace_err",
    "-error_file",
    `${dir}/err.log`,
    "-trace_logs",
    "-log_file",
    `${dir}/log.log`,
    "-trace_msg",
    "-message_file",
    `${dir}/msg.log`,
    ...extra,
  ], { timeoutMs: 20_000 });
  const err = await Deno.readTextFile(`${dir}/err.log`).catch(() => "");
  const log = await Deno.readTextFile(`${dir}/log.log`).catch(() => "");
  if (res.code !== 0 || err.includes("CHECK FAILED")) {
    const msgs = await Deno.readTextFile(`${dir}/msg.log`).catch(() => "");
    const t = await tandem.logs();
    assert.fail(
      `${xml} over ${transport} to ${target}: sipp exit ${res.code}${
        res.timedOut ? " (killed by the outer timeout)" : ""
      }\n--- sipp errors:\n${err.slice(-3000)}\n--- messages:\n${msgs.slice(-4000)}` +
        `\n--- tandem stderr:\n${t.stderr.slice(-2000)}\n--- tandem stdout:\n${
          t.stdout.slice(-2000)
        }`,
    );
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  return log;
}

Deno.test({
  name: "foundation: OPTIONS gets 200 and a routeless INVITE gets 404 (Timer G over UDP, " +
    "none over TCP), over UDP and TCP, IPv4 and IPv6",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const sip = freePort();
    const http = freePort();
    await using tandem = await startTandem({ config: configText(sip, http) });
    const cases: [string, string, "udp" | "tcp"][] = [
      ["127.0.0.1", `127.0.0.1:${sip}`, "udp"],
      ["127.0.0.1", `127.0.0.1:${sip}`, "tcp"],
      ["::1", `[::1]:${sip}`, "udp"],
      ["::1", `[::1]:${sip}`, "tcp"],
    ];
    // All eight SIPp runs at once: they use their own ports and the INVITE runs spend most of
    // their time waiting (Timer G, then the quiet period after the ACK).
    await Promise.all(cases.flatMap(([local, target, transport]) => [
      sippUac(tandem, "options.xml", target, local, transport),
      // -nr: without it SIPp takes the identical second 404 for a duplicate and drops it.
      sippUac(tandem, `invite-404-${transport}.xml`, target, local, transport, ["-nr"]).then(
        (log) => {
          if (transport === "udp") {
            assert.match(log, /timer-g-ms \d+/, `the Timer G gap was logged (${target})`);
          }
        },
      ),
    ]));
    assert.equal(tandem.exitStatus(), null, "tandem is still running");
  },
});

/** Every `*.dat` under ../shared/torture, sorted by path. */
function tortureFiles(): string[] {
  const out: string[] = [];
  for (const d of Deno.readDirSync(TORTURE)) {
    if (!d.isDirectory) continue;
    for (const f of Deno.readDirSync(`${TORTURE}/${d.name}`)) {
      if (f.isFile && f.name.endsWith(".dat")) out.push(`${d.name}/${f.name}`);
    }
  }
  return out.sort();
}

/**
 * Send `bytes` on a fresh TCP connection, half-wait for answers, and return what came back
 * (empty string when nothing did) and whether Tandem closed the connection.
 */
async function tcpExchange(
  port: number,
  bytes: Uint8Array,
  waitMs: number,
): Promise<{ reply: string; closed: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let reply = "";
  let closed = false;
  try {
    await conn.write(bytes);
    const deadline = Date.now() + waitMs;
    const buf = new Uint8Array(65536);
    while (Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        conn.read(buf).catch(() => null),
        new Promise<"timeout">((r) =>
          timer = setTimeout(() => r("timeout"), deadline - Date.now())
        ),
      ]);
      clearTimeout(timer);
      if (n === "timeout") break;
      if (n === null) {
        closed = true;
        break;
      }
      reply += dec.decode(buf.subarray(0, n));
    }
  } finally {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
  return { reply, closed };
}

/** Status lines of the responses in a TCP byte stream. */
function statusLines(stream: string): string[] {
  return [...stream.matchAll(/^SIP\/2\.0 (\d{3}[^\r\n]*)/gm)].map((m) => m[1]);
}

Deno.test({
  name: "foundation: every RFC 4475 torture message over UDP and TCP leaves Tandem alive, " +
    "answering OPTIONS, and forwarding nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sip = freePort();
    const http = freePort();
    // The route's target is a UDP socket this test holds. The rule matches only the user prefix
    // "e2e-sentinel", which no torture message dials, so any datagram reaching the socket is a
    // torture message (or a piece of one) that Tandem forwarded. A final INVITE to that prefix
    // proves the route is live, so "nothing arrived" is not an artefact of a dead route.
    const sentinel = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const sentinelPort = (sentinel.addr as Deno.NetAddr).port;
    const received: string[] = [];
    const receiving = (async () => {
      try {
        while (true) {
          const [data] = await sentinel.receive();
          received.push(dec.decode(data));
        }
      } catch {
        // closed
      }
    })();
    const rules = `rules:
  - name: sentinel
    match: { ruri_user_prefix: [e2e-sentinel] }
    routes:
      - { name: sentinel, target: "127.0.0.1:${sentinelPort}", timers: { no_progress: 0 } }
`;
    try {
      await using tandem = await startTandem({ config: configText(sip, http, rules) });
      const files = tortureFiles();
      assert.ok(files.length >= 49, `found ${files.length} torture messages in ${TORTURE}`);
      const table: string[] = [];
      for (const f of files) {
        const bytes = await Deno.readFile(`${TORTURE}/${f}`);
        // UDP: one datagram per file. Most Vias name hosts elsewhere (192.0.2.x, example.com),
        // so answers rarely come back here; what matters is what Tandem does not do.
        const udp = await sendUdp("127.0.0.1", sip, bytes, 50);
        // TCP: one connection per file. clerr (Content-Length beyond the bytes sent) leaves the
        // framer waiting; ncl (negative) and mcl01 (two values) lose the framing: Tandem may
        // close. Either way the answer, if any, comes back on this connection (§18.2.2).
        const tcp = await tcpExchange(sip, bytes, 250);
        table.push(
          `${f.padEnd(26)} udp: ${udp ? parseReplySafe(udp) : "(no answer here)"}; tcp: ${
            statusLines(tcp.reply).join(" | ") || "(none)"
          }${tcp.closed ? " [closed by tandem]" : ""}`,
        );
        assert.equal(tandem.exitStatus(), null, `tandem died after ${f}:\n${table.join("\n")}`);
      }
      console.log(`torture answers:\n${table.join("\n")}`);

      // Still serving, on both transports.
      for (const t of ["udp", "tcp"] as const) {
        const r = await sipOptions("127.0.0.1", sip, t, 3000);
        assert.equal(r.status, 200, `OPTIONS over ${t} after the torture run: ${r.raw}`);
      }
      const health = await fetch(`http://127.0.0.1:${http}/health`);
      assert.equal(health.status, 200, await health.text());
      assert.equal(tandem.exitStatus(), null, "tandem is alive");
      await sleep(300); // anything forwarded late lands by now
      assert.deepEqual(
        received.map((m) => m.split("\r\n")[0]),
        [],
        "Tandem forwarded torture message(s) to the route's target",
      );

      // Positive control: an INVITE that matches the rule does reach the socket.
      const invite = buildInvite("e2e-sentinel-1", sip);
      await sendUdp("127.0.0.1", sip, invite, 200);
      await waitForReceived(received, 3000);
      assert.match(received[0], /^INVITE sip:e2e-sentinel-1@127\.0\.0\.1:\d+/);
    } finally {
      sentinel.close();
      await receiving;
    }
  },
});

function parseReplySafe(b: Uint8Array): string {
  try {
    const r = parseReply(dec.decode(b));
    return `${r.status} ${r.reason}`;
  } catch {
    return "(not a response)";
  }
}

async function waitForReceived(received: string[], ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (received.length === 0 && Date.now() < end) await sleep(50);
  assert.ok(received.length > 0, "the positive-control INVITE never reached the route's target");
}

/** A minimal INVITE from an ephemeral port (the reply goes to the Via's rport). */
function buildInvite(user: string, port: number, extra: string[] = []): string {
  const rnd = crypto.randomUUID().replaceAll("-", "");
  return [
    `INVITE sip:${user}@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK${rnd.slice(0, 12)};rport`,
    "Max-Forwards: 70",
    `From: <sip:e2e@127.0.0.1>;tag=${rnd.slice(12, 20)}`,
    `To: <sip:${user}@127.0.0.1:${port}>`,
    `Call-ID: ${rnd}@e2e`,
    "CSeq: 1 INVITE",
    "Contact: <sip:e2e@127.0.0.1:9>",
    ...extra,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

/** An OPTIONS whose Via points at `local` (so the answer comes back), with `bad` spliced in. */
function optionsWith(port: number, local: number, replace: [RegExp, string]): string {
  const rnd = crypto.randomUUID().replaceAll("-", "");
  const msg = [
    `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${rnd.slice(0, 12)}`,
    "Max-Forwards: 70",
    `From: <sip:e2e@127.0.0.1>;tag=${rnd.slice(12, 20)}`,
    `To: <sip:127.0.0.1:${port}>`,
    `Call-ID: ${rnd}@e2e`,
    "CSeq: 1 OPTIONS",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
  return msg.replace(replace[0], replace[1]);
}

/** Send one datagram from a bound socket and wait for the first final answer. */
async function udpRequest(port: number, build: (local: number) => string): Promise<string> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const local = (sock.addr as Deno.NetAddr).port;
    await sock.send(enc.encode(build(local)), { transport: "udp", hostname: "127.0.0.1", port });
    const end = Date.now() + 3000;
    while (Date.now() < end) {
      const got = await recvWithin(sock, end - Date.now());
      if (!got) break;
      const text = dec.decode(got[0]);
      if (!/^SIP\/2\.0 1\d\d/.test(text)) return text;
    }
    throw new Error("no final answer within 3 s");
  } finally {
    sock.close();
  }
}

Deno.test({
  name: "foundation: a request with a malformed header gets 400 whose reason phrase names it " +
    "(RFC 3261 §21.4.1)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sip = freePort();
    const http = freePort();
    await using tandem = await startTandem({ config: configText(sip, http) });
    const cases: { header: string; replace: [RegExp, string] }[] = [
      { header: "CSeq", replace: [/^CSeq: .*$/m, "CSeq: one OPTIONS"] },
      { header: "Max-Forwards", replace: [/^Max-Forwards: .*$/m, "Max-Forwards: seventy"] },
      { header: "From", replace: [/^From: .*$/m, "From: <sip:e2e@127.0.0.1;tag=x"] },
    ];
    const problems: string[] = [];
    for (const c of cases) {
      const raw = await udpRequest(sip, (local) => optionsWith(sip, local, c.replace));
      const r = parseReply(raw);
      if (r.status !== 400 || !r.reason.toLowerCase().includes(c.header.toLowerCase())) {
        problems.push(`bad ${c.header}: got "${r.status} ${r.reason}"`);
      }
    }
    assert.equal(tandem.exitStatus(), null, "tandem is alive");
    assert.deepEqual(problems, [], "each answer is 400 with the header named in the reason");
  },
});

// Tandem behind Kamailio, the way an operator scales out: Kamailio 5.6 (apt `kamailio`) as the
// front proxy and load balancer (tm, rr, dispatcher round robin, failover on 503 and on
// timeout) in front of two Tandems with the acceptance kit's routing. The kit's scenarios are
// run against Kamailio's address, and most of Tandem's outgoing legs go out through Kamailio
// too (its outbound proxy), so calls cross a record-routing proxy on both sides: Tandem must copy
// Kamailio's Record-Route into its answers and route its own in-dialog requests (a BYE from the
// callee, a max-duration BYE, a re-INVITE) back through Kamailio, also when the caller reaches
// Kamailio over TCP or IPv6 and Kamailio reaches Tandem over UDP and IPv4. Then one Tandem stops,
// and Kamailio's failover must carry the calls to the other. Reliable provisionals and their
// PRACKs (RFC 3262) cross it too.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import {
  baseConfig,
  binaryAvailable,
  fixedPorts,
  freePort,
  freeUdpPort,
  recvWithin,
  repoRoot,
  runSipp,
  sippAvailable,
  startTandem,
  type TandemProcess,
  udpBound,
  waitFor,
} from "./harness.ts";
import { kitSummary, runKit } from "./kit.ts";
import { runKamailio, withKamailio } from "./kamailio.ts";

/** JsSIP's CommonJS entry, installed by `deno task test` (npm, into .tools/). */
const JSSIP_MAIN = `${repoRoot}/.tools/node_modules/jssip/lib/JsSIP.js`;

/**
 * config/acceptance.yaml on its own SIP and HTTP ports, IPv4 only, with Kamailio's `outbound`
 * port as the next hop of the routes to the kit's callee (127.0.0.1:5090): those of the specific
 * rules, and of a rule added for the scenarios that would take the default one. The default
 * route stays direct for "basic" alone, whose callee checks that the INVITE has one Via.
 */
async function tandemConfig(sip: number, http: number, outbound: number): Promise<string> {
  const base = await Deno.readTextFile(`${repoRoot}/config/acceptance.yaml`);
  const listen = /sip:\n {2}listen:\n( {4}- .*\n)+http:\n {2}listen: [^\n]*\n/;
  const callee = /target: "127\.0\.0\.1:5090"/g;
  const dflt = "  - name: default\n";
  for (const [re, what] of [[listen, "its listen sections"], [callee, "its callee"]] as const) {
    assert.match(base, re, `config/acceptance.yaml changed ${what}: update this test`);
  }
  assert.ok(base.includes(dflt), "config/acceptance.yaml lost its default rule: update this test");
  const [specific, fallback] = base.split(dflt);
  const proxied = [
    "callee-bye",
    "reason",
    "cancel",
    "busy",
    "early-media",
    "reinvite-hold",
    "info",
    "prack",
  ];
  return specific
    .replace(
      listen,
      `sip:\n  listen:\n    - { address: 127.0.0.1, port: ${sip}, transports: [udp, tcp] }\n` +
        `http:\n  listen: 127.0.0.1:${http}\n`,
    )
    .replace(callee, `target: "127.0.0.1:${outbound}"`) +
    `  - name: via-proxy\n    match: { ruri_user_prefix: [${proxied.join(", ")}] }\n` +
    `    routes:\n      - { name: via-proxy, target: "127.0.0.1:${outbound}" }\n` +
    dflt + fallback;
}

/**
 * tests/e2e/scenarios' prack-uac (a caller offering 100rel) through `front` to prack-uas on the
 * kit's callee port, two calls; "" when both pass, else what they said.
 */
async function prackThrough(front: number, dir: string): Promise<string> {
  const scenarios = `${repoRoot}/tests/e2e/scenarios`;
  const common = (side: string) => [
    "-i",
    "127.0.0.1",
    "-m",
    "2",
    "-timeout",
    "20s",
    "-timeout_error",
    "-trace_err",
    "-error_file",
    `${dir}/prack-${side}.err`,
  ];
  const uas = runSipp(["-sf", `${scenarios}/prack-uas.xml`, "-p", "5090", ...common("uas")], {
    timeoutMs: 35_000,
  });
  await waitFor(() => udpBound(5090), 5000, { what: "prack callee SIPp on 5090" });
  const uac = await runSipp([
    "-sf",
    `${scenarios}/prack-uac.xml`,
    `127.0.0.1:${front}`,
    "-s",
    "prack-kamailio",
    "-p",
    String(freeUdpPort()),
    "-r",
    "2",
    ...common("uac"),
  ], { timeoutMs: 35_000 });
  const results = [["uac", uac], ["uas", await uas]] as const;
  const bad: string[] = [];
  for (const [side, r] of results) {
    const err = await Deno.readTextFile(`${dir}/prack-${side}.err`).catch(() => "");
    if (r.code !== 0 || /CHECK FAILED/.test(err)) {
      bad.push(`prack ${side}: exit ${r.code}\n${err.slice(-1500)}\n${r.stdout.slice(-1000)}`);
    }
  }
  return bad.join("\n");
}

/**
 * Kamailio as an operator would put it in front: record-routes every dialog, sends new requests
 * to the Tandems round robin, and on a 503 or a silent Tandem (2 s) marks it inactive and tries
 * the next one. In-dialog requests follow the route set (loose routing).
 */
function kamailioConfig(
  port: number,
  outbound: number,
  overTcp: number,
  listFile: string,
): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
# One worker: with two, a 180 and a 200 sent back to back may be relayed in either order, and
# Kamailio drops a provisional that comes after the final; the kit's callers want the 180.
children=1
auto_aliases=no
listen=udp:127.0.0.1:${port}
listen=tcp:127.0.0.1:${port}
listen=udp:[::1]:${port}
listen=tcp:[::1]:${port}
listen=udp:127.0.0.1:${outbound}
listen=udp:127.0.0.1:${overTcp}

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "xlog.so"
loadmodule "dispatcher.so"

modparam("rr", "enable_full_lr", 0)
modparam("tm", "fr_timer", 2000)
modparam("dispatcher", "list_file", "${listFile}")
modparam("dispatcher", "flags", 2)

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
  t_check_trans();
  record_route();
  if ($Rp == ${outbound}) {
    # From a Tandem: Kamailio is its outbound proxy to the callee.
    $du = "sip:127.0.0.1:5090";
    xlog("L_INFO", "outbound $rm $ci to $du\\n");
    if (!t_relay()) { sl_reply_error(); }
    exit;
  }
  # Calls to the second port reach the Tandems over TCP (dispatcher set 2).
  $var(set) = 1;
  if ($Rp == ${overTcp}) $var(set) = 2;
  if (!ds_select_dst("$var(set)", "4")) { sl_send_reply("503", "No Tandem"); exit; }
  xlog("L_INFO", "dispatch $rm $ci to $du\\n");
  t_on_failure("NEXT_TANDEM");
  if (!t_relay()) { sl_reply_error(); }
  exit;
}

failure_route[NEXT_TANDEM] {
  if (t_is_canceled()) exit;
  if (t_check_status("503") || (t_branch_timeout() && !t_branch_replied())) {
    ds_mark_dst("ip");
    if (ds_next_dst()) {
      xlog("L_INFO", "failover $rm $ci to $du\\n");
      t_on_failure("NEXT_TANDEM");
      t_relay();
      exit;
    }
  }
}
`;
}

/** Calls a Tandem set up (answered or not) since it started, from /metrics. */
async function callsSeen(http: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^tandem_calls_total\{[^}]*\} (\S+)$/gm)) n += Number(m[1]);
  return n;
}

interface Front {
  port: number;
  /** A second UDP port for callers, whose calls Kamailio sends on to the Tandems over TCP. */
  overTcp: number;
  log(): Promise<string>;
  stop(): Promise<void>;
}

async function startKamailio(
  dir: string,
  tandemPorts: number[],
  outbound: number,
): Promise<Front> {
  const port = freePort();
  const list = `${dir}/dispatcher.list`;
  await Deno.writeTextFile(
    list,
    tandemPorts.map((p) => `1 sip:127.0.0.1:${p}\n2 sip:127.0.0.1:${p};transport=tcp\n`).join(""),
  );
  const overTcp = freeUdpPort();
  const k = await runKamailio(dir, kamailioConfig(port, outbound, overTcp, list), port);
  return { ...k, port, overTcp };
}

Deno.test({
  name: "kamailio: the acceptance kit passes through Kamailio (rr, dispatcher) in front of two " +
    "Tandems (callers on UDP, TCP and IPv6; Tandems reached over UDP and TCP), both take calls, " +
    "and with one stopped the calls fail over to the other",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using _ports = await fixedPorts();
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    assert.equal(Deno.uid(), 0, "the acceptance kit sniffs loopback and needs root");
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-kamailio-" });
    const ports = [freeUdpPort(), freeUdpPort()];
    const https = [freePort(), freePort()];
    const outbound = freeUdpPort();
    const tandems: TandemProcess[] = [];
    let front: Front | undefined;
    try {
      for (let i = 0; i < 2; i++) {
        tandems.push(
          await startTandem({
            config: await tandemConfig(ports[i], https[i], outbound),
            binary: binaryAvailable(),
          }),
        );
      }
      front = await startKamailio(dir, ports, outbound);
      const kit = async (what: string, args: string[]) => {
        const text = await runKit([
          "--b2bua",
          `127.0.0.1:${front!.port}`,
          "--logdir",
          `${dir}/${what}`,
          ...args,
        ]);
        return { text, line: kitSummary(text) };
      };
      const explain = async (text: string) => {
        const logs = await Promise.all(tandems.map((t) => t.logs()));
        return `${text}\n--- kamailio log tail:\n${(await front!.log()).slice(-3000)}\n` +
          logs.map((l, i) => `--- tandem ${i} log tail:\n${l.stdout.slice(-2000)}`).join("\n");
      };

      const all = await kit("udp", []);
      assert.equal(all.line, "14 passed, 0 failed", await explain(all.text));
      assert.match(await front.log(), /outbound INVITE/, "Tandem's legs went through Kamailio");
      const seen = await Promise.all(https.map(callsSeen));
      assert.ok(
        seen[0] > 0 && seen[1] > 0,
        `each Tandem should have taken calls, got ${seen.join(" and ")}`,
      );
      // A caller on TCP, and one on IPv6: Kamailio record-routes both of its sides (r2), and
      // what Tandem sends on the caller's dialog must go back through the side facing Tandem.
      // Then Kamailio to Tandem over TCP: Tandem's requests reuse Kamailio's connection.
      const routed = ["--only", "callee-bye,reinvite-hold,max-duration"];
      for (
        const [what, args] of [
          ["tcp", ["--transport", "tcp"]],
          ["ipv6", ["--ipv6", "--b2bua", `[::1]:${front.port}`]],
          ["tandem-tcp", ["--b2bua", `127.0.0.1:${front.overTcp}`]],
        ] as const
      ) {
        const r = await kit(what, [...routed, ...args]);
        assert.equal(r.line, "3 passed, 0 failed", `${what}: ${await explain(r.text)}`);
      }
      assert.match(
        await front.log(),
        /dispatch INVITE \S+ to sip:127\.0\.0\.1:\d+;transport=tcp/,
        "Kamailio reached a Tandem over TCP",
      );

      // Reliable provisionals (RFC 3262) across Kamailio on both legs: the PRACKs follow the
      // early dialogs' route sets, which the reliable 183s set up through Kamailio.
      const prack = await prackThrough(front.port, dir);
      assert.equal(prack, "", await explain(prack));

      // One Tandem goes away: Kamailio's first INVITE to it times out (2 s), is marked
      // inactive and retried on the other; every later call goes straight there.
      await tandems[0].stop();
      const before = await callsSeen(https[1]);
      const one = await kit("one", ["--only", "basic,callee-bye,cancel"]);
      assert.equal(one.line, "3 passed, 0 failed", await explain(one.text));
      assert.ok((await callsSeen(https[1])) >= before + 3, "the remaining Tandem took the calls");
      assert.match(await front.log(), /failover INVITE/, "Kamailio failed over at least once");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    } finally {
      await front?.stop();
      for (const t of tandems) await t.stop().catch(() => {});
    }
  },
});

/** Kamailio as the registrar (usrloc in memory) and the proxy of calls to what registered. */
function registrarConfig(port: number): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:${port}

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"

modparam("usrloc", "db_mode", 0)
modparam("tm", "fr_timer", 5000)

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
  if (is_method("REGISTER")) {
    xlog("L_INFO", "register $tu contact $ct\\n");
    if (!save("location")) { sl_reply_error(); }
    exit;
  }
  record_route();
  if (!lookup("location")) { sl_send_reply("404", "Not Registered"); exit; }
  xlog("L_INFO", "to registered $ru\\n");
  if (!t_relay()) { sl_reply_error(); }
}
`;
}

/**
 * A phone over WebSocket, scripted (as SIPp scripts its callers): it registers, answers one
 * call with 200 and SDP, takes the ACK, and answers the BYE. Its Contact names a .invalid host,
 * as a browser's does.
 */
async function wsPhone(url: string, aor: string) {
  const ws = new WebSocket(url, "sip");
  await new Promise((ok, fail) => {
    ws.onopen = ok;
    ws.onerror = fail;
  });
  const inbox: string[] = [];
  let wake = () => {};
  ws.onmessage = (e) => {
    inbox.push(String(e.data));
    wake();
  };
  const next = async (pred: (m: string) => boolean, what: string): Promise<string> => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const i = inbox.findIndex(pred);
      if (i >= 0) return inbox.splice(i, 1)[0];
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 200);
      });
    }
    throw new Error(`the phone got no ${what}; it has: ${inbox.map((m) => m.split("\r\n")[0])}`);
  };
  const hdrs = (m: string, name: string) =>
    m.split("\r\n").filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":"));
  const reply = (m: string, status: string, extra = "", body = "") => {
    const lines = [
      `SIP/2.0 ${status}`,
      ...hdrs(m, "Via"),
      ...hdrs(m, "From"),
      ...hdrs(m, "To").map((t) => (/;tag=/.test(t) ? t : `${t};tag=phone-1`)),
      ...hdrs(m, "Call-ID"),
      ...hdrs(m, "CSeq"),
    ];
    ws.send(`${lines.join("\r\n")}\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`);
  };
  const contact = "sip:k2j4x9@df7jal23ls0d.invalid;transport=ws";
  ws.send(
    [
      `REGISTER sip:${aor.split("@")[1]} SIP/2.0`,
      "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-phone-reg",
      "Max-Forwards: 70",
      `From: <sip:${aor}>;tag=phone-reg`,
      `To: <sip:${aor}>`,
      "Call-ID: phone-reg-1",
      "CSeq: 1 REGISTER",
      `Contact: <${contact}>;expires=300`,
      "Expires: 300",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
  );
  const registered = await next((m) => m.startsWith("SIP/2.0 200"), "200 to its REGISTER");
  return {
    contact,
    registered,
    /**
     * Answer one call (and its re-INVITEs) with 200 and SDP until its BYE, answered too.
     * Resolves with the first INVITE.
     */
    async takeCall(): Promise<string> {
      const sdp = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" +
        "t=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
      let first: string | undefined;
      while (true) {
        const m = await next((x) => /^(INVITE|ACK|BYE) /.test(x), "INVITE, ACK or BYE");
        if (m.startsWith("INVITE ")) {
          first ??= m;
          reply(m, "200 OK", `Contact: <${contact}>\r\nContent-Type: application/sdp\r\n`, sdp);
        } else if (m.startsWith("BYE ")) {
          reply(m, "200 OK");
          return first!;
        }
      }
    },
    close: () => ws.close(),
  };
}

/**
 * JsSIP (from npm in .tools/, as the browser test uses it) registers `aor` over `url` and then
 * unregisters; rejects unless both are confirmed. JsSIP accepts a 200 only when it lists its own
 * Contact, so this checks the Contacts Tandem gives back.
 */
async function jssipRegisters(url: string, aor: string): Promise<void> {
  assert.ok(
    Deno.statSync(JSSIP_MAIN).isFile,
    `${JSSIP_MAIN} is missing: deno task test installs it`,
  );
  const JsSIP = createRequire(import.meta.url)(JSSIP_MAIN);
  JsSIP.debug.disable("JsSIP:*");
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(url)],
    uri: `sip:${aor}`,
    register: false,
    register_expires: 300,
  });
  const once = (ok: string, bad: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`JsSIP: no ${ok} in 10 s`)), 10_000);
      ua.once(ok, () => (clearTimeout(timer), resolve()));
      ua.once(
        bad,
        (
          e: { cause?: string },
        ) => (clearTimeout(timer), reject(new Error(`JsSIP ${bad}: ${e?.cause}`))),
      );
    });
  try {
    // register() before the WebSocket is open is a connection error: register once connected.
    const connected = once("connected", "disconnected");
    ua.start();
    await connected;
    const registered = once("registered", "registrationFailed");
    ua.register();
    await registered;
    const unregistered = once("unregistered", "registrationFailed");
    ua.unregister();
    await unregistered;
  } finally {
    ua.stop();
  }
}

Deno.test({
  name: "kamailio: a phone over WebSocket registers through Tandem at Kamailio (the registrar) " +
    "and takes a call Kamailio sends it, over its connection; JsSIP registers and unregisters",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-registrar-" });
    const [kport, sip, ws, http] = [freeUdpPort(), freeUdpPort(), freePort(), freePort()];
    const front = await runKamailio(dir, registrarConfig(kport), kport);
    let tandem: TandemProcess | undefined;
    let phone: Awaited<ReturnType<typeof wsPhone>> | undefined;
    try {
      tandem = await startTandem({
        binary: binaryAvailable(),
        config: `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
    - { address: 127.0.0.1, port: ${ws}, transports: [ws] }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
registrar: { target: "127.0.0.1:${kport}", nat_keepalive: 5s }
rules: []
`,
      });
      phone = await wsPhone(`ws://127.0.0.1:${ws}/`, "alice@example.test");
      assert.match(phone.registered, new RegExp(`Contact: <${phone.contact}>;expires=\\d+`));
      // Kamailio holds Tandem's Contact for the phone, not the phone's .invalid one.
      const klog = await front.log();
      assert.match(
        klog,
        new RegExp(`register sip:alice@example.test contact <sip:\\w+@127\\.0\\.0\\.1:${sip}>`),
      );
      assert.doesNotMatch(klog, /\.invalid/);
      const regs = await (await fetch(`http://127.0.0.1:${http}/registrations`)).json();
      assert.deepEqual(
        regs.map((r: { aor: string; contact: string; via: string }) => [r.aor, r.contact, r.via]),
        [["sip:alice@example.test", phone.contact, regs[0]?.via]],
      );
      assert.match(regs[0].via, /^ws:127\.0\.0\.1:\d+$/);
      assert.match(
        await (await fetch(`http://127.0.0.1:${http}/metrics`)).text(),
        /^tandem_registrations 1$/m,
      );
      const call = phone.takeCall();
      // SIPp's caller of the benchmarks: it follows Kamailio's Record-Route, and holds the call
      // with a re-INVITE before its BYE.
      const caller = await runSipp([
        "-sf",
        `${repoRoot}/../shared/bench/uac_rr.xml`,
        `127.0.0.1:${kport}`,
        "-s",
        "alice",
        "-i",
        "127.0.0.1",
        "-p",
        String(freeUdpPort()),
        "-m",
        "1",
        "-d",
        "200",
        "-timeout",
        "20s",
        "-timeout_error",
      ], { timeoutMs: 30_000 });
      const invite = await call.catch(async (e) => {
        const logs = await tandem!.logs();
        throw new Error(
          `${e.message}\ncaller: ${caller.stderr.slice(-1500)}\ntandem: ${
            logs.stderr.slice(-2500)
          }\nkamailio: ${(await front.log()).slice(-2500)}`,
        );
      });
      assert.equal(caller.code, 0, `caller: ${caller.stdout.slice(-1500)}\n${await front.log()}`);
      assert.match(invite, new RegExp(`^INVITE ${phone.contact} SIP/2\\.0`));
      assert.match(
        await (await fetch(`http://127.0.0.1:${http}/metrics`)).text(),
        /tandem_calls_total\{outcome="answered"\} 1/,
      );
      // JsSIP, the browsers' SIP library, takes Tandem's answers as its registration.
      await jssipRegisters(`ws://127.0.0.1:${ws}/`, "bob@example.test");
      assert.match(
        await front.log(),
        new RegExp(`register sip:bob@example.test contact <sip:\\w+@127\\.0\\.0\\.1:${sip}>`),
      );
      // A desk phone over UDP (behind NAT, as far as Tandem can tell): registered, it gets a
      // keep-alive, a double CRLF, within nat_keepalive (5 s here).
      const desk = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      try {
        const port = (desk.addr as Deno.NetAddr).port;
        const register = [
          "REGISTER sip:example.test SIP/2.0",
          `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-desk-1;rport`,
          "Max-Forwards: 70",
          "From: <sip:carol@example.test>;tag=desk1",
          "To: <sip:carol@example.test>",
          "Call-ID: desk-register-1",
          "CSeq: 1 REGISTER",
          `Contact: <sip:carol@127.0.0.1:${port}>`,
          "Expires: 600",
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n");
        await desk.send(new TextEncoder().encode(register), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: sip,
        });
        const seen: string[] = [];
        const deadline = Date.now() + 9000;
        while (Date.now() < deadline && !seen.includes("\r\n\r\n")) {
          const got = await recvWithin(desk, deadline - Date.now());
          if (got) seen.push(new TextDecoder().decode(got[0]));
        }
        assert.ok(seen.some((m) => m.startsWith("SIP/2.0 200")), `registered: ${seen}`);
        assert.ok(seen.includes("\r\n\r\n"), `a keep-alive: ${JSON.stringify(seen)}`);
      } finally {
        desk.close();
      }
    } finally {
      phone?.close();
      await tandem?.stop().catch(() => {});
      await front.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/**
 * Kamailio as a carrier's registrar that asks for digest credentials (qop=auth, the password
 * in the script: no database) and sends calls for a registered user to its Contact.
 */
function authRegistrarConfig(port: number, password: string): string {
  return registrarConfig(port)
    .replace('loadmodule "registrar.so"', 'loadmodule "registrar.so"\nloadmodule "auth.so"')
    .replace(
      '    xlog("L_INFO", "register $tu contact $ct\\n");',
      // flags 0: the password is plain text; the challenge's 1: qop=auth.
      `    if (!pv_www_authenticate("$td", "${password}", "0")) {
      xlog("L_INFO", "challenge $tu\\n");
      www_challenge("$td", "1");
      exit;
    }
    consume_credentials();
    xlog("L_INFO", "register $tu contact $ct expires $hdr(Expires)\\n");`,
    );
}

Deno.test({
  name: "kamailio: Tandem registers an account at Kamailio (digest, qop=auth), takes the call " +
    "Kamailio sends to its Contact, and unregisters when it stops; a wrong password shows failed",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-outbound-" });
    const [kport, sip, http, callee] = [freeUdpPort(), freeUdpPort(), freePort(), freeUdpPort()];
    const cfgText = authRegistrarConfig(kport, "s3cret");
    assert.ok(cfgText.includes("pv_www_authenticate"), "registrarConfig changed: update this test");
    const front = await runKamailio(dir, cfgText, kport);
    let tandem: TandemProcess | undefined;
    try {
      tandem = await startTandem({
        binary: binaryAvailable(),
        config: baseConfig(sip, http) + `outbound_registrations:
  - name: carrier
    target: "127.0.0.1:${kport}"
    aor: "sip:inbound@127.0.0.1"
    auth: { username: inbound, password: s3cret }
    expires: 2m
  - name: wrong-password
    target: "127.0.0.1:${kport}"
    aor: "sip:other@127.0.0.1"
    auth: { username: other, password: not-it }
rules:
  - name: from-carrier
    match: { ruri_user_prefix: [inbound] }
    routes: [{ name: pbx, target: "127.0.0.1:${callee}" }]
`,
      });
      type Row = { name: string; state: string; last: string; contact: string; expires: string };
      const list = async () =>
        (await (await fetch(`http://127.0.0.1:${http}/outbound-registrations`)).json()) as Row[];
      let rows: Row[] = [];
      await waitFor(
        async () => {
          rows = await list();
          return rows.length === 2 && rows[0].state === "registered" && rows[1].state === "failed";
        },
        10_000,
        { what: "one account registered, the other failed" },
      ).catch(async (e) => {
        throw new Error(
          `${e.message}: ${JSON.stringify(rows)}\n${(await front.log()).slice(-2000)}`,
        );
      });
      const [ok, bad] = rows;
      assert.equal(ok.contact, `sip:inbound@127.0.0.1:${sip}`);
      const left = Date.parse(ok.expires) - Date.now();
      assert.ok(left > 100_000 && left <= 120_000, `granted about 2 min, ${left} ms left`);
      assert.match(bad.last, /^401 .*credentials refused$/);
      const klog = await front.log();
      assert.match(
        klog,
        new RegExp(
          `register sip:inbound@127\\.0\\.0\\.1 contact <sip:inbound@127\\.0\\.0\\.1:${sip}> expires 120`,
        ),
      );
      assert.doesNotMatch(klog, /register sip:other@/, "Kamailio never took the wrong password");
      assert.match(
        await (await fetch(`http://127.0.0.1:${http}/metrics`)).text(),
        /^tandem_outbound_registration_up\{name="carrier"\} 1$/m,
      );

      // A call to the account reaches Tandem at its registered Contact, and the PBX behind it.
      const common = ["-i", "127.0.0.1", "-m", "1", "-timeout", "20s", "-timeout_error"];
      const pbx = runSipp(
        ["-sf", `${repoRoot}/../shared/bench/uas_rr.xml`, "-p", String(callee), ...common],
        { timeoutMs: 30_000 },
      );
      await waitFor(() => udpBound(callee), 5000, { what: `callee SIPp on ${callee}` });
      const caller = await runSipp([
        "-sf",
        `${repoRoot}/../shared/bench/uac_rr.xml`,
        `127.0.0.1:${kport}`,
        "-s",
        "inbound",
        "-p",
        String(freeUdpPort()),
        "-d",
        "200",
        ...common,
      ], { timeoutMs: 30_000 });
      const answered = await pbx;
      assert.equal(
        caller.code,
        0,
        `caller: ${caller.stdout.slice(-1500)}\n${(await front.log()).slice(-2000)}`,
      );
      assert.equal(answered.code, 0, `callee: ${answered.stdout.slice(-1500)}`);
      assert.match(await front.log(), /to registered sip:inbound@127\.0\.0\.1:\d+/);

      // Stopping, Tandem takes its binding away (Contact expires=0, with the last nonce).
      const status = await tandem.stop();
      assert.equal(status.code, 0);
      await waitFor(
        async () =>
          /register sip:inbound@127\.0\.0\.1 contact <[^>]+>;expires=0 expires 0/.test(
            await front.log(),
          ),
        5000,
        { what: "the unregistration at Kamailio" },
      );
      const logs = await tandem.logs();
      assert.match(logs.stdout + logs.stderr, /outbound-unregistered/);
    } finally {
      await tandem?.stop().catch(() => {});
      await front.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "kamailio: with nat_keepalive, a registered account's flow gets a double CRLF every " +
    "interval from Tandem's SIP port, which Kamailio takes as a keep-alive (a probing packet)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const [kport, sip, http] = [freeUdpPort(), freeUdpPort(), freePort()];
    // debug=3: Kamailio logs each datagram too short to be SIP as a "probing packet".
    const config = (port: number) => registrarConfig(port).replace("debug=2", "debug=3");
    await withKamailio("tandem-e2e-natka-", kport, config, async (front) => {
      await using _tandem = await startTandem({
        binary: binaryAvailable(),
        config: baseConfig(sip, http) + `outbound_registrations:
  - { name: carrier, target: "127.0.0.1:${kport}", aor: "sip:nat@127.0.0.1", nat_keepalive: 1s }
rules: []
`,
      });
      // Kamailio prints the source port as it lies in the socket address (network byte order).
      const swapped = ((sip & 0xff) << 8) | (sip >> 8);
      const probe = new RegExp(`probing packet received from 127\\.0\\.0\\.1 ${swapped}\\b`, "g");
      let log = "";
      await waitFor(
        async () => {
          log = await front.log();
          return /register sip:nat@127\.0\.0\.1 contact/.test(log) &&
            (log.match(probe)?.length ?? 0) >= 2;
        },
        8000,
        { what: "two keep-alives after the registration" },
      ).catch((e) => {
        throw new Error(
          `${e.message}\n${log.split("\n").filter((l) => /probing|register/.test(l)).join("\n")}`,
        );
      });
      // They come after the binding, not before it.
      assert.ok(log.search(/register sip:nat@/) < log.search(probe));
    });
  },
});

Deno.test({
  name: "kamailio: an account registered over TCP registers again at once when Kamailio closes " +
    "the connection (RFC 5626 flow recovery), not at its refresh",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const [kport, sip, http] = [freePort(), freePort(), freePort()];
    // Kamailio closes the TCP connection right after it answered each REGISTER (tcpops).
    const config = (port: number) => {
      const cfg = registrarConfig(port)
        .replace(
          `listen=udp:127.0.0.1:${port}`,
          `listen=udp:127.0.0.1:${port}\nlisten=tcp:127.0.0.1:${port}`,
        )
        .replace('loadmodule "registrar.so"', 'loadmodule "registrar.so"\nloadmodule "tcpops.so"')
        .replace(
          '    if (!save("location")) { sl_reply_error(); }',
          '    if (!save("location")) { sl_reply_error(); } else if ($pr == "tcp") { tcp_close_connection(); }',
        );
      assert.ok(cfg.includes("tcp_close_connection"), "registrarConfig changed: update this test");
      return cfg;
    };
    await withKamailio("tandem-e2e-flow-", kport, config, async (front) => {
      await using tandem = await startTandem({
        binary: binaryAvailable(),
        config: `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp, tcp] }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
outbound_registrations:
  - { name: carrier, target: "127.0.0.1:${kport}", transport: tcp, aor: "sip:flow@127.0.0.1", expires: 2m }
rules: []
`,
      });
      const registered = new RegExp(
        `register sip:flow@127\\.0\\.0\\.1 contact <sip:flow@127\\.0\\.0\\.1:${sip};transport=tcp>`,
        "g",
      );
      let log = "";
      // The refresh of a 2-minute binding is a minute away: a second REGISTER within 10 s is the
      // flow being made again.
      await waitFor(
        async () => ((log = await front.log()).match(registered)?.length ?? 0) >= 2,
        10_000,
        { what: "a second REGISTER after Kamailio closed the connection" },
      ).catch((e) => {
        const seen = log.split("\n").filter((l) => l.includes("register")).join("\n");
        throw new Error(`${e.message}\n${seen}`);
      });
      const logs = await tandem.logs();
      assert.match(logs.stdout + logs.stderr, /outbound-flow-lost/);
      const rows = await (await fetch(`http://127.0.0.1:${http}/outbound-registrations`)).json();
      assert.equal(rows[0].state, "registered");
    });
  },
});

/**
 * Kamailio's sipcapture as the HEP collector (what Homer's capture agents speak): it takes each
 * HEPv3 packet, checks it, and routes the SIP message inside as if it came from the addresses the
 * packet names; the script logs each and stores it (sip_capture, correlation id included) in a
 * db_text table in place of Homer's database.
 */
function hepCollectorConfig(port: number, dbDir: string): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:${port}
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "db_text.so"
loadmodule "sipcapture.so"
modparam("sipcapture", "db_url", "text://${dbDir}")
modparam("sipcapture", "hep_capture_on", 1)
modparam("sipcapture", "capture_on", 1)
request_route {
  xlog("L_INFO", "HEP request $rm from $si:$sp call $ci\\n");
  sip_capture();
  drop;
}
onreply_route {
  xlog("L_INFO", "HEP reply $rs $rm from $si:$sp call $ci\\n");
  sip_capture();
  drop;
}
`;
}

/** Rows of a db_text table (a header of name(type) columns, then ":"-separated rows). */
function dbTextRows(text: string): Record<string, string>[] {
  const [header, ...lines] = text.split("\n").filter((l) => l);
  const names = header.split(" ").map((c) => c.replace(/\(.*$/, ""));
  return lines.map((line) => {
    const values = line.split(/(?<!\\):/).map((v) => v.replace(/\\(.)/g, "$1"));
    return Object.fromEntries(names.map((n, i) => [n, values[i] ?? ""]));
  });
}

/** sipcapture's table (Homer 5's schema) for db_text, which needs it to exist. */
const SIP_CAPTURE_TABLE = [
  "id(int,auto) date(int) micro_ts(blob) method(string) reply_reason(string) ruri(string)",
  "ruri_user(string) ruri_domain(string) from_user(string) from_domain(string) from_tag(string)",
  "to_user(string) to_domain(string) to_tag(string) pid_user(string) contact_user(string)",
  "auth_user(string) callid(string) callid_aleg(string) via_1(string) via_1_branch(string)",
  "cseq(string) diversion(string) reason(string) content_type(string) auth(string)",
  "user_agent(string) source_ip(string) source_port(int) destination_ip(string)",
  "destination_port(int) contact_ip(string) contact_port(int) originator_ip(string)",
  "originator_port(int) correlation_id(string) custom_field1(string) custom_field2(string)",
  "custom_field3(string) proto(int) family(int) rtp_stat(string) type(int) node(string)",
  "msg(string)",
].join(" ") + "\n";

Deno.test({
  name: "kamailio: Tandem copies each SIP message in and out to a HEP collector (Kamailio " +
    "sipcapture), with the addresses and ports of both legs, correlated by the caller's Call-ID",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-hep-" });
    await Deno.mkdir(`${dir}/db`);
    await Deno.writeTextFile(`${dir}/db/sip_capture`, SIP_CAPTURE_TABLE);
    const [hep, sip, callee, caller] = [freeUdpPort(), freeUdpPort(), freeUdpPort(), freeUdpPort()];
    const http = freePort();
    const collector = await runKamailio(dir, hepCollectorConfig(hep, `${dir}/db`), hep);
    let tandem: TandemProcess | undefined;
    try {
      tandem = await startTandem({
        binary: binaryAvailable(),
        config: baseConfig(sip, http) + `hep: { target: "127.0.0.1:${hep}", agent_id: 42 }
rules:
  - { name: all, routes: [{ name: pbx, target: "127.0.0.1:${callee}" }] }
`,
      });
      const common = ["-i", "127.0.0.1", "-m", "1", "-timeout", "20s", "-timeout_error"];
      const uas = runSipp(["-sn", "uas", "-p", String(callee), ...common], { timeoutMs: 30_000 });
      await waitFor(() => udpBound(callee), 5000, { what: `callee SIPp on ${callee}` });
      const uac = await runSipp(
        ["-sn", "uac", `127.0.0.1:${sip}`, "-s", "hep", "-p", String(caller), ...common],
        { timeoutMs: 30_000 },
      );
      assert.equal(uac.code, 0, uac.stdout.slice(-1500));
      assert.equal((await uas).code, 0);
      const from = (who: number) => `127\\.0\\.0\\.1:${who}`;
      let log = "";
      const expected = [
        new RegExp(`HEP request INVITE from ${from(caller)} call 1-`), // the caller's, in
        new RegExp(`HEP request INVITE from ${from(sip)} call (?!1-)`), // Tandem's, out
        new RegExp(`HEP reply 200 INVITE from ${from(callee)} call `), // the callee's, in
        new RegExp(`HEP reply 200 INVITE from ${from(sip)} call 1-`), // Tandem's, out
        new RegExp(`HEP request BYE from ${from(caller)} call 1-`),
        new RegExp(`HEP reply 200 BYE from ${from(callee)} call `),
      ];
      await waitFor(
        async () => {
          log = await collector.log();
          return expected.every((re) => re.test(log));
        },
        5000,
        { what: "both legs' messages at the collector" },
      ).catch((e) => {
        const seen = log.split("\n").filter((l) => l.includes("HEP ")).join("\n");
        throw new Error(`${e.message}\n${seen}\n${log.slice(-1500)}`);
      });
      assert.doesNotMatch(log, /ERROR: sipcapture.*hep/i);
      // sip_capture() stored every message with the packet's correlation id: the caller's
      // Call-ID on both legs, so Homer shows one call. db_text writes its table at exit.
      const callerCallId = /HEP request INVITE from \S+ call (1-\S+)/.exec(log)![1];
      await collector.stop();
      const rows = dbTextRows(await Deno.readTextFile(`${dir}/db/sip_capture`));
      assert.ok(rows.length >= 12, `${rows.length} rows stored`);
      const callIds = new Set(rows.map((r) => r.callid));
      assert.equal(callIds.size, 2, [...callIds].join(", "));
      assert.ok(callIds.has(callerCallId));
      for (const r of rows) {
        assert.equal(r.correlation_id, callerCallId, `${r.method} ${r.callid}`);
      }
      assert.match(
        await (await fetch(`http://127.0.0.1:${http}/metrics`)).text(),
        /^tandem_hep_packets_total\{result="sent"\} ([1-9]\d*)$/m,
      );
    } finally {
      await tandem?.stop().catch(() => {});
      await collector.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

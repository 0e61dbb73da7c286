// STIR/SHAKEN with a real other end: Kamailio's secsipid module (libsecsipid, apt
// `kamailio-secsipid-modules`) checks the Identity headers Tandem adds to the calls it places,
// fetching Tandem's certificate from its x5u URL; and signs the calls it sends to Tandem, whose
// verification service marks them (verstat) or refuses a PASSporT that does not match the call.
// The certificates come from a SHAKEN PKI made by openssl; the x5u server is an HTTP server on
// loopback in the test.

import assert from "node:assert/strict";
import { makePki, serveFiles } from "../stir/pki.ts";
import {
  baseConfig,
  binaryAvailable,
  freePort,
  freeUdpPort,
  recvWithin,
  startTandem,
  waitFor,
} from "./harness.ts";
import { withKamailio } from "./kamailio.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Kamailio on `port`: an INVITE from Tandem (its SIP port) is checked with
 * secsipid_check_identity and answered 480 when the Identity verifies, 438 when not; any other
 * INVITE is signed (secsipid_add_identity, with a wrong calling number for called numbers
 * starting 1555) and relayed to Tandem.
 */
function kamailioConfig(port: number, tandem: number, x5u: string, key: string): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
disable_tcp=yes
listen=udp:127.0.0.1:${port}

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "secsipid.so"

modparam("secsipid", "expire", 60)
modparam("secsipid", "timeout", 3)

request_route {
  if (is_method("ACK")) {
    if (t_check_trans()) t_relay();
    exit;
  }
  if (!is_method("INVITE")) { sl_send_reply("405", "Method Not Allowed"); exit; }
  if ($sp == ${tandem}) {
    if (secsipid_check_identity("")) {
      xlog("L_NOTICE", "STIR-OK from=$fU to=$tU\\n");
      sl_send_reply("480", "Identity Verified");
    } else {
      xlog("L_NOTICE", "STIR-FAIL rc=$rc from=$fU to=$tU\\n");
      sl_send_reply("438", "Invalid Identity Header");
    }
    exit;
  }
  if ($tU =~ "^1555") {
    secsipid_add_identity("19995550000", "$tU", "A", "", "${x5u}", "${key}");
  } else {
    secsipid_add_identity("$fU", "$tU", "A", "", "${x5u}", "${key}");
  }
  $du = "sip:127.0.0.1:${tandem}";
  t_relay();
}
`;
}

/** An INVITE from `sock` (port `from`) to `to`@host:port, numbered `n`. */
function invite(host: string, port: number, from: number, caller: string, to: string, n: number) {
  const branch = `z9hG4bK-stir-${n}-${crypto.randomUUID().slice(0, 8)}`;
  const text = [
    `INVITE sip:${to}@${host}:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${from};branch=${branch};rport`,
    "Max-Forwards: 70",
    `From: <sip:${caller}@127.0.0.1:${from}>;tag=caller-${n}`,
    `To: <sip:${to}@${host}:${port}>`,
    `Call-ID: stir-${n}-${crypto.randomUUID()}@127.0.0.1`,
    "CSeq: 1 INVITE",
    `Contact: <sip:${caller}@127.0.0.1:${from}>`,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
  return { text, branch };
}

/** Send an INVITE and wait for its final answer; ACK it (RFC 3261 §17.1.1.3). */
async function call(
  sock: Deno.DatagramConn,
  target: number,
  caller: string,
  to: string,
  n: number,
): Promise<string> {
  const from = (sock.addr as Deno.NetAddr).port;
  const { text } = invite("127.0.0.1", target, from, caller, to, n);
  await sock.send(enc.encode(text), { transport: "udp", hostname: "127.0.0.1", port: target });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const got = await recvWithin(sock, deadline - Date.now());
    if (!got) break;
    const reply = dec.decode(got[0]);
    const status = Number(/^SIP\/2\.0 (\d{3})/.exec(reply)?.[1] ?? 0);
    if (status < 200) continue;
    const head = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "mi").exec(reply)?.[1] ?? "";
    const ack = [
      `ACK sip:${to}@127.0.0.1:${target} SIP/2.0`,
      `Via: ${head("Via")}`,
      "Max-Forwards: 70",
      `From: ${head("From")}`,
      `To: ${head("To")}`,
      `Call-ID: ${head("Call-ID")}`,
      "CSeq: 1 ACK",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    await sock.send(enc.encode(ack), { transport: "udp", hostname: "127.0.0.1", port: target });
    return reply;
  }
  throw new Error(`no final answer to the INVITE to ${to}`);
}

/** A callee on `sock` answering every INVITE 486 and keeping what it got. */
function busyCallee(sock: Deno.DatagramConn): { invites: string[]; done: Promise<void> } {
  const invites: string[] = [];
  const done = (async () => {
    for (;;) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await sock.receive();
      } catch {
        return; // closed
      }
      const msg = dec.decode(got[0]);
      if (!msg.startsWith("INVITE ")) continue;
      invites.push(msg);
      const lines = msg.split("\r\n");
      const keep = lines.filter((l) => /^(Via|From|Call-ID|CSeq):/i.test(l));
      const to = lines.find((l) => /^To:/i.test(l))!;
      const reply = [
        "SIP/2.0 486 Busy Here",
        ...keep,
        `${to};tag=callee`,
        "Content-Length: 0",
        "",
        "",
      ]
        .join("\r\n");
      const addr = got[1] as Deno.NetAddr;
      await sock.send(enc.encode(reply), {
        transport: "udp",
        hostname: addr.hostname,
        port: addr.port,
      });
    }
  })();
  return { invites, done };
}

Deno.test({
  name: "stir: Kamailio's secsipid verifies the Identity Tandem signs (fetching its certificate " +
    "from x5u), and Tandem verifies the Identity Kamailio signs: marked verstat, or 438 for a " +
    "PASSporT whose calling number is not the call's",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pki = await makePki();
    const certs = serveFiles({ "/sp.pem": pki.certPem });
    const x5u = `${certs.base}/sp.pem`;
    const [kport, sip, http] = [freeUdpPort(), freeUdpPort(), freePort()];
    const caller = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const calleeSock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const calleePort = (calleeSock.addr as Deno.NetAddr).port;
    const callee = busyCallee(calleeSock);
    try {
      await withKamailio(
        "tandem-e2e-stir-",
        kport,
        (port) => kamailioConfig(port, sip, x5u, pki.keyFile),
        async (kamailio) => {
          await using _tandem = await startTandem({
            binary: binaryAvailable(),
            config: baseConfig(sip, http) + `stir_shaken:
  sign: { key: ${pki.keyFile}, x5u: "${x5u}" }
  verify: { ca: ${pki.caFile}, allow_http: true }
cdr: { dir: ${pki.dir}/journal, file: { path: ${pki.dir}/cdr.jsonl, format: jsonl, rotate: size } }
rules:
  - name: signed
    match: { ruri_user_prefix: ["1800"] }
    stir_shaken: { attest: A, verify: "off" }
    routes: [{ target: "127.0.0.1:${kport}" }]
  - name: unsigned
    match: { ruri_user_prefix: ["1900"] }
    stir_shaken: { verify: "off" }
    routes: [{ target: "127.0.0.1:${kport}" }]
  - name: strict
    match: { ruri_user_prefix: ["1555"] }
    stir_shaken: { verify: reject }
    routes: [{ target: "127.0.0.1:${calleePort}" }]
  - name: marked
    match: { ruri_user_prefix: ["1215"] }
    routes: [{ target: "127.0.0.1:${calleePort}" }]
`,
          });

          // Tandem signs: Kamailio fetches the certificate and the signature verifies.
          const signed = await call(caller, sip, "+12155551212", "18005551000", 1);
          assert.match(signed, /^SIP\/2\.0 480 /, signed);
          const unsigned = await call(caller, sip, "+12155551212", "19005551000", 2);
          assert.match(unsigned, /^SIP\/2\.0 438 /, unsigned);
          const log = await kamailio.log();
          assert.match(log, /STIR-OK from=\+12155551212 to=18005551000/, log.slice(-3000));
          assert.match(log, /STIR-FAIL rc=-?\d+ from=\+12155551212 to=19005551000/);
          assert.equal(certs.hits(), 1, "Kamailio fetched Tandem's certificate once");

          // Kamailio signs, Tandem checks: a matching PASSporT is marked passed...
          const marked = await call(caller, kport, "+12155551212", "12155551213", 3);
          assert.match(marked, /^SIP\/2\.0 486 /, marked);
          await waitFor(() => callee.invites.length === 1, 5000, { what: "the INVITE" });
          const from = /^From:\s*(.*)$/mi.exec(callee.invites[0])?.[1] ?? "";
          assert.match(from, /<sip:\+12155551212;verstat=TN-Validation-Passed@/, from);
          assert.ok(!/^Identity:/mi.test(callee.invites[0]), "the Identity stays with Tandem");
          // ...and one signed for another calling number is refused where the rule says so.
          const refused = await call(caller, kport, "+12155551212", "15555551213", 4);
          assert.match(refused, /^SIP\/2\.0 438 Invalid Identity Header/, refused);
          assert.equal(callee.invites.length, 1, "the refused call went nowhere");

          const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
          assert.match(metrics, /tandem_stir_signed_total\{attest="A"\} 1\b/);
          assert.match(metrics, /tandem_stir_verifications_total\{verstat="passed"\} 1\b/);
          const failed = metrics.split("\n").find((l) =>
            l.startsWith("tandem_stir_verifications_total{") && l.includes('verstat="failed"')
          );
          assert.match(failed ?? "", /status="438".* 1$/);
          // The CDRs say it too.
          const cdrs = async () =>
            (await Deno.readTextFile(`${pki.dir}/cdr.jsonl`).catch(() => "")).split("\n")
              .filter((l) => l.trim()).map((l) => JSON.parse(l) as CdrLine);
          await waitFor(async () => (await cdrs()).length >= 4, 5000, { what: "4 CDRs" });
          const byRule = new Map((await cdrs()).map((r) => [r.rule, r]));
          assert.deepEqual(byRule.get("signed")?.identity, { signed: "A" });
          assert.equal(byRule.get("unsigned")?.identity, undefined);
          assert.equal(byRule.get("marked")?.identity?.verstat, "TN-Validation-Passed");
          assert.equal(byRule.get("marked")?.identity?.attest, "A");
          assert.deepEqual(byRule.get("strict")?.identity, {
            verstat: "TN-Validation-Failed",
            status: 438,
          });
          assert.equal(byRule.get("strict")?.endReason, "rejected");
        },
      );
    } finally {
      caller.close();
      calleeSock.close();
      await callee.done;
      await certs.close();
      await Deno.remove(pki.dir, { recursive: true });
    }
  },
});

interface CdrLine {
  rule?: string;
  endReason?: string;
  identity?: { verstat?: string; attest?: string; status?: number; signed?: string };
}

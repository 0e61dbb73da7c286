// RFC 3891 Replaces through a running Tandem (attended transfer, RFC 5589 §7): the transferor
// A talks to B through Tandem; the transfer target C sends Tandem an INVITE with Replaces naming
// A's leg; B must receive a new INVITE naming its own leg of that call, and when B ends the
// replaced dialog, A gets the BYE. The three parties are raw SIP over UDP written here: no peer
// installed on this machine speaks RFC 3891 (SIPp cannot tie two dialogs together, baresip's
// libre has no Replaces), so the UAs are test code and Tandem is the real process.

import assert from "node:assert/strict";
import {
  binaryAvailable,
  freePort,
  freeUdpPort,
  headerOf,
  startTandem,
  waitFor,
} from "./harness.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A UDP user agent on 127.0.0.1 keeping every datagram it receives. */
class Ua {
  readonly got: string[] = [];
  private readonly sock: Deno.DatagramConn;
  readonly port: number;
  private closed = false;

  constructor(readonly name: string) {
    this.port = freeUdpPort();
    this.sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: this.port });
    void this.pump();
  }

  private async pump(): Promise<void> {
    while (!this.closed) {
      try {
        const [data] = await this.sock.receive();
        this.got.push(dec.decode(data));
      } catch {
        return;
      }
    }
  }

  async send(text: string, port: number): Promise<void> {
    await this.sock.send(enc.encode(text.replace(/\r?\n/g, "\r\n")), {
      transport: "udp",
      hostname: "127.0.0.1",
      port,
    });
  }

  /** The first message received since `from` that matches, waiting for it. */
  async expect(pred: (m: string) => boolean, what: string, from = 0): Promise<string> {
    const t0 = Date.now();
    const r = await waitFor(() => this.got.slice(from).find(pred), 5000, {
      what: `${this.name}: ${what}`,
    });
    if (Deno.env.get("UA_TIMING")) console.log(`${Date.now() - t0} ms ${this.name}: ${what}`);
    return r;
  }

  close(): void {
    this.closed = true;
    this.sock.close();
  }
}

const SDP =
  "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
const isReq = (method: string) => (m: string) => m.startsWith(`${method} `);
const isRes = (status: number, method: string) => (m: string) =>
  m.startsWith(`SIP/2.0 ${status} `) && new RegExp(`^CSeq: *\\d+ ${method}`, "mi").test(m);
const tagOf = (v: string | undefined) => /;tag=([^;>\s]+)/.exec(v ?? "")?.[1];

function invite(
  ua: Ua,
  tandem: number,
  callId: string,
  tag: string,
  extra = "",
  user = "bob",
): string {
  return `INVITE sip:${user}@127.0.0.1:${tandem} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:${ua.port};branch=z9hG4bK-${callId};rport
Max-Forwards: 70
From: <sip:${ua.name}@127.0.0.1:${ua.port}>;tag=${tag}
To: <sip:${user}@127.0.0.1:${tandem}>
Call-ID: ${callId}
CSeq: 1 INVITE
Contact: <sip:${ua.name}@127.0.0.1:${ua.port}>
${extra}Content-Type: application/sdp
Content-Length: ${SDP.length}

${SDP}`;
}

/** A request inside the dialog a 2xx (`ok`, as its caller received it) set up. */
function inDialog(
  ua: Ua,
  tandem: number,
  method: string,
  ok: string,
  cseq: number,
  extra = "",
): string {
  return `${method} sip:127.0.0.1:${tandem} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:${ua.port};branch=z9hG4bK-${method}-${cseq}-${crypto.randomUUID()};rport
Max-Forwards: 70
From: ${headerOf(ok, "from")}
To: ${headerOf(ok, "to")}
Call-ID: ${headerOf(ok, "call-id")}
CSeq: ${cseq} ${method}
${extra}Content-Length: 0

`;
}

/** A response to `req` (as received) from a UA whose tag in that dialog is `tag`. */
function reply(ua: Ua, req: string, status: number, tag: string, body = ""): string {
  const head = req.split("\r\n\r\n")[0].split("\r\n");
  const vias = head.filter((l) => /^(via|v):/i.test(l)).join("\r\n");
  const to = headerOf(req, "to")!;
  return `SIP/2.0 ${status} OK
${vias}
From: ${headerOf(req, "from")}
To: ${tagOf(to) ? to : `${to};tag=${tag}`}
Call-ID: ${headerOf(req, "call-id")}
CSeq: ${headerOf(req, "cseq")}
Contact: <sip:${ua.name}@127.0.0.1:${ua.port}>
${body ? "Content-Type: application/sdp\n" : ""}Content-Length: ${body.length}

${body}`;
}

/** A request from the callee inside the dialog of `inv` (the INVITE it received). */
function calleeRequest(ua: Ua, method: string, inv: string, tag: string, cseq: number): string {
  const contact = /<([^>]+)>/.exec(headerOf(inv, "contact")!)![1];
  return `${method} ${contact} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:${ua.port};branch=z9hG4bK-b-${method}-${cseq};rport
Max-Forwards: 70
From: ${headerOf(inv, "to")};tag=${tag}
To: ${headerOf(inv, "from")}
Call-ID: ${headerOf(inv, "call-id")}
CSeq: ${cseq} ${method}
Content-Length: 0

`;
}

/**
 * A, B and C beside a running Tandem (the binary when built) whose rules send Request-URI user
 * "carol" to C and anything else to B. Prints every party's messages and Tandem's log when `body`
 * fails.
 */
async function withParties(
  body: (p: { a: Ua; b: Ua; c: Ua; sip: number; http: number }) => Promise<void>,
): Promise<void> {
  const a = new Ua("alice"), b = new Ua("bob"), c = new Ua("carol");
  const sip = freePort(), http = freePort();
  const tandem = await startTandem({
    binary: binaryAvailable(),
    config: `sip:
  listen: [{ address: 127.0.0.1, port: ${sip}, transports: [udp] }]
  timers: { t1: 100ms }
http: { listen: "127.0.0.1:${http}" }
rules:
  - name: carol
    match: { ruri_user_prefix: [carol] }
    routes: [{ name: carol, target: "127.0.0.1:${c.port}" }]
  - name: bob
    match: {}
    routes: [{ name: bob, target: "127.0.0.1:${b.port}" }]
`,
  });
  try {
    await body({ a, b, c, sip, http });
  } catch (e) {
    const logs = await tandem.logs();
    console.error(
      `--- A:\n${a.got.join("\n--\n")}\n--- B:\n${b.got.join("\n--\n")}\n--- C:\n${
        c.got.join("\n--\n")
      }\n--- tandem:\n${(logs.stdout + logs.stderr).slice(-3000)}`,
    );
    throw e;
  } finally {
    a.close();
    b.close();
    c.close();
    await tandem.stop();
  }
}

Deno.test({
  name: "replaces: attended transfer through Tandem — C's INVITE naming A's leg reaches B naming " +
    "B's own leg; B ends the replaced dialog and A gets the BYE; C and B stay connected",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withParties(async ({ a, b, c, sip, http }) => {
      // Call 1: A -> Tandem -> B, answered.
      await a.send(invite(a, sip, "call-1", "a-tag"), sip);
      const b1 = await b.expect(isReq("INVITE"), "call 1's INVITE");
      await b.send(reply(b, b1, 200, "b-tag-1", SDP), sip);
      const ok1 = await a.expect(isRes(200, "INVITE"), "call 1 answered");
      await a.send(inDialog(a, sip, "ACK", ok1, 1), sip);
      await b.expect(isReq("ACK"), "call 1's ACK");
      const tandemTagA = tagOf(headerOf(ok1, "to"))!;

      // C replaces A: its Replaces names A's leg as Tandem knows it (our tag is the to-tag).
      const seenByB = b.got.length;
      await c.send(
        invite(
          c,
          sip,
          "call-2",
          "c-tag",
          `Replaces: call-1;to-tag=${tandemTagA};from-tag=a-tag\nRequire: replaces\n`,
        ),
        sip,
      );
      const b2 = await b.expect(isReq("INVITE"), "the replacing INVITE", seenByB);
      assert.match(b2, new RegExp(`^INVITE sip:bob@127\\.0\\.0\\.1:${b.port} SIP/2\\.0`));
      const tandemTagB = tagOf(headerOf(b1, "from"))!;
      assert.equal(
        headerOf(b2, "replaces"),
        `${headerOf(b1, "call-id")};to-tag=b-tag-1;from-tag=${tandemTagB}`,
        "B's own leg of call 1, B's tag as to-tag",
      );
      assert.equal(headerOf(b2, "require"), "replaces");
      assert.notEqual(headerOf(b2, "call-id"), headerOf(b1, "call-id"));
      await b.send(reply(b, b2, 200, "b-tag-2", SDP), sip);
      const ok2 = await c.expect(isRes(200, "INVITE"), "C answered");
      await c.send(inDialog(c, sip, "ACK", ok2, 1), sip);
      await b.expect(isReq("ACK"), "call 2's ACK", seenByB);

      // B ends the dialog it replaced: A hears BYE on call 1.
      await b.send(calleeRequest(b, "BYE", b1, "b-tag-1", 1), sip);
      const bye = await a.expect(isReq("BYE"), "BYE for call 1");
      assert.equal(headerOf(bye, "call-id"), "call-1");
      await a.send(reply(a, bye, 200, "a-tag"), sip);
      await b.expect(isRes(200, "BYE"), "B's BYE answered");
      const calls = await (await fetch(`http://127.0.0.1:${http}/calls`)).json();
      const list = Array.isArray(calls) ? calls : calls.calls;
      assert.equal(list.length, 1, `only the replacing call is up: ${JSON.stringify(calls)}`);
      // C hangs up: B gets the BYE.
      const before = b.got.length;
      await c.send(inDialog(c, sip, "BYE", ok2, 2), sip);
      const bye2 = await b.expect(isReq("BYE"), "call 2's BYE", before);
      await b.send(reply(b, bye2, 200, "b-tag-2"), sip);
      await c.expect(isRes(200, "BYE"), "C's BYE answered");
    }),
});

Deno.test({
  name: "replaces: the RFC 5589 flow — A REFERs B to C with Replaces naming A's call to C; B's " +
    "INVITE to Tandem reaches C naming C's own leg; C ends the old dialog and A gets its BYE",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withParties(async ({ a, b, c, sip, http }) => {
      // Call 1, A to B; call 2, A to C (the consultation); both answered.
      await a.send(invite(a, sip, "call-1", "a-tag-1"), sip);
      const b1 = await b.expect(isReq("INVITE"), "call 1 at B");
      await b.send(reply(b, b1, 200, "b-tag-1", SDP), sip);
      const ok1 = await a.expect(isRes(200, "INVITE"), "call 1 answered");
      await a.send(inDialog(a, sip, "ACK", ok1, 1), sip);
      const seenByA = a.got.length;
      await a.send(invite(a, sip, "call-2", "a-tag-2", "", "carol"), sip);
      const c2 = await c.expect(isReq("INVITE"), "call 2 at C");
      await c.send(reply(c, c2, 200, "c-tag-2", SDP), sip);
      const ok2 = await a.expect(isRes(200, "INVITE"), "call 2 answered", seenByA);
      await a.send(inDialog(a, sip, "ACK", ok2, 1), sip);
      await c.expect(isReq("ACK"), "call 2's ACK");

      // A transfers B to C: Refer-To is C as A knows it (Tandem's Contact on call 2), with a
      // Replaces naming A's call 2 as that side sees it (Tandem's tag as to-tag).
      const contact2 = /<([^>]+)>/.exec(headerOf(ok2, "contact")!)![1];
      const t2 = tagOf(headerOf(ok2, "to"))!;
      const referTo = `<${contact2}?Replaces=call-2%3Bto-tag%3D${t2}%3Bfrom-tag%3Da-tag-2>`;
      await a.send(inDialog(a, sip, "REFER", ok1, 2, `Refer-To: ${referTo}\n`), sip);
      const refer = await b.expect(isReq("REFER"), "the REFER at B");
      assert.equal(headerOf(refer, "refer-to"), referTo, "Refer-To passes unchanged");
      await b.send(reply(b, refer, 202, "b-tag-1"), sip);
      await a.expect(isRes(202, "REFER"), "202 to A");

      // B (the transferee) calls the Refer-To target with its Replaces.
      const target = /<([^?>]+)\?Replaces=([^>]+)>/.exec(headerOf(refer, "refer-to")!)!;
      const replaces = decodeURIComponent(target[2]);
      const port = Number(/:(\d+)/.exec(target[1].slice(4))![1]);
      assert.equal(port, sip, "the Refer-To points at Tandem");
      const seenByC = c.got.length;
      await b.send(invite(b, sip, "call-3", "b-tag-3", `Replaces: ${replaces}\n`, "x"), port);
      const c3 = await c.expect(isReq("INVITE"), "the replacing INVITE at C", seenByC);
      assert.equal(
        headerOf(c3, "replaces"),
        `${headerOf(c2, "call-id")};to-tag=c-tag-2;from-tag=${tagOf(headerOf(c2, "from"))}`,
        "C's own leg of call 2",
      );
      await c.send(reply(c, c3, 200, "c-tag-3", SDP), sip);
      const ok3 = await b.expect(isRes(200, "INVITE"), "B connected to C");
      await b.send(inDialog(b, sip, "ACK", ok3, 1), sip);

      // C ends the dialog it replaced: A's call 2 gets the BYE.
      await c.send(calleeRequest(c, "BYE", c2, "c-tag-2", 1), sip);
      const bye2 = await a.expect(
        (m) => isReq("BYE")(m) && /call-2/.test(headerOf(m, "call-id")!),
        "BYE for call 2",
      );
      await a.send(reply(a, bye2, 200, "a-tag-2"), sip);
      await c.expect(isRes(200, "BYE"), "C's BYE answered");
      // A hangs up call 1 (the transfer is done); B and C stay connected.
      await a.send(inDialog(a, sip, "BYE", ok1, 3), sip);
      const bye1 = await b.expect(isReq("BYE"), "call 1's BYE at B");
      await b.send(reply(b, bye1, 200, "b-tag-1"), sip);
      await a.expect(isRes(200, "BYE"), "A's BYE answered");
      const calls = await (await fetch(`http://127.0.0.1:${http}/calls`)).json();
      const list = Array.isArray(calls) ? calls : calls.calls;
      assert.equal(list.length, 1, `only B to C is up: ${JSON.stringify(calls)}`);
      // B and C talk, then B hangs up.
      const seen = c.got.length;
      await b.send(inDialog(b, sip, "BYE", ok3, 2), sip);
      const bye3 = await c.expect(isReq("BYE"), "call 3's BYE at C", seen);
      await c.send(reply(c, bye3, 200, "c-tag-3"), sip);
      await b.expect((m) => isRes(200, "BYE")(m) && /call-3/.test(headerOf(m, "call-id")!), "done");
    }),
});

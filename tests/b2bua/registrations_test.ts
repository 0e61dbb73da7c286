// REGISTER relayed to the registrar for phones over WebSocket, and calls the registrar then sends
// to them reaching them over their connection. Over the in-memory loop.

import assert from "node:assert/strict";
import type { CallRecord } from "../../src/b2bua/mod.ts";
import { Registrations } from "../../src/b2bua/registrations.ts";
import type { SipRequest, SipResponse } from "../../src/sip/mod.ts";
import type { Endpoint } from "../../src/transport/types.ts";
import { answer, CALLER, callerInvite, config, Loop, req, res, route } from "./loop.ts";

const BROWSER: Endpoint = { host: "10.0.0.77", port: 40000, protocol: "ws" };
const REGISTRAR: Endpoint = { host: "10.0.0.50", port: 5060, protocol: "udp" };
const PHONE_CONTACT = "sip:xyz123@abc.invalid;transport=ws";

function register(cseq: number, extra = "", contact = `<${PHONE_CONTACT}>;expires=600`): string {
  return `REGISTER sip:example.test SIP/2.0
Via: SIP/2.0/WSS abc.invalid;branch=z9hG4bK-reg-${cseq}
Max-Forwards: 70
From: <sip:alice@example.test>;tag=reg1
To: <sip:alice@example.test>
Call-ID: reg-call-1
CSeq: ${cseq} REGISTER
Contact: ${contact}
Expires: 600
User-Agent: browser-phone
${extra}Content-Length: 0

`;
}

function setup() {
  const cfg = config([]); // no rules: calls reach phones only through their registration
  cfg.registrar = route(REGISTRAR.host, REGISTRAR.port, { name: "registrar" });
  const ended: CallRecord[] = [];
  const loop = new Loop(cfg, { onCallEnded: (r) => ended.push(r) });
  loop.transports.add("ws");
  return { loop, ended };
}

/** Register the phone: a 401 first, then credentials and the registrar's 200. The token. */
function registered(loop: Loop): string {
  loop.inject(register(1), BROWSER);
  const first = loop.expect(req("REGISTER", 5060), "REGISTER to the registrar");
  assert.equal(first.dest.host, REGISTRAR.host);
  const out = first.msg as SipRequest;
  assert.equal(out.uri, "sip:example.test");
  const token = /^<sip:([a-z0-9]+)@10\.0\.0\.9:5060>;expires=600$/.exec(out.get("contact")!)?.[1];
  assert.ok(token, `Tandem's own Contact, not the phone's: ${out.get("contact")}`);
  assert.equal(out.get("user-agent"), "browser-phone");
  assert.ok(!out.getAll("via").some((v) => v.includes("abc.invalid")), "topology hidden");
  loop.inject(
    answer(out, 401, "r1", {
      extra: 'WWW-Authenticate: Digest realm="example.test", nonce="n1"\n',
    }),
    REGISTRAR,
  );
  const challenge = loop.expect(res(401, "REGISTER"), "401 to the phone").msg as SipResponse;
  assert.equal(challenge.get("www-authenticate"), 'Digest realm="example.test", nonce="n1"');
  assert.equal(challenge.getAll("via").length, 1);
  loop.inject(register(2, 'Authorization: Digest username="alice", response="r"\n'), BROWSER);
  const second = loop.expect(req("REGISTER", 5060), "REGISTER with credentials").msg as SipRequest;
  assert.equal(second.get("authorization"), 'Digest username="alice", response="r"');
  assert.match(second.get("contact")!, new RegExp(`^<sip:${token}@`), "the same token again");
  loop.inject(
    answer(second, 200, "r2", {
      contact: `<sip:${token}@10.0.0.9:5060>;expires=600, <sip:bob@192.0.2.99>;expires=300`,
    }),
    REGISTRAR,
  );
  const ok = loop.expect(res(200, "REGISTER"), "200 to the phone").msg as SipResponse;
  // Its own Contact back (as JsSIP checks), and not the other device's.
  assert.deepEqual(ok.getAll("contact"), [`<${PHONE_CONTACT}>;expires=600`]);
  return token!;
}

Deno.test("registrar: REGISTER relayed with Tandem's Contact; 401 and 200 relayed back", () => {
  const { loop } = setup();
  registered(loop);
  assert.equal(loop.b2bua.registrations.size, 1);
});

Deno.test("registrar: a call to the token reaches the phone over its connection, at its Contact", () => {
  const { loop, ended } = setup();
  const token = registered(loop);
  loop.inject(callerInvite(token), CALLER);
  const inv = loop.expect(req("INVITE"), "INVITE to the phone");
  assert.deepEqual(inv.dest, BROWSER);
  assert.equal((inv.msg as SipRequest).uri, PHONE_CONTACT);
  loop.inject(answer(inv.msg, 486, "p1"), BROWSER);
  loop.expect(res(486), "486 to the caller");
  assert.equal(ended[0].rule, "registered");
  assert.equal(ended[0].attempts[0].target, "ws:10.0.0.77:40000");
});

Deno.test("registrar: a closed connection or an unregister forgets the phone", () => {
  const { loop } = setup();
  const token = registered(loop);
  loop.b2bua.flowClosed(BROWSER);
  assert.equal(loop.b2bua.registrations.size, 0);
  loop.inject(callerInvite(token, "", 2), CALLER);
  loop.expect(res(480), "a phone gone with its connection is away, not unknown");
  loop.inject(callerInvite("not-a-token", "", 3), CALLER);
  loop.expect(res(404), "no route for anybody else");
  loop.timers.advance(600_000); // past the registrar's grant of 600 s
  loop.inject(callerInvite(token, "", 4), CALLER);
  loop.expect(res(404), "and once the grant would have run out, nobody");

  const again = setup();
  const t2 = registered(again.loop);
  again.loop.inject(register(3, "", `<${PHONE_CONTACT}>;expires=0`), BROWSER);
  const un = again.loop.expect(req("REGISTER", 5060), "unregister").msg as SipRequest;
  assert.match(un.get("contact")!, new RegExp(`^<sip:${t2}@.*;expires=0$`));
  again.loop.inject(answer(un, 200, "r3"), REGISTRAR);
  again.loop.expect(res(200, "REGISTER"), "200 to the phone");
  assert.equal(again.loop.b2bua.registrations.size, 0);
});

Deno.test("registrar: without one, REGISTER gets 405", () => {
  const loop = new Loop(config([]));
  loop.transports.add("ws");
  loop.inject(register(1), BROWSER);
  loop.expect(res(405, "REGISTER"), "405");
});

Deno.test("registrar: no answer from the registrar is 408 to the phone", () => {
  const { loop } = setup();
  loop.inject(register(1), BROWSER);
  loop.take();
  loop.timers.advance(32_000);
  loop.expect(res(408, "REGISTER"), "408 after Timer F");
});

Deno.test("registrations: a token per connection and Contact, kept across re-REGISTERs, gone when the grant runs out", () => {
  let seed = 1;
  const t = new Registrations(() => ((seed = (seed * 48271) % 2147483647) / 2147483647));
  const b1 = t.bind(BROWSER, PHONE_CONTACT, "sip:alice@example.test", 0)!;
  assert.equal(t.lookup(b1.token, 0), undefined, "not callable before the registrar grants it");
  t.grant(b1, 60, 0);
  assert.equal(t.lookup(b1.token, 59_999), b1);
  assert.equal(t.bind(BROWSER, PHONE_CONTACT, "sip:alice@example.test", 10)!, b1, "same token");
  const other = t.bind({ ...BROWSER, port: 40001 }, PHONE_CONTACT, "sip:alice@example.test", 0)!;
  assert.notEqual(other.token, b1.token, "another connection is another binding");
  assert.deepEqual(t.list(30_000).map((b) => b.token), [b1.token], "only granted ones listed");
  assert.equal(t.lookup(b1.token, 60_000), undefined, "the grant ran out");
  assert.equal(t.size, 1, "and it was forgotten");
  assert.equal(t.dropFlow({ ...BROWSER, port: 40001 }), 1);
  assert.equal(t.size, 0);
  t.grant(t.bind(BROWSER, PHONE_CONTACT, "a", 0)!, 0, 0);
  assert.equal(t.size, 0, "a grant of 0 removes it");
});

Deno.test("registrar: a phone registered over UDP gets a keep-alive each nat_keepalive, one over WebSocket none", () => {
  const cfg = config([]);
  cfg.registrar = {
    ...route(REGISTRAR.host, REGISTRAR.port, { name: "registrar" }),
    natKeepalive: 5000,
  };
  const loop = new Loop(cfg);
  loop.transports.add("ws");
  const PHONE: Endpoint = { host: "198.51.100.20", port: 31000, protocol: "udp" };
  loop.inject(register(11, "", "<sip:alice@192.168.1.20:5060>;expires=600"), PHONE);
  const out = loop.expect(req("REGISTER", 5060), "REGISTER to the registrar").msg as SipRequest;
  loop.inject(answer(out, 200, "r1", { contact: `${out.get("contact")}` }), REGISTRAR);
  loop.expect(res(200, "REGISTER"), "200 to the phone");
  registered(loop); // the browser, over WebSocket
  loop.b2bua.startProbes();
  loop.timers.advance(5000);
  assert.deepEqual(loop.pings, [PHONE], "one keep-alive to the UDP phone's address and port");
  loop.timers.advance(5000);
  assert.deepEqual(loop.pings, [PHONE, PHONE], "and one each interval, not more");
  // Unregistered (expires 0), it gets none.
  loop.inject(register(13, "", "<sip:alice@192.168.1.20:5060>;expires=0"), PHONE);
  const bye = loop.expect(req("REGISTER", 5060), "the unregister").msg as SipRequest;
  loop.inject(answer(bye, 200, "r3"), REGISTRAR);
  loop.timers.advance(10_000);
  assert.equal(loop.pings.length, 2);
  loop.b2bua.stopProbes();
});

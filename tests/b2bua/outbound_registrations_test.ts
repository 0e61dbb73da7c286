// Accounts Tandem registers at a carrier's registrar (outbound_registrations): REGISTER with a
// stable Call-ID, challenges answered, refreshes ahead of expiry, back-off on failure,
// unregistration on stop and on reload. Over the in-memory loop with manual timers; the
// registrar is played by the test.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { digestAuthorization } from "../../src/aaa/mod.ts";
import type { Config, OutboundRegistrationConfig } from "../../src/config/types.ts";
import type { SipRequest } from "../../src/sip/mod.ts";
import { metrics } from "../../src/util/metrics.ts";
import { answer, config, Loop, req, route } from "./loop.ts";

const REGISTRAR = { host: "10.0.0.5", port: 5060, protocol: "udp" as const };
const CHALLENGE = 'Digest realm="carrier.example", nonce="n1", algorithm=MD5';

function account(over: Partial<OutboundRegistrationConfig> = {}): OutboundRegistrationConfig {
  return {
    name: "carrier-a",
    route: route(REGISTRAR.host, REGISTRAR.port, { name: "carrier-a" }),
    aor: "sip:+15551230000@carrier.example",
    registrarUri: "sip:carrier.example",
    contactUser: "+15551230000",
    expires: 3600,
    auth: { username: "acct1", password: "s3cret" },
    ...over,
  };
}

function withAccounts(list: OutboundRegistrationConfig[]): Config {
  return { ...config([]), outboundRegistrations: list };
}

function setup(list = [account()]) {
  const loop = new Loop(withAccounts(list), { digest: digestAuthorization });
  loop.b2bua.outbound.start();
  return loop;
}

/** Let timers due in `ms` fire and the promise jobs they start run. */
async function advance(loop: Loop, ms: number): Promise<void> {
  loop.timers.advance(ms);
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

/** The REGISTERs sent since the last look (retransmissions left out). */
function registers(loop: Loop): SipRequest[] {
  const seen = new Set<string>();
  return loop.take().filter(req("REGISTER")).map((s) => s.msg as SipRequest).filter((r) => {
    const key = `${r.callId} ${r.get("cseq")}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** RFC 2617 §3.2.2.1 without qop, computed here rather than by the code under test. */
function md5Response(user: string, realm: string, pass: string, nonce: string, uri: string) {
  const h = (s: string) => createHash("md5").update(s).digest("hex");
  return h(`${h(`${user}:${realm}:${pass}`)}:${nonce}:${h(`REGISTER:${uri}`)}`);
}

function state(loop: Loop, name = "carrier-a") {
  return loop.b2bua.outbound.list().find((a) => a.name === name);
}

Deno.test("outbound registration: REGISTER, challenge answered, 200; refreshed ahead of expiry with the same Call-ID", async () => {
  const loop = setup();
  await advance(loop, 0);
  const [first, ...more] = registers(loop);
  assert.equal(more.length, 0);
  assert.equal(first.uri, "sip:carrier.example");
  assert.equal(first.get("to"), "<sip:+15551230000@carrier.example>");
  assert.match(first.get("from")!, /^<sip:\+15551230000@carrier\.example>;tag=\w+$/);
  assert.equal(first.get("contact"), "<sip:+15551230000@10.0.0.9:5060>");
  assert.equal(first.get("expires"), "3600");
  assert.equal(first.get("authorization"), undefined);
  assert.equal(state(loop)?.state, "registering");

  loop.inject(answer(first, 401, "r1", { extra: `WWW-Authenticate: ${CHALLENGE}\n` }), REGISTRAR);
  await advance(loop, 0);
  const [second] = registers(loop);
  assert.equal(second.callId, first.callId);
  assert.equal(second.cseq.seq, first.cseq.seq + 1);
  const auth = second.get("authorization")!;
  assert.match(auth, /username="acct1"/);
  assert.match(auth, /uri="sip:carrier\.example"/);
  const expected = md5Response("acct1", "carrier.example", "s3cret", "n1", "sip:carrier.example");
  assert.match(auth, new RegExp(`response="${expected}"`));

  loop.inject(
    answer(second, 200, "r1", {
      contact: "<sip:+15551230000@10.0.0.9:5060>;expires=1800, <sip:other@192.0.2.9>;expires=50",
    }),
    REGISTRAR,
  );
  await advance(loop, 0);
  const s = state(loop)!;
  assert.equal(s.state, "registered");
  assert.equal(s.last, "200");
  assert.equal(s.expiresAt! - loop.timers.manual.now(), 1800_000, "our Contact's expires");
  assert.match(
    metrics.expose(),
    /^tandem_outbound_registration_up\{name="carrier-a"\} 1$/m,
  );

  // Refreshed 300 s before the binding ends, with the last challenge's nonce counted on.
  await advance(loop, 1_499_000);
  assert.equal(registers(loop).length, 0, "nothing before the refresh is due");
  await advance(loop, 1000);
  const [refresh] = registers(loop);
  assert.equal(refresh.callId, first.callId);
  assert.equal(refresh.cseq.seq, second.cseq.seq + 1);
  assert.match(refresh.get("authorization")!, /nonce="n1"/);
  assert.equal(state(loop)?.state, "registered", "still registered while the refresh is out");
});

Deno.test("outbound registration: credentials refused are a failure, retried after a back-off", async () => {
  const loop = setup();
  await advance(loop, 0);
  const [first] = registers(loop);
  loop.inject(answer(first, 401, "r", { extra: `WWW-Authenticate: ${CHALLENGE}\n` }), REGISTRAR);
  await advance(loop, 0);
  const [second] = registers(loop);
  assert.ok(second.get("authorization"));
  loop.inject(
    answer(second, 401, "r", { extra: `WWW-Authenticate: ${CHALLENGE.replace("n1", "n2")}\n` }),
    REGISTRAR,
  );
  await advance(loop, 0);
  assert.equal(registers(loop).length, 0, "no third try in the same round");
  const s = state(loop)!;
  assert.equal(s.state, "failed");
  assert.match(s.last, /^401 .*credentials refused$/);
  const wait = s.nextAt! - loop.timers.manual.now();
  assert.ok(wait >= 15_000 && wait <= 30_000, `first back-off 15-30 s, got ${wait}`);
  await advance(loop, wait);
  assert.equal(registers(loop).length, 1, "tried again after the back-off");
});

Deno.test("outbound registration: a stale nonce is answered again; 423 asks for Min-Expires", async () => {
  const loop = setup();
  await advance(loop, 0);
  const [first] = registers(loop);
  loop.inject(answer(first, 401, "r", { extra: `WWW-Authenticate: ${CHALLENGE}\n` }), REGISTRAR);
  await advance(loop, 0);
  const [second] = registers(loop);
  loop.inject(
    answer(second, 401, "r", {
      extra: `WWW-Authenticate: ${CHALLENGE.replace("n1", "n2")}, stale=true\n`,
    }),
    REGISTRAR,
  );
  await advance(loop, 0);
  const [third] = registers(loop);
  assert.match(third.get("authorization")!, /nonce="n2"/);
  loop.inject(answer(third, 423, "r", { extra: "Min-Expires: 7200\n" }), REGISTRAR);
  await advance(loop, 0);
  const [fourth] = registers(loop);
  assert.equal(fourth.get("expires"), "7200");
  loop.inject(answer(fourth, 200, "r", { extra: "Expires: 7200\n" }), REGISTRAR);
  await advance(loop, 0);
  assert.equal(state(loop)?.state, "registered");
  assert.equal(state(loop)!.expiresAt! - loop.timers.manual.now(), 7_200_000);
});

Deno.test("outbound registration: no answer fails after Timer F; a 503's Retry-After is kept to", async () => {
  const loop = setup([account({ auth: undefined })]);
  await advance(loop, 0);
  assert.equal(registers(loop).length, 1);
  await advance(loop, 32_000); // Timer F: 64*T1
  registers(loop); // its retransmissions
  const s = state(loop)!;
  assert.equal(s.state, "failed");
  assert.equal(s.last, "timeout");
  await advance(loop, s.nextAt! - loop.timers.manual.now());
  const [again] = registers(loop);
  assert.equal(again.cseq.seq, 2);
  loop.inject(answer(again, 503, "r", { extra: "Retry-After: 120\n" }), REGISTRAR);
  await advance(loop, 0);
  assert.equal(state(loop)!.nextAt! - loop.timers.manual.now(), 120_000);
  assert.equal(state(loop)!.failures, 2);
});

Deno.test("outbound registration: a challenge without credentials configured is a failure", async () => {
  const loop = setup([account({ auth: undefined })]);
  await advance(loop, 0);
  const [first] = registers(loop);
  loop.inject(answer(first, 407, "r", { extra: `Proxy-Authenticate: ${CHALLENGE}\n` }), REGISTRAR);
  await advance(loop, 0);
  assert.equal(registers(loop).length, 0);
  assert.match(state(loop)!.last, /^407 .*no credentials configured$/);
});

/** Register the account and answer 200 to it. */
async function registered(loop: Loop): Promise<SipRequest> {
  await advance(loop, 0);
  const [r] = registers(loop);
  loop.inject(answer(r, 200, "r", { extra: "Expires: 3600\n" }), REGISTRAR);
  await advance(loop, 0);
  assert.equal(state(loop)?.state, "registered");
  return r;
}

Deno.test("outbound registration: stop unregisters (expires 0) and waits for the answer", async () => {
  const loop = setup();
  const reg = await registered(loop);
  let done = false;
  const stopping = loop.b2bua.outbound.stop(3000).then(() => done = true);
  await advance(loop, 0);
  const [un] = registers(loop);
  assert.equal(un.callId, reg.callId);
  assert.equal(un.get("expires"), "0");
  assert.equal(un.get("contact"), "<sip:+15551230000@10.0.0.9:5060>;expires=0");
  assert.equal(done, false, "waits for the registrar");
  loop.inject(answer(un, 200, "r"), REGISTRAR);
  await advance(loop, 0);
  await stopping;
  assert.equal(done, true);
  // A second stop (the shutdown after a drain) waits for the same, and sends nothing more.
  await loop.b2bua.outbound.stop(3000);
  assert.equal(registers(loop).length, 0);
});

Deno.test("outbound registration: nat_keepalive sends a double CRLF to the registrar's server every interval while the binding lives", async () => {
  const loop = setup([account({ natKeepalive: 25_000 })]);
  await advance(loop, 0);
  assert.equal(loop.pings.length, 0, "none before a binding");
  const reg = await registered(loop);
  await advance(loop, 24_999);
  assert.equal(loop.pings.length, 0);
  await advance(loop, 1);
  await advance(loop, 25_000);
  assert.deepEqual(loop.pings, [REGISTRAR, REGISTRAR]);

  // The refresh (at 3300 s) fails: the binding still runs, so do the keep-alives; they stop
  // when it runs out.
  await advance(loop, 3_300_000 - 50_000);
  const [refresh] = registers(loop);
  loop.inject(answer(refresh, 403, "r"), REGISTRAR);
  await advance(loop, 0);
  assert.equal(state(loop)?.state, "failed");
  const before = loop.pings.length;
  await advance(loop, 50_000);
  assert.equal(loop.pings.length, before + 2, "still sent while the binding lives");
  registers(loop);
  await advance(loop, 300_000);
  const atEnd = loop.pings.length;
  await advance(loop, 100_000);
  assert.equal(loop.pings.length, atEnd, "none after the binding ran out");
  assert.equal(reg.callId, refresh.callId);
});

Deno.test("outbound registration: no keep-alives unless configured, and none after stop", async () => {
  const plain = setup();
  await registered(plain);
  await advance(plain, 600_000);
  assert.equal(plain.pings.length, 0);

  const loop = setup([account({ natKeepalive: 10_000 })]);
  await registered(loop);
  await advance(loop, 10_000);
  assert.equal(loop.pings.length, 1);
  const stopping = loop.b2bua.outbound.stop(3000);
  await advance(loop, 0);
  const [un] = registers(loop);
  loop.inject(answer(un, 200, "r"), REGISTRAR);
  await advance(loop, 0);
  await stopping;
  await advance(loop, 60_000);
  assert.equal(loop.pings.length, 1);
});

Deno.test("outbound registration: a lost flow to the registrar re-registers within 2 s, a second loss within a minute after 30 s", async () => {
  const loop = setup();
  const reg = await registered(loop);
  assert.equal(loop.b2bua.outbound.flowLost({ ...REGISTRAR, port: 5999 }), 0, "another server");
  assert.equal(loop.b2bua.outbound.flowLost(REGISTRAR), 1);
  await advance(loop, 2000);
  const [again] = registers(loop);
  assert.ok(again, "registered again at once");
  assert.equal(again.callId, reg.callId);
  assert.equal(again.cseq.seq, reg.cseq.seq + 1);
  loop.inject(answer(again, 200, "r", { extra: "Expires: 3600\n" }), REGISTRAR);
  await advance(loop, 10_000);

  // Lost again soon after: RFC 5626's base time, not a loop.
  assert.equal(loop.b2bua.outbound.flowLost(REGISTRAR), 1);
  await advance(loop, 29_000);
  assert.equal(registers(loop).length, 0, "not before 30 s");
  await advance(loop, 1000);
  assert.equal(registers(loop).length, 1);
});

Deno.test("outbound registration: a lost flow means nothing to an account without a binding", async () => {
  const loop = setup();
  await advance(loop, 0);
  registers(loop); // the first REGISTER, unanswered
  assert.equal(loop.b2bua.outbound.flowLost(REGISTRAR), 0);
});

Deno.test("outbound registration: stop gives up on a silent registrar after its wait", async () => {
  const loop = setup();
  await registered(loop);
  let done = false;
  const stopping = loop.b2bua.outbound.stop(3000).then(() => done = true);
  await advance(loop, 2900);
  assert.equal(done, false);
  await advance(loop, 100);
  await stopping;
  assert.equal(done, true);
});

Deno.test("outbound registration: a reload refreshes a changed account at once, unregisters a removed one, registers a new one", async () => {
  const loop = setup([account(), account({ name: "carrier-b", aor: "sip:b@carrier-b.example" })]);
  await advance(loop, 0);
  const firsts = registers(loop);
  for (const r of firsts) {
    loop.inject(answer(r, 200, "r", { extra: "Expires: 3600\n" }), REGISTRAR);
  }
  await advance(loop, 0);
  assert.deepEqual(loop.b2bua.outbound.list().map((a) => a.state), ["registered", "registered"]);

  // carrier-a: new password (same binding); carrier-b: gone; carrier-c: new.
  loop.cfg = withAccounts([
    account({ auth: { username: "acct1", password: "rotated" } }),
    account({ name: "carrier-c", aor: "sip:c@carrier-c.example", contactUser: "c" }),
  ]);
  await advance(loop, 1000);
  const sent = registers(loop);
  const byAor = (aor: string) => sent.filter((r) => r.get("to") === `<${aor}>`);
  const [a] = byAor("sip:+15551230000@carrier.example");
  assert.equal(a.get("expires"), "3600", "carrier-a refreshed, not removed");
  assert.equal(a.callId, firsts[0].callId, "under the same Call-ID, replacing its binding");
  const [b] = byAor("sip:b@carrier-b.example");
  assert.equal(b.get("expires"), "0", "carrier-b unregistered");
  const [c] = byAor("sip:c@carrier-c.example");
  assert.equal(c.get("expires"), "3600", "carrier-c registered");
  assert.deepEqual(loop.b2bua.outbound.list().map((x) => x.name).sort(), [
    "carrier-a",
    "carrier-c",
  ]);
});

Deno.test("outbound registration: stopping while the first REGISTER is unanswered still unregisters", async () => {
  const loop = setup([account({ auth: undefined })]);
  await advance(loop, 0);
  const [first] = registers(loop);
  const stopping = loop.b2bua.outbound.stop(3000);
  await advance(loop, 0);
  const [un] = registers(loop);
  assert.equal(un?.get("expires"), "0", "an unregistration follows the unanswered REGISTER");
  // The late 200 of the first is ignored; the unregistration's answer ends it.
  loop.inject(answer(first, 200, "r", { extra: "Expires: 3600\n" }), REGISTRAR);
  loop.inject(answer(un, 200, "r"), REGISTRAR);
  await advance(loop, 0);
  await stopping;
  assert.deepEqual(loop.b2bua.outbound.list(), []);
});

Deno.test("outbound registration: a reload that moves the account to another registrar unregisters it at the old one", async () => {
  const loop = setup([account({ auth: undefined })]);
  const first = await registered(loop);
  loop.cfg = withAccounts([
    account({ auth: undefined, route: route("10.0.0.6", 5060, { name: "carrier-a" }) }),
  ]);
  await advance(loop, 1000);
  const sent = loop.take().filter(req("REGISTER"));
  const old = sent.find((s) => s.dest.host === "10.0.0.5")?.msg as SipRequest | undefined;
  const fresh = sent.find((s) => s.dest.host === "10.0.0.6")?.msg as SipRequest | undefined;
  assert.equal(old?.get("expires"), "0", "taken away at the old registrar");
  assert.equal(old?.callId, first.callId);
  assert.equal(fresh?.get("expires"), "3600", "made at the new one");
  assert.notEqual(fresh?.callId, first.callId, "a new binding, a new Call-ID");
});

Deno.test("outbound registration: with several SIP workers its Call-ID is one whose answers reach this worker", async () => {
  // A stand-in for the Call-ID hash of src/sip/call-id-hash.ts: this worker owns ids starting "k".
  const owns = (id: string) => id.startsWith("k");
  const loop = new Loop(
    withAccounts([account({ auth: undefined })]),
    { digest: digestAuthorization },
    undefined,
    owns,
  );
  loop.b2bua.outbound.start();
  await advance(loop, 0);
  const [r] = registers(loop);
  assert.ok(owns(r.callId), r.callId);
});

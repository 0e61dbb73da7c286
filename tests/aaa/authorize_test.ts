// RFC 2865 Access-Request / draft-sterman digest against a real FreeRADIUS (apt `freeradius`).

import assert from "node:assert/strict";
import { freeUdpPort, startFreeRadius } from "./freeradius.ts";
import {
  authorizeBySource,
  authorizeDigest,
  checkNonce,
  digestAuthorization,
  digestChallenge,
  parseProxyAuthorization,
  RadiusClient,
} from "../../src/aaa/mod.ts";
import { metrics } from "../../src/util/metrics.ts";

const SECRET = "testing123";

function server(authPort: number, acctPort: number, timeout = 300, retries = 1) {
  return { address: "127.0.0.1", authPort, acctPort, secret: SECRET, timeout, retries };
}

function digestCreds(user: string, password: string, now = Date.now()) {
  const challenge = digestChallenge({ realm: "tandem.test", secret: "nonce-key", now });
  const header = digestAuthorization({
    method: "INVITE",
    uri: "sip:1001@tandem.test",
    username: user,
    password,
    challenge,
    cnonce: "c0ffee",
    nc: 1,
  });
  const creds = parseProxyAuthorization(header);
  assert.equal(checkNonce("nonce-key", creds.nonce, now), "valid");
  return creds;
}

Deno.test("draft-sterman digest: right password → accept, wrong → reject; Cisco reply parsed", async () => {
  const fr = await startFreeRadius();
  const client = new RadiusClient({ servers: [server(fr.authPort, fr.acctPort)] });
  try {
    const ok = await authorizeDigest(client, digestCreds("alice", "wonderland"), "INVITE", {
      nasIp: "127.0.0.1",
      callingStationId: "alice",
      calledStationId: "1001",
    });
    assert.equal(ok.outcome, "accept");
    assert.equal(ok.message, "hello alice");

    const bad = await authorizeDigest(client, digestCreds("alice", "nope"), "INVITE");
    assert.equal(bad.outcome, "reject");

    const credit = await authorizeDigest(client, digestCreds("credit", "money"), "INVITE");
    assert.deepEqual(credit, {
      outcome: "accept",
      creditTimeMs: 120_000,
      routes: ["gw1", "gw2"],
      callerId: "15551230000",
      display: "Credit Line",
      returnCode: 0,
    });

    const ivr = await authorizeDigest(client, digestCreds("ivr", "voice"), "INVITE");
    assert.equal(ivr.outcome, "accept");
    assert.equal(ivr.creditTimeMs, 60_000);
    assert.deepEqual(ivr.routes, ["10.0.0.7:5060"]);

    // h323-return-code other than 0 turns an Access-Accept into a reject (Cisco semantics).
    const broke = await authorizeDigest(client, digestCreds("broke", "nomoney"), "INVITE");
    assert.equal(broke.outcome, "reject");
    assert.equal(broke.returnCode, 4);

    const src = await authorizeBySource(client, "127.0.0.1");
    assert.equal(src.outcome, "accept");
    assert.equal(src.creditTimeMs, 300_000);
    const unknown = await authorizeBySource(client, "192.0.2.9");
    assert.equal(unknown.outcome, "reject");
  } finally {
    await client.close();
    await fr.stop();
  }
});

Deno.test("server down → timeout outcome; then failover to the second server", async () => {
  const fr = await startFreeRadius();
  const deadAuth = await freeUdpPort();
  const deadAcct = await freeUdpPort();
  const dead = server(deadAuth, deadAcct, 150, 1);
  const only = new RadiusClient({ servers: [dead] });
  const both = new RadiusClient({ servers: [dead, server(fr.authPort, fr.acctPort)] });
  try {
    const t0 = Date.now();
    const r = await authorizeDigest(only, digestCreds("alice", "wonderland"), "INVITE");
    assert.equal(r.outcome, "timeout");
    assert.ok(Date.now() - t0 >= 280, "two tries of 150 ms each");

    const label = { server: `127.0.0.1:${deadAuth}` };
    const before = metrics.counter("tandem_radius_timeouts_total", "").get({
      ...label,
      type: "auth",
    });
    const ok = await authorizeDigest(both, digestCreds("alice", "wonderland"), "INVITE");
    assert.equal(ok.outcome, "accept");
    assert.equal(
      metrics.counter("tandem_radius_timeouts_total", "").get({ ...label, type: "auth" }),
      before + 1,
    );
    assert.equal(metrics.gauge("tandem_radius_server_up", "").get(label), 0);
    assert.deepEqual(both.health().map((h) => h.up), [false, true]);
    // While the first server is marked down, the next request goes straight to the second: no
    // new timeout against the first (a try there would end in one after 150 ms).
    const timeoutsBefore = metrics.counter("tandem_radius_timeouts_total", "").get({
      ...label,
      type: "auth",
    });
    assert.equal(
      (await authorizeDigest(both, digestCreds("alice", "wonderland"), "INVITE")).outcome,
      "accept",
    );
    assert.equal(
      metrics.counter("tandem_radius_timeouts_total", "").get({ ...label, type: "auth" }),
      timeoutsBefore,
      "the server marked down was not tried",
    );
  } finally {
    await only.close();
    await both.close();
    await fr.stop();
  }
});

// Digest replay protection: an INVITE whose Proxy-Authorization was answered once is not let in
// again with another Call-ID; a new call under the same nonce with a higher nonce count is. The
// services' local digest check (auth.mode: local) under the engine, over the in-memory loop.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildServices } from "../../src/app/services.ts";
import { NonceCounts } from "../../src/aaa/mod.ts";
import { parseConfig } from "../../src/config/mod.ts";
import type { SipResponse } from "../../src/sip/mod.ts";
import { Logger } from "../../src/util/log.ts";
import { CALLER, callerInvite, Loop, req, res } from "../b2bua/loop.ts";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

Deno.test("nonce counts: each (nonce, nc) once; nc must grow; without qop a nonce serves once", () => {
  const n = new NonceCounts(300_000, 3);
  assert.equal(n.take("a", "00000001", 0), true);
  assert.equal(n.take("a", "00000001", 1), false, "the same count again: a replay");
  assert.equal(n.take("a", "00000003", 2), true, "a higher one: the client's next request");
  assert.equal(n.take("a", "00000002", 3), false, "a lower one after it");
  assert.equal(n.take("b", undefined, 4), true);
  assert.equal(n.take("b", undefined, 5), false, "no qop: once");
  assert.equal(n.take("c", "zz", 6), false, "not a count");
  assert.equal(n.take("c", "00000000", 6), false, "counts start at 1");
  // Past the nonce's age the entry goes (the nonce itself is stale by then).
  assert.equal(n.take("b", undefined, 400_000), true);
  // At most maxEntries: the oldest go first.
  n.take("d", "1", 400_001);
  n.take("e", "1", 400_002);
  n.take("f", "1", 400_003);
  assert.ok(n.size <= 3);
});

Deno.test("local digest: a replayed INVITE gets a fresh 407 (stale), a new call with the next nc goes through", async () => {
  const cfg = parseConfig(
    `users: [{ username: pbx1, password: s3cret }]
rules:
  - name: customers
    auth: { mode: local, realm: tandem.test }
    routes: [{ target: "10.0.0.2:5090" }]
`,
    "t.yaml",
    "yaml",
    { env: {} },
  );
  const services = await buildServices(cfg, new Logger("error", "json", () => {}));
  try {
    const loop = new Loop(cfg, services.b2bua);
    const settle = async (pred: () => boolean, what: string) => {
      for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(pred(), what);
    };
    loop.inject(callerInvite("bob", "", 1), CALLER);
    await settle(() => loop.sent.some(res(407)), "407");
    const challenge = (loop.take().find(res(407))!.msg as SipResponse).get("proxy-authenticate")!;
    const nonce = /nonce="([^"]+)"/.exec(challenge)![1];
    const uri = "sip:bob@10.0.0.9:5060";
    const answer = (nc: string) => {
      const ha1 = md5("pbx1:tandem.test:s3cret");
      const response = md5(`${ha1}:${nonce}:${nc}:c0ffee:auth:${md5(`INVITE:${uri}`)}`);
      return `Proxy-Authorization: Digest username="pbx1", realm="tandem.test", nonce="${nonce}", ` +
        `uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="c0ffee"\n`;
    };
    const sendsInvite = async (n: number, nc: string) => {
      loop.inject(callerInvite("bob", answer(nc), n), CALLER);
      await settle(
        () => loop.sent.some(req("INVITE", 5090)) || loop.sent.some(res(407)),
        `an answer to call ${n}`,
      );
      const out = loop.take();
      return { invite: out.some(req("INVITE", 5090)), stale: out.find(res(407)) };
    };
    assert.equal((await sendsInvite(2, "00000001")).invite, true, "the answered challenge");
    // The same Proxy-Authorization on a new call (another Call-ID, branch and tag): refused.
    const replay = await sendsInvite(3, "00000001");
    assert.equal(replay.invite, false, "a replay places no call");
    assert.match((replay.stale!.msg as SipResponse).get("proxy-authenticate")!, /stale=true/i);
    // The phone's own next call under that nonce counts on: let in.
    assert.equal((await sendsInvite(4, "00000002")).invite, true);
  } finally {
    await services.close();
  }
});

// STIR/SHAKEN in the B2BUA (RFC 8224 §5 and §6.2, ATIS-1000074, 3GPP TS 24.229 verstat): the
// INVITEs Tandem places for a rule that attests carry its own Identity, whatever the caller sent;
// a rule that verifies tells the callee what it found, or refuses a failure with RFC 8224's
// status. The signer and verifier are the real ones, with a PKI made by openssl.

import assert from "node:assert/strict";
import type { IdentityHooks } from "../../src/b2bua/mod.ts";
import type { CallRecord } from "../../src/b2bua/record.ts";
import type { Config, RuleConfig } from "../../src/config/types.ts";
import type { SipRequest, SipResponse } from "../../src/sip/mod.ts";
import type { Shaken } from "../../src/stir/mod.ts";
import { makePki, type Pki, serveFiles, shakenFor } from "../stir/pki.ts";
import { answer, CALLER, callerInvite, config, Loop, req, res, route, rule } from "./loop.ts";

/** A route passing the caller's identity headers on (the default passes X- headers only). */
const passing = (host: string, port: number) =>
  route(host, port, {
    headers: { add: {}, pass: ["x-*", "identity", "p-asserted-identity"], remove: [] },
  });
const CALLEE = { host: "10.0.0.2", port: 5090, protocol: "udp" as const };
const settle = async (pred: () => boolean, what: string) => {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(pred(), what);
};

interface World {
  pki: Pki;
  shaken: Shaken;
  hooks: IdentityHooks;
  x5u: string;
  close: () => Promise<void>;
}

async function world(): Promise<World> {
  const pki = await makePki();
  const server = serveFiles({ "/sp.pem": pki.certPem });
  const x5u = `${server.base}/sp.pem`;
  const { shaken } = shakenFor(pki, x5u);

  return {
    pki,
    shaken,
    x5u,
    hooks: {
      verify: (r) => shaken.verify(r),
      sign: (o, d, a, id) => Promise.resolve(shaken.sign(o, d, a, id)),
    },
    close: async () => {
      await server.close();
      await Deno.remove(pki.dir, { recursive: true });
    },
  };
}

function withStir(rules: RuleConfig[], w: World, mode: "off" | "mark" | "reject"): Config {
  const cfg = config(rules);
  cfg.stirShaken = {
    sign: { keyFile: w.pki.keyFile, key: w.pki.keyPem, x5u: w.x5u },
    verify: {
      mode,
      caFile: w.pki.caFile,
      ca: w.pki.caPem,
      maxAge: 60_000,
      fetchTimeout: 2000,
      cacheTtl: 60_000,
      allowHttp: true,
    },
  };
  return cfg;
}

/** The caller's INVITE from +1 215 555 1212 to 12155551213. */
function numberInvite(extra = "", n = 1, from = "+12155551212"): string {
  return callerInvite("12155551213", extra, n).replace(
    'From: "Alice" <sip:alice@',
    `From: "Alice" <sip:${from}@`,
  );
}

Deno.test("STIR: a rule that attests signs each INVITE it places, replacing the caller's Identity", async () => {
  const w = await world();
  try {
    const r = {
      ...rule([passing("10.0.0.3", 5091), passing("10.0.0.2", 5090)]),
      stirShaken: { attest: "A" as const },
    };
    const ended: CallRecord[] = [];
    const loop = new Loop(withStir([r], w, "off"), {
      identity: w.hooks,
      onCallEnded: (rec) => ended.push(rec),
    });
    loop.inject(numberInvite("Identity: forged.by.caller;info=<https://x/>\n"), CALLER);
    await settle(() => loop.sent.some(req("INVITE", 5091)), "INVITE to the first route");
    const first = loop.take().find(req("INVITE", 5091))!.msg as SipRequest;
    const ids = first.getAll("identity");
    assert.equal(ids.length, 1, "one Identity: Tandem's, not the caller's");
    assert.match(ids[0], /;info=<http:\/\/127\.0\.0\.1:\d+\/sp\.pem>;alg=ES256;ppt=shaken$/);
    const v = await w.shaken.verify(first);
    assert.equal(v.verstat, "TN-Validation-Passed", v.detail);
    assert.equal(v.attest, "A");
    // Failover: the next route's INVITE is signed again, with the same origid.
    loop.inject(answer(first, 503, "t1"), { ...CALLEE, host: "10.0.0.3", port: 5091 });
    await settle(() => loop.sent.some(req("INVITE", 5090)), "INVITE to the second route");
    const second = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
    const v2 = await w.shaken.verify(second);
    assert.equal(v2.verstat, "TN-Validation-Passed", v2.detail);
    assert.equal(v2.origid, v.origid);
    loop.inject(answer(second, 486, "t2"), CALLEE);
    await settle(() => ended.length === 1, "the call ends");
    assert.deepEqual(ended[0].identity, { signed: "A" });
  } finally {
    await w.close();
  }
});

Deno.test("STIR: a rule's configured origid and `attest: none`", async () => {
  const w = await world();
  try {
    const origid = "0f0e0d0c-0b0a-4908-8706-050403020100";
    const signed = {
      ...rule([passing("10.0.0.2", 5090)], "signed"),
      match: { ruriUserPrefix: ["1"] },
      stirShaken: { attest: "B" as const, origid },
    };
    const unsigned = {
      ...rule([passing("10.0.0.2", 5090)], "unsigned"),
      stirShaken: { attest: "none" as const },
    };
    const cfg = withStir([signed, unsigned], w, "off");
    cfg.stirShaken!.sign!.attest = "C"; // the section's default, overridden by both rules
    const loop = new Loop(cfg, { identity: w.hooks });
    loop.inject(numberInvite(), CALLER);
    await settle(() => loop.sent.some(req("INVITE", 5090)), "INVITE");
    const inv = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
    const v = await w.shaken.verify(inv);
    assert.deepEqual([v.attest, v.origid], ["B", origid]);
    loop.inject(callerInvite("alice-kit", "Identity: theirs;info=<https://x/>\n", 2), CALLER);
    await settle(() => loop.sent.some(req("INVITE", 5090)), "INVITE");
    const plain = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
    assert.deepEqual(plain.getAll("identity"), ["theirs;info=<https://x/>"], "passed as received");
  } finally {
    await w.close();
  }
});

Deno.test("STIR: verification marks From and P-Asserted-Identity with verstat (3GPP TS 24.229)", async () => {
  const w = await world();
  try {
    const ended: CallRecord[] = [];
    const loop = new Loop(withStir([rule([passing("10.0.0.2", 5090)])], w, "mark"), {
      identity: w.hooks,
      onCallEnded: (rec) => ended.push(rec),
    });
    const identity = await w.shaken.sign(
      "12155551212",
      "12155551213",
      "A",
      "11111111-2222-4333-8444-555555555555",
    );
    loop.inject(
      numberInvite(
        `P-Asserted-Identity: <sip:+12155551212@10.0.0.1;user=phone>\nP-Asserted-Identity: <tel:+12155551212>\nIdentity: ${identity}\n`,
      ),
      CALLER,
    );
    await settle(() => loop.sent.some(req("INVITE", 5090)), "INVITE");
    const inv = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
    assert.equal(inv.from.uri.user, "+12155551212;verstat=TN-Validation-Passed");
    assert.deepEqual(inv.getAll("p-asserted-identity"), [
      "<sip:+12155551212;verstat=TN-Validation-Passed@10.0.0.1;user=phone>",
      "<tel:+12155551212;verstat=TN-Validation-Passed>",
    ]);
    loop.inject(answer(inv, 480, "t1"), CALLEE);
    await settle(() => ended.length === 1, "the call ends");
    assert.deepEqual(ended[0].identity, {
      verstat: "TN-Validation-Passed",
      attest: "A",
      origid: "11111111-2222-4333-8444-555555555555",
    });

    // Without an Identity: No-TN-Validation; a caller that is no number is not marked.
    loop.inject(numberInvite("", 2), CALLER);
    await settle(() => loop.sent.some(req("INVITE", 5090)), "INVITE");
    const none = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
    assert.equal(none.from.uri.user, "+12155551212;verstat=No-TN-Validation");
    loop.inject(callerInvite("12155551213", "", 3), CALLER);
    await settle(() => loop.sent.some(req("INVITE", 5090)), "INVITE");
    const alice = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
    assert.equal(alice.from.uri.user, "alice");
  } finally {
    await w.close();
  }
});

Deno.test("STIR: a rule that rejects answers a failed check with its RFC 8224 status, and marks otherwise", async () => {
  const w = await world();
  try {
    const ended: CallRecord[] = [];
    const strict = {
      ...rule([passing("10.0.0.2", 5090)], "carrier"),
      stirShaken: { verify: "reject" as const },
    };
    const loop = new Loop(withStir([strict], w, "mark"), {
      identity: w.hooks,
      onCallEnded: (rec) => ended.push(rec),
    });
    // Signed for another calling number than the one in From.
    const wrong = await w.shaken.sign(
      "12155559999",
      "12155551213",
      "A",
      "11111111-2222-4333-8444-555555555555",
    );
    loop.inject(numberInvite(`Identity: ${wrong}\n`), CALLER);
    await settle(() => loop.sent.some(res(438)), "438 to the caller");
    const sent = loop.take();
    assert.ok(!sent.some(req("INVITE", 5090)), "no INVITE went out");
    assert.equal((sent.find(res(438))!.msg as SipResponse).reason, "Invalid Identity Header");
    await settle(() => ended.length === 1, "the call ends");
    assert.equal(ended[0].endReason, "identity");
    assert.deepEqual(ended[0].identity, { verstat: "TN-Validation-Failed", status: 438 });

    // Reject mode lets unsigned calls through, marked.
    loop.inject(numberInvite("", 2), CALLER);
    await settle(() => loop.sent.some(req("INVITE", 5090)), "INVITE");
    const inv = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
    assert.equal(inv.from.uri.user, "+12155551212;verstat=No-TN-Validation");
  } finally {
    await w.close();
  }
});

Deno.test("STIR: without a stir_shaken section an Identity passes as received and nothing is marked", () => {
  // The hooks are always there in production; with no section they are never asked.
  const never = () => Promise.reject(new Error("asked without a stir_shaken section"));
  const loop = new Loop(config([rule([passing("10.0.0.2", 5090)])]), {
    identity: { verify: never, sign: never },
  });
  loop.inject(numberInvite("Identity: abc.def.ghi;info=<https://x/>;ppt=shaken\n"), CALLER);
  const inv = loop.expect(req("INVITE", 5090), "INVITE, at once").msg as SipRequest;
  assert.deepEqual(inv.getAll("identity"), ["abc.def.ghi;info=<https://x/>;ppt=shaken"]);
  assert.equal(inv.from.uri.user, "+12155551212");
});

Deno.test("STIR: a rule that requires an Identity answers a call without one 428 (RFC 8224 §6.2.2)", async () => {
  const w = await world();
  try {
    const ended: CallRecord[] = [];
    const strict = {
      ...rule([passing("10.0.0.2", 5090)], "carrier"),
      stirShaken: { verify: "require" as const },
    };
    const loop = new Loop(withStir([strict], w, "mark"), {
      identity: w.hooks,
      onCallEnded: (rec) => ended.push(rec),
    });
    loop.inject(numberInvite(), CALLER);
    await settle(() => loop.sent.some(res(428)), "428 to the caller");
    assert.equal((loop.take().find(res(428))!.msg as SipResponse).reason, "Use Identity Header");
    await settle(() => ended.length === 1, "the call ends");
    assert.deepEqual(ended[0].identity, { verstat: "No-TN-Validation", status: 428 });
    const identity = await w.shaken.sign(
      "12155551212",
      "12155551213",
      "B",
      "11111111-2222-4333-8444-555555555555",
    );
    loop.inject(numberInvite(`Identity: ${identity}\n`, 2), CALLER);
    await settle(() => loop.sent.some(req("INVITE", 5090)), "a signed call goes through");
  } finally {
    await w.close();
  }
});

Deno.test("STIR: attestation A only for a number the authenticated caller holds; else B", async () => {
  const w = await world();
  try {
    const r = {
      ...rule([passing("10.0.0.2", 5090)], "customers"),
      auth: { mode: "local" as const, realm: "t", onTimeout: "reject" as const },
      stirShaken: { attest: "A" as const },
    };
    const cfg = withStir([r], w, "off");
    cfg.users = [{ username: "pbx1", password: "x", numbers: ["1215555"] }];
    const loop = new Loop(cfg, {
      identity: w.hooks,
      // What a local digest check that passed leaves: the user name.
      authorize: () => Promise.resolve({ outcome: "accept", user: "pbx1" }),
    });
    const attestOf = async (from: string, n: number) => {
      loop.inject(numberInvite("", n, from), CALLER);
      await settle(() => loop.sent.some(req("INVITE", 5090)), "INVITE");
      const inv = loop.take().find(req("INVITE", 5090))!.msg as SipRequest;
      return (await w.shaken.verify(
        // Checked as the callee would: the numbers it was signed for.
        inv,
      )).attest;
    };
    assert.equal(await attestOf("+12155551212", 1), "A", "a number of the user's range");
    assert.equal(await attestOf("+13105551212", 2), "B", "another number: not vouched for");
  } finally {
    await w.close();
  }
});

Deno.test("calling_number: enforce — a caller authenticated as a user with numbers presents only those; another gets 403", async () => {
  const r = {
    ...rule([route("10.0.0.2", 5090)], "customers"),
    auth: {
      mode: "local" as const,
      realm: "t",
      onTimeout: "reject" as const,
      callingNumber: "enforce" as const,
    },
  };
  const cfg = config([r]);
  cfg.users = [{ username: "pbx1", password: "x", numbers: ["1215555"] }];
  const loop = new Loop(cfg, {
    // What a local digest check that passed leaves: the user name.
    authorize: () => Promise.resolve({ outcome: "accept", user: "pbx1" }),
  });
  loop.inject(numberInvite("", 1, "+12155551212"), CALLER);
  await settle(() => loop.sent.some(req("INVITE", 5090)), "a number of the user's range goes on");
  loop.take();
  loop.inject(numberInvite("", 2, "+13105551212"), CALLER);
  await settle(() => loop.sent.some(res(403)), "another number is refused");
  const refused = loop.take().find(res(403))!.msg as SipResponse;
  assert.equal(refused.reason, "Calling Number Not Allowed");
  assert.match(refused.get("reason")!, /Q\.850;cause=21/);
  assert.ok(!loop.sent.some(req("INVITE", 5090)));
});

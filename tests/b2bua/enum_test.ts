// ENUM routes (RFC 6116) in the engine, over the in-memory loop: the called number (after the
// route's user rewrite) is looked up through the real lookupEnum() over a table of NAPTR
// records; the resolver and the lookup are tested against dnsmasq in tests/transport.

import assert from "node:assert/strict";
import type { CallRecord } from "../../src/b2bua/mod.ts";
import type { SipRequest, SipResponse } from "../../src/sip/mod.ts";
import { enumDomain, type EnumRecord, lookupEnum } from "../../src/transport/enum.ts";
import { answer, CALLER, callerInvite, config, Loop, req, res, route, rule } from "./loop.ts";

/** NAPTR records by number ("+" and digits); `failing` numbers' lookups time out. */
function enumZone(byNumber: Record<string, string[]>, failing: string[] = []) {
  const asked: string[] = [];
  const records = new Map<string, EnumRecord[]>();
  for (const [n, uris] of Object.entries(byNumber)) {
    records.set(
      enumDomain(n, "e164.test"),
      uris.map((u, i) => ({
        type: "NAPTR",
        order: 10,
        preference: i,
        flags: "u",
        service: "E2U+sip",
        regexp: `!^.*$!${u}!`,
        replacement: "",
      })),
    );
  }
  const failed = new Set(failing.map((n) => enumDomain(n, "e164.test")));
  return {
    asked,
    lookup: (e164: string, apex: string) =>
      lookupEnum(e164, apex, {
        query(name) {
          asked.push(name);
          if (failed.has(name)) return Promise.reject(new Error("DNS timeout"));
          return Promise.resolve({ records: records.get(name) ?? [] });
        },
      }),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const ENUM = route("e164.test", 5060, { name: "peering", enum: "e164.test" });

function setup(routes = [ENUM], zone = enumZone({})) {
  const ended: CallRecord[] = [];
  const loop = new Loop(config([rule(routes)]), {
    enumLookup: zone.lookup,
    onCallEnded: (rec) => ended.push(rec),
  });
  return { loop, ended, zone };
}

Deno.test("enum: the call goes to the number's URIs in their order, the URI as Request-URI and To", async () => {
  const { loop, ended, zone } = setup(
    [ENUM],
    enumZone({
      "+12155551213": [
        "sip:+12155551213@10.0.0.41:5094",
        "sip:backup@10.0.0.42:5095;transport=tcp",
      ],
    }),
  );
  loop.inject(callerInvite("12155551213"), CALLER);
  await settle();
  assert.deepEqual(zone.asked, ["3.1.2.1.5.5.5.5.1.2.1.e164.test"]);
  const inv = loop.expect(req("INVITE", 5094), "INVITE to the first URI").msg as SipRequest;
  assert.equal(inv.uri, "sip:+12155551213@10.0.0.41:5094");
  assert.match(inv.get("to")!, /^<sip:\+12155551213@10\.0\.0\.41:5094>$/);
  loop.inject(answer(inv, 503, "t1"), { host: "10.0.0.41", port: 5094, protocol: "udp" });
  const sent = loop.take();
  const second = sent.find(req("INVITE", 5095));
  assert.ok(second, "the second URI is tried next");
  assert.equal(second.dest.protocol, "tcp", "over the transport its URI names");
  assert.equal((second.msg as SipRequest).uri, "sip:backup@10.0.0.42:5095;transport=tcp");
  loop.inject(answer(second.msg, 486, "t2"), { host: "10.0.0.42", port: 5095, protocol: "tcp" });
  await settle();
  assert.equal(ended.length, 1);
  assert.deepEqual(
    ended[0].attempts.map((a) => [a.route, a.target, a.finalStatus]),
    [["peering", "udp:10.0.0.41:5094", 503], ["peering", "tcp:10.0.0.42:5095", 486]],
  );
});

Deno.test("enum: a number with no URI skips the route for the next one; the route's rewrite makes it E.164", async () => {
  const rewritten = route("e164.test", 5060, {
    name: "peering",
    enum: "e164.test",
    ruriUser: { strip: 1, prefix: "+44", replace: "" },
  });
  const { loop, ended, zone } = setup(
    [rewritten, route("10.0.0.30", 5093, { name: "pstn" })],
    enumZone({ "+442079460148": ["sip:london@10.0.0.43:5096"] }),
  );
  loop.inject(callerInvite("02079460148"), CALLER);
  await settle();
  assert.deepEqual(zone.asked, ["8.4.1.0.6.4.9.7.0.2.4.4.e164.test"]);
  loop.expect(req("INVITE", 5096), "INVITE to London");

  loop.inject(callerInvite("05550000000", "", 2), CALLER);
  await settle();
  const pstn = loop.expect(req("INVITE", 5093), "INVITE to the next route").msg as SipRequest;
  assert.equal(pstn.uri, "sip:05550000000@10.0.0.30:5093");
  loop.inject(answer(pstn, 480, "t3"), { host: "10.0.0.30", port: 5093, protocol: "udp" });
  await settle();
  const rec = ended.find((r) => r.callerCallId === "caller-call-2@10.0.0.1")!;
  assert.deepEqual(
    rec.attempts.map((a) => [a.route, a.target, a.outcome, a.finalStatus]),
    [
      ["peering", "enum:+445550000000", "unreachable", undefined],
      ["pstn", "udp:10.0.0.30:5093", "failed", 480],
    ],
  );
});

Deno.test("enum: the last route with no URI answers 404, a failed lookup 503; a name is no number", async () => {
  const { loop, zone } = setup([ENUM], enumZone({}, ["+12155550000"]));
  loop.inject(callerInvite("12155551213"), CALLER);
  await settle();
  assert.equal((loop.expect(res(404), "404").msg as SipResponse).status, 404);
  loop.inject(callerInvite("12155550000", "", 2), CALLER);
  await settle();
  loop.expect(res(503), "503 when DNS did not answer");
  loop.inject(callerInvite("alice", "", 3), CALLER);
  await settle();
  loop.expect(res(404), "404: alice has no ENUM domain");
  assert.equal(zone.asked.length, 2, "no lookup for a name that is not a number");
});

Deno.test("enum: a call cancelled while ENUM answers goes nowhere", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const zone = enumZone({ "+12155551213": ["sip:x@10.0.0.41:5094"] });
  const ended: CallRecord[] = [];
  const loop = new Loop(config([rule([ENUM])]), {
    enumLookup: async (n, apex) => {
      await gate;
      return zone.lookup(n, apex);
    },
    onCallEnded: (rec) => ended.push(rec),
  });
  const text = callerInvite("12155551213");
  loop.inject(text, CALLER);
  const cancel = text.replace(/^INVITE /, "CANCEL ").replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
    .replace(
      /Content-Type: application\/sdp\nContent-Length: \d+\n\n[\s\S]*$/,
      "Content-Length: 0\n\n",
    );
  loop.inject(cancel, CALLER);
  release();
  await settle();
  await settle();
  const sent = loop.take();
  assert.ok(!sent.some(req("INVITE")), "no INVITE went out");
  assert.ok(sent.some(res(487)), "487 to the caller");
});

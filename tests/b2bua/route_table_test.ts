// Least-cost routing in the engine, over the in-memory loop: the rule's table gives each call
// the routes of its number's longest prefix, cheapest first, with failover down that list; a
// number the table lacks takes the rule's own routes, or 404.

import assert from "node:assert/strict";
import type { CallRecord } from "../../src/b2bua/mod.ts";
import { parseRouteTable } from "../../src/config/mod.ts";
import type { Config, RuleConfig } from "../../src/config/types.ts";
import type { SipRequest } from "../../src/sip/mod.ts";
import { answer, CALLER, callerInvite, config, Loop, req, res, route, rule } from "./loop.ts";

function lcrConfig(csv: string, rules: RuleConfig[]): Config {
  const cfg = config(rules);
  cfg.routes = [
    route("10.0.0.51", 5101, { name: "carrier-a", limits: { maxCalls: 1 } }),
    route("10.0.0.52", 5102, { name: "carrier-b" }),
  ];
  const t = parseRouteTable(csv);
  cfg.routeTables = [{
    name: "wholesale",
    file: "lcr.csv",
    prefixes: t.prefixes,
    longest: t.longest,
  }];
  return cfg;
}

const TABLE = "44,carrier-a,0.02\n44,carrier-b,0.01\n4420,carrier-a,0.005\n";

function setup(rules: RuleConfig[]) {
  const ended: CallRecord[] = [];
  const loop = new Loop(lcrConfig(TABLE, rules), { onCallEnded: (rec) => ended.push(rec) });
  return { loop, ended };
}

const tabled = (over: Partial<RuleConfig> = {}): RuleConfig => ({
  ...rule([], "customers"),
  routeTable: "wholesale",
  ...over,
});

Deno.test("lcr: the longest prefix's routes, cheapest first, failing over down the list", () => {
  const { loop, ended } = setup([tabled()]);
  loop.inject(callerInvite("441234567"), CALLER);
  const first = loop.expect(req("INVITE", 5102), "the cheapest carrier for 44").msg as SipRequest;
  loop.inject(answer(first, 503, "t1"), { host: "10.0.0.52", port: 5102, protocol: "udp" });
  const second = loop.expect(req("INVITE", 5101), "the next one").msg as SipRequest;
  loop.inject(answer(second, 486, "t2"), { host: "10.0.0.51", port: 5101, protocol: "udp" });
  loop.expect(res(486), "486 to the caller");
  assert.deepEqual(ended[0].attempts.map((a) => a.route), ["carrier-b", "carrier-a"]);
  // 4420 has a cheaper line of its own: the longest prefix wins.
  loop.inject(callerInvite("442079460148", "", 2), CALLER);
  loop.expect(req("INVITE", 5101), "carrier-a for 4420");
});

Deno.test("lcr: a number the table lacks takes the rule's routes, or gets 404 without any", () => {
  const { loop } = setup([
    tabled({
      match: { ruriUserPrefix: ["1"] },
      routes: [route("10.0.0.53", 5103, { name: "nanp" })],
    }),
    tabled({ name: "strict" }),
  ]);
  loop.inject(callerInvite("12155551213"), CALLER);
  loop.expect(req("INVITE", 5103), "the rule's own route");
  loop.inject(callerInvite("33123456789", "", 2), CALLER);
  loop.expect(res(404), "404 No Route");
});

Deno.test("lcr: a top-level route's limits count, and a full one is skipped for the next", () => {
  const { loop } = setup([tabled()]);
  loop.inject(callerInvite("442079460148"), CALLER);
  loop.expect(req("INVITE", 5101), "carrier-a takes the first call");
  // carrier-a holds max_calls 1: the second call for 4420 has no other route in the table.
  loop.inject(callerInvite("442079460149", "", 2), CALLER);
  loop.expect(res(503), "503: the only route is full");
  loop.inject(callerInvite("441234567", "", 3), CALLER);
  loop.expect(req("INVITE", 5102), "44 still has carrier-b");
});

Deno.test("lcr: a top-level route is found by name when RADIUS or the HTTP service names it", async () => {
  const cfg = lcrConfig(TABLE, [{
    ...rule([route("10.0.0.53", 5103)], "radius"),
    auth: { mode: "http", realm: "t", onTimeout: "reject" },
  }]);
  const loop = new Loop(cfg, {
    authorize: () => Promise.resolve({ outcome: "accept", routes: ["carrier-b", "carrier-a"] }),
  });
  loop.inject(callerInvite("33123456"), CALLER);
  await new Promise((r) => setTimeout(r, 0));
  const inv = loop.expect(req("INVITE", 5102), "carrier-b first, as the answer said")
    .msg as SipRequest;
  loop.inject(answer(inv, 503, "t"), { host: "10.0.0.52", port: 5102, protocol: "udp" });
  loop.expect(req("INVITE", 5101), "then carrier-a");
});

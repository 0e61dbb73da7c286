// A rule's route order: listed, round-robin (rotated per call) and weighted (drawn by weight);
// the order alone, then through the engine over the in-memory loop.

import assert from "node:assert/strict";
import { RouteOrder, weightedOrder } from "../../src/b2bua/route-order.ts";
import type { RuleConfig } from "../../src/config/types.ts";
import type { SipRequest } from "../../src/sip/mod.ts";
import { prng } from "../util/prng.ts";
import { answer, CALLER, callerInvite, config, Loop, req, route, rule } from "./loop.ts";

const three = (order: RuleConfig["order"], weights = [1, 1, 1]): RuleConfig => ({
  ...rule([
    route("10.0.0.2", 5091, { name: "a", weight: weights[0] }),
    route("10.0.0.3", 5092, { name: "b", weight: weights[1] }),
    route("10.0.0.4", 5093, { name: "c", weight: weights[2] }),
  ]),
  order,
});
const names = (rs: { name: string }[]) => rs.map((r) => r.name).join("");

Deno.test("route order: listed keeps the rule's own list, no copy per call", () => {
  const r = three("listed");
  const o = new RouteOrder();
  assert.equal(o.next(r, Math.random), r.routes);
});

Deno.test("route order: round-robin starts one further down for each call, keeping them all", () => {
  const r = three("round-robin");
  const o = new RouteOrder();
  const seen = Array.from({ length: 5 }, () => names(o.next(r, Math.random)));
  assert.deepEqual(seen, ["abc", "bca", "cab", "abc", "bca"]);
  // A reload that shortens the list: the turn wraps instead of running off the end.
  const two = { ...r, routes: r.routes.slice(0, 2) };
  assert.deepEqual([names(o.next(two, Math.random)), names(o.next(two, Math.random))], [
    "ab",
    "ba",
  ]);
});

Deno.test("route order: weighted puts each route first in proportion to its weight", () => {
  const r = three("weighted", [6, 3, 1]);
  const o = new RouteOrder();
  const random = prng(42);
  const firsts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 20_000; i++) {
    const order = o.next(r, random);
    assert.equal(new Set(order).size, 3, "every route, once");
    firsts[order[0].name]++;
  }
  assert.ok(Math.abs(firsts.a / 20_000 - 0.6) < 0.02, JSON.stringify(firsts));
  assert.ok(Math.abs(firsts.b / 20_000 - 0.3) < 0.02, JSON.stringify(firsts));
  assert.ok(Math.abs(firsts.c / 20_000 - 0.1) < 0.02, JSON.stringify(firsts));
  // The draw walks the running sum: 0.7 of 4 falls in b's 3, 0.8 in c's last 1.
  const pick = (x: number) =>
    weightedOrder([{ weight: 3, n: "b" }, { weight: 1, n: "c" }], () => x).map((i) => i.n);
  assert.deepEqual(pick(0.7), ["b", "c"]);
  assert.deepEqual(pick(0.8), ["c", "b"]);
});

Deno.test("route order: round-robin through the engine, and failover still reaches every route", () => {
  const loop = new Loop(config([three("round-robin")]));
  const firstPorts: number[] = [];
  for (let n = 1; n <= 3; n++) {
    loop.inject(callerInvite("bob", "", n), CALLER);
    const inv = loop.take().find(req("INVITE"))!;
    firstPorts.push(inv.dest.port);
    if (n === 3) {
      // The third call starts at c, then fails over to a and b.
      loop.inject(answer(inv.msg, 503, "x"), inv.dest);
      const second = loop.expect(req("INVITE"), "second attempt");
      loop.inject(answer(second.msg as SipRequest, 503, "y"), second.dest);
      const third = loop.expect(req("INVITE"), "third attempt");
      assert.deepEqual([second.dest.port, third.dest.port], [5091, 5092]);
    }
  }
  assert.deepEqual(firstPorts, [5091, 5092, 5093]);
});

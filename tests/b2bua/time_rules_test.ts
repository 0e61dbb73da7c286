// Time-of-day routing in the engine, over the in-memory loop: the rule a call comes under is
// chosen by the engine's wall clock, so the same number goes to the office in its hours and to
// the night service after them.

import assert from "node:assert/strict";
import type { RuleConfig } from "../../src/config/types.ts";
import { CALLER, callerInvite, config, Loop, req, route, rule } from "./loop.ts";

const office: RuleConfig = {
  ...rule([route("10.0.0.11", 5101)], "office"),
  match: {
    ruriUserPrefix: ["2000"],
    time: { timezone: "Europe/Berlin", days: [0, 1, 2, 3, 4], hours: [[480, 1080]] },
  },
};
const night = { ...rule([route("10.0.0.12", 5102)], "night") };

/** Where the INVITE for 2000 goes at `wall` (epoch ms): the port of the route tried. */
function routedAt(wall: number): number | undefined {
  const loop = new Loop(config([office, night]));
  loop.timers.manual.wall = wall - loop.timers.manual.t;
  loop.inject(callerInvite("2000"), CALLER);
  const sent = loop.take().find(req("INVITE"));
  return sent?.dest.port;
}

Deno.test("the same number: the office's route in its hours, the night service after them", () => {
  // Wednesday 2026-12-02; Berlin is UTC+1.
  assert.equal(routedAt(Date.UTC(2026, 11, 2, 9, 0)), 5101, "10:00 Berlin");
  assert.equal(routedAt(Date.UTC(2026, 11, 2, 6, 59)), 5102, "07:59 Berlin");
  assert.equal(routedAt(Date.UTC(2026, 11, 2, 17, 0)), 5102, "18:00 Berlin");
  assert.equal(routedAt(Date.UTC(2026, 11, 5, 9, 0)), 5102, "a Saturday");
});

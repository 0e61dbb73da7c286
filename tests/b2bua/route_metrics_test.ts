// Per-route quality in /metrics: attempts by how they ended (ASR, NER) and the talk time of
// answered calls (ACD), counted when the call ends. Over the in-memory loop.

import assert from "node:assert/strict";
import type { SipRequest, SipResponse } from "../../src/sip/mod.ts";
import { metrics } from "../../src/util/metrics.ts";
import {
  answer,
  CALLER,
  callerInDialog,
  callerInvite,
  config,
  Loop,
  req,
  res,
  route,
  rule,
} from "./loop.ts";

function sample(name: string, labels: string): number {
  const line = metrics.expose().split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

Deno.test("route metrics: a failover and an answer count per route when the call ends; talk time for ACD", () => {
  const loop = new Loop(config([rule([
    route("10.0.0.2", 5090, { name: "q-first" }),
    route("10.0.0.3", 5091, { name: "q-second" }),
  ])]));
  loop.inject(callerInvite(), CALLER);
  const first = loop.expect(req("INVITE", 5090), "INVITE 1").msg as SipRequest;
  loop.inject(answer(first, 503, "t1"), { host: "10.0.0.2", port: 5090, protocol: "udp" });
  const second = loop.expect(req("INVITE", 5091), "INVITE 2").msg as SipRequest;
  loop.timers.advance(1500);
  loop.inject(answer(second, 180, "t2"), { host: "10.0.0.3", port: 5091, protocol: "udp" });
  loop.inject(
    answer(second, 200, "t2", { contact: "<sip:b@10.0.0.3:5091>" }),
    { host: "10.0.0.3", port: 5091, protocol: "udp" },
  );
  const ok = loop.expect(res(200), "200 to the caller").msg as SipResponse;
  assert.equal(
    sample("tandem_route_attempts_total", 'outcome="failover",route="q-first"'),
    0,
    "nothing counted while the call is up",
  );
  loop.inject(callerInDialog("ACK", ok.get("to")!, 1), CALLER);
  loop.timers.advance(42_000);
  loop.inject(callerInDialog("BYE", ok.get("to")!, 2), CALLER);
  loop.take();
  assert.equal(sample("tandem_route_attempts_total", 'outcome="failover",route="q-first"'), 1);
  assert.equal(sample("tandem_route_attempts_total", 'outcome="answered",route="q-second"'), 1);
  assert.equal(sample("tandem_route_answered_seconds_total", 'route="q-second"'), 42);
  assert.equal(sample("tandem_route_answered_seconds_total", 'route="q-first"'), 0);
  // Post-dial delay: 1.5 s from the second INVITE to its 180; the first had no provisional.
  assert.equal(
    sample("tandem_route_post_dial_delay_seconds_bucket", 'route="q-second",le="1"'),
    0,
  );
  assert.equal(
    sample("tandem_route_post_dial_delay_seconds_bucket", 'route="q-second",le="2"'),
    1,
  );
  assert.equal(sample("tandem_route_post_dial_delay_seconds_sum", 'route="q-second"'), 1.5);
  assert.equal(sample("tandem_route_post_dial_delay_seconds_count", 'route="q-first"'), 0);
  // The same in the engine's own totals, which GET /routes shows.
  assert.deepEqual(loop.b2bua.routeTotals.get("q-first"), {
    attempts: 1,
    answered: 0,
    talkSeconds: 0,
  });
  assert.deepEqual(loop.b2bua.routeTotals.get("q-second"), {
    attempts: 1,
    answered: 1,
    talkSeconds: 42,
  });
});

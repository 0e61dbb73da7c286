// RFC 3261 §17.2.1: 100 Trying may be left out when the TU answers within 200 ms.

import assert from "node:assert/strict";
import type { ServerTransaction } from "../../src/transaction/mod.ts";
import { reply, request, setup, UDP, withBothSenders } from "./fake-transport.ts";

function inbound() {
  const env = setup({ tryingDelay: 200 });
  let tx!: ServerTransaction;
  env.user.onNew = (_req, t) => tx = t;
  const inv = request("INVITE", "z9hG4bKdelay1");
  env.layer.receiveRequest(inv, UDP);
  return {
    ...env,
    inv,
    get tx() {
      return tx;
    },
  };
}

withBothSenders("§17.2.1: a TU answer within the delay replaces the 100 Trying", () => {
  const env = inbound();
  env.timers.advance(50);
  env.tx.respond(reply(env.inv, 180));
  env.timers.advance(1000);
  assert.deepEqual(env.sender.responses().map((r) => r.status), [180]);
});

withBothSenders("§17.2.1: a silent TU gets its 100 Trying sent when the delay ends", () => {
  const env = inbound();
  env.timers.advance(199);
  assert.equal(env.sender.responses().length, 0);
  env.timers.advance(1);
  assert.deepEqual(env.sender.responses().map((r) => r.status), [100]);
  env.tx.respond(reply(env.inv, 486));
  assert.deepEqual(env.sender.responses().map((r) => r.status), [100, 486]);
});

withBothSenders(
  "§17.2.1: an INVITE retransmission before the delay gets the 100 Trying at once",
  () => {
    const env = inbound();
    env.timers.advance(100);
    env.layer.receiveRequest(request("INVITE", "z9hG4bKdelay1"), UDP);
    assert.deepEqual(env.sender.responses().map((r) => r.status), [100]);
    env.timers.advance(500);
    assert.deepEqual(env.sender.responses().map((r) => r.status), [100], "no second 100");
  },
);

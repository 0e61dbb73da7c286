// RFC 3261 §17.2.2 non-INVITE server transaction (figure 8).

import { reportSendFailure } from "../../src/transport/errors.ts";
import assert from "node:assert/strict";
import type { ServerTransaction } from "../../src/transaction/mod.ts";
import { reply, request, setup, TCP, UDP, withBothSenders } from "./fake-transport.ts";

function inbound(protocol: "UDP" | "TCP" = "UDP") {
  const env = setup();
  let tx!: ServerTransaction;
  env.user.onNew = (_req, t) => tx = t;
  const req = request("BYE", "z9hG4bKbye1", { protocol, toTag: "b1" });
  env.layer.receiveRequest(req, protocol === "UDP" ? UDP : TCP);
  return { ...env, req, tx };
}

withBothSenders(
  "§17.2.2 fig.8: Trying absorbs retransmissions; Proceeding resends the provisional",
  () => {
    const { layer, sender, req, tx, user } = inbound();
    assert.equal(tx.state, "Trying");
    layer.receiveRequest(request("BYE", "z9hG4bKbye1", { toTag: "b1" }), UDP);
    assert.equal(sender.sent.length, 0);
    tx.respond(reply(req, 100));
    assert.equal(tx.state, "Proceeding");
    layer.receiveRequest(request("BYE", "z9hG4bKbye1", { toTag: "b1" }), UDP);
    assert.deepEqual(sender.responses().map((r) => r.status), [100, 100]);
    assert.equal(user.requests.length, 1);
    tx.respond(reply(req, 200));
  },
);

withBothSenders(
  "§17.2.2 fig.8: Completed resends the final per retransmission until Timer J (64*T1)",
  () => {
    const { layer, sender, timers, req, tx, user, metrics } = inbound();
    tx.respond(reply(req, 200));
    assert.equal(tx.state, "Completed");
    tx.respond(reply(req, 500)); // a second final is dropped
    timers.advance(10000);
    layer.receiveRequest(request("BYE", "z9hG4bKbye1", { toTag: "b1" }), UDP);
    timers.advance(31999 - 10000);
    assert.deepEqual(sender.responseTimes(200), [0, 10000]);
    assert.deepEqual(sender.responseTimes(500), []);
    assert.equal(tx.state, "Completed");
    timers.advance(1);
    assert.equal(tx.state, "Terminated");
    assert.equal(user.requests.length, 1);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
    assert.match(metrics.expose(), /tandem_sip_retransmissions_total\{method="BYE"\} 1/);
    // After Timer J a retransmission is a new request for the TU.
    layer.receiveRequest(request("BYE", "z9hG4bKbye1", { toTag: "b1" }), UDP);
    assert.equal(user.requests.length, 2);
  },
);

withBothSenders("§17.2.2 fig.8: over TCP Timer J is zero", () => {
  const { layer, req, tx } = inbound("TCP");
  tx.respond(reply(req, 200));
  assert.equal(tx.state, "Terminated");
  assert.deepEqual(layer.size, { client: 0, server: 0 });
});

withBothSenders(
  "§17.2.4: a transport error on a non-INVITE response terminates the transaction",
  () => {
    const { layer, sender, req, tx } = inbound();
    let err = "";
    tx.onTransportError = (e) => err = e.message;
    tx.respond(reply(req, 200));
    reportSendFailure(sender.sent[0].fail, new Error("unreachable"));
    assert.equal(err, "unreachable");
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

// RFC 3261 §17.1.2 non-INVITE client transaction (figure 6).

import { reportSendFailure } from "../../src/transport/errors.ts";
import assert from "node:assert/strict";
import {
  RecordingHandler,
  reply,
  request,
  setup,
  T1_DOUBLING_TO_T2,
  TCP,
  UDP,
  withBothSenders,
} from "./fake-transport.ts";

withBothSenders(
  "§17.1.2.2 fig.6: Timer E doubles capped at T2 in Trying; Timer F times out at 64*T1",
  () => {
    const { layer, sender, timers } = setup();
    const h = new RecordingHandler();
    const tx = layer.sendRequest(request("OPTIONS", layer.newBranch()), UDP, h);
    assert.equal(tx.state, "Trying");
    timers.advance(31999);
    assert.deepEqual(sender.times("OPTIONS"), T1_DOUBLING_TO_T2);
    timers.advance(1);
    assert.deepEqual(h.events, ["timeout Terminated", "terminated"]);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders("§17.1.2.2 fig.6: in Proceeding Timer E is reset to T2", () => {
  const { layer, sender, timers } = setup();
  const h = new RecordingHandler();
  const req = request("BYE", layer.newBranch(), { toTag: "b1" });
  const tx = layer.sendRequest(req, UDP, h);
  timers.advance(100);
  layer.receiveResponse(reply(req, 100), UDP);
  assert.equal(tx.state, "Proceeding");
  timers.advance(12000 - 100);
  // E fires at 500 (armed in Trying), then every T2.
  assert.deepEqual(sender.times("BYE"), [0, 500, 4500, 8500]);
  layer.receiveResponse(reply(req, 200), UDP);
  assert.equal(tx.state, "Completed");
  assert.deepEqual(h.events, ["response 100 Proceeding", "response 200 Completed"]);
  timers.advance(100000);
  assert.deepEqual(sender.times("BYE"), [0, 500, 4500, 8500]);
});

withBothSenders(
  "§17.1.2.2 fig.6: Completed absorbs retransmitted finals until Timer K (T4)",
  () => {
    const { layer, timers } = setup();
    const h = new RecordingHandler();
    const req = request("REGISTER", layer.newBranch());
    const tx = layer.sendRequest(req, UDP, h);
    layer.receiveResponse(reply(req, 401), UDP);
    assert.equal(tx.state, "Completed");
    layer.receiveResponse(reply(req, 401), UDP);
    layer.receiveResponse(reply(req, 100), UDP);
    timers.advance(4999);
    assert.equal(tx.state, "Completed");
    timers.advance(1);
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(h.events, ["response 401 Completed", "terminated"]);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "§17.1.2.2 fig.6: over TCP no Timer E, Timer K is zero, Timer F still applies",
  () => {
    const { layer, sender, timers } = setup();
    const h = new RecordingHandler();
    const req = request("OPTIONS", layer.newBranch(), { protocol: "TCP" });
    const tx = layer.sendRequest(req, TCP, h);
    timers.advance(20000);
    assert.deepEqual(sender.times("OPTIONS"), [0]);
    layer.receiveResponse(reply(req, 200), TCP);
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(layer.size, { client: 0, server: 0 });

    const h2 = new RecordingHandler();
    layer.sendRequest(request("OPTIONS", layer.newBranch(), { protocol: "TCP" }), TCP, h2);
    timers.advance(32000);
    assert.deepEqual(h2.events, ["timeout Terminated", "terminated"]);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "§17.1.4: a transport error in Trying or Proceeding terminates with onTransportError",
  () => {
    const { layer, sender, timers } = setup();
    const h = new RecordingHandler();
    const req = request("INFO", layer.newBranch(), { toTag: "b1" });
    const tx = layer.sendRequest(req, UDP, h);
    layer.receiveResponse(reply(req, 100), UDP);
    timers.advance(500);
    reportSendFailure(sender.sent[1].fail, new Error("reset"));
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(h.events, ["response 100 Proceeding", "error Terminated", "terminated"]);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

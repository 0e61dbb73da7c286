// RFC 3261 §17.2.1 INVITE server transaction (figure 7) with RFC 6026 §7.1.

import assert from "node:assert/strict";
import type { ServerTransaction } from "../../src/transaction/mod.ts";
import {
  ackFor,
  reply,
  request,
  setup,
  T1_DOUBLING_TO_T2,
  TCP,
  UDP,
  withBothSenders,
} from "./fake-transport.ts";

function inbound(protocol: "UDP" | "TCP" = "UDP") {
  const env = setup();
  let tx!: ServerTransaction;
  env.user.onNew = (_req, t) => tx = t;
  const inv = request("INVITE", "z9hG4bKinv1", { protocol });
  env.layer.receiveRequest(inv, protocol === "UDP" ? UDP : TCP);
  return { ...env, inv, tx };
}

withBothSenders(
  "§17.2.1 fig.7: 100 Trying goes out at once with Via, From, To (no tag), Call-ID, CSeq, Timestamp",
  () => {
    const { sender, inv, tx, user } = inbound();
    assert.equal(tx.state, "Proceeding");
    assert.equal(user.requests.length, 1);
    const [trying] = sender.responses();
    assert.equal(trying.status, 100);
    assert.deepEqual(trying.getAll("via"), inv.getAll("via"));
    assert.equal(trying.get("from"), inv.get("from"));
    assert.equal(trying.get("to"), inv.get("to"));
    assert.equal(trying.to.tag, undefined);
    assert.equal(trying.callId, inv.callId);
    assert.equal(trying.get("cseq"), "1 INVITE");
    assert.equal(trying.get("timestamp"), "54");
    assert.equal(trying.get("contact"), undefined);
    assert.equal(sender.sent[0].dest, UDP);
  },
);

withBothSenders(
  "§17.2.1 fig.7: INVITE retransmissions in Proceeding resend the last provisional, never reach the TU",
  () => {
    const { layer, sender, inv, tx, user } = inbound();
    layer.receiveRequest(request("INVITE", "z9hG4bKinv1"), UDP);
    tx.respond(reply(inv, 180));
    layer.receiveRequest(request("INVITE", "z9hG4bKinv1"), UDP);
    assert.deepEqual(sender.responses().map((r) => r.status), [100, 100, 180, 180]);
    assert.equal(user.requests.length, 1);
    tx.respond(reply(inv, 486));
  },
);

withBothSenders(
  "§17.2.1 fig.7: 300-699 → Completed; Timer G doubles capped at T2; Timer H at 64*T1 → onNoAck",
  () => {
    const { layer, sender, timers, inv, tx } = inbound();
    let noAck = 0;
    tx.onNoAck = () => noAck++;
    tx.respond(reply(inv, 486));
    assert.equal(tx.state, "Completed");
    layer.receiveRequest(request("INVITE", "z9hG4bKinv1"), UDP); // resend final at once
    timers.advance(31999);
    assert.deepEqual(sender.responseTimes(486), [0, ...T1_DOUBLING_TO_T2]);
    assert.equal(noAck, 0);
    timers.advance(1);
    assert.equal(tx.state, "Terminated");
    assert.equal(noAck, 1);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "§17.2.1 fig.7: ACK → Confirmed (absorbed, G stops), Timer I = T4 → Terminated",
  () => {
    const { layer, sender, timers, inv, tx, user } = inbound();
    tx.respond(reply(inv, 404));
    timers.advance(600);
    layer.receiveRequest(ackFor(inv), UDP);
    assert.equal(tx.state, "Confirmed");
    layer.receiveRequest(ackFor(inv), UDP); // retransmitted ACK absorbed
    layer.receiveRequest(request("INVITE", "z9hG4bKinv1"), UDP); // absorbed in Confirmed
    timers.advance(4999);
    assert.deepEqual(sender.responseTimes(404), [0, 500]);
    assert.equal(tx.state, "Confirmed");
    timers.advance(1);
    assert.equal(tx.state, "Terminated");
    assert.equal(user.requests.length, 1);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders("§17.2.1 fig.7: over TCP no Timer G, Timer H still 64*T1, Timer I is zero", () => {
  const a = inbound("TCP");
  a.tx.respond(reply(a.inv, 480));
  a.timers.advance(20000);
  assert.deepEqual(a.sender.responseTimes(480), [0]);
  a.layer.receiveRequest(ackFor(a.inv), TCP);
  assert.equal(a.tx.state, "Terminated");
  assert.deepEqual(a.layer.size, { client: 0, server: 0 });

  const b = inbound("TCP");
  let noAck = 0;
  b.tx.onNoAck = () => noAck++;
  b.tx.respond(reply(b.inv, 480));
  b.timers.advance(32000);
  assert.equal(noAck, 1);
  assert.deepEqual(b.layer.size, { client: 0, server: 0 });
});

withBothSenders(
  "RFC 6026 §7.1: 2xx → Accepted; the 2xx is resent (T1 doubling, cap T2) until Timer L → onNoAck",
  () => {
    const { layer, sender, timers, inv, tx, user } = inbound();
    let noAck = 0;
    tx.onNoAck = () => noAck++;
    tx.respond(reply(inv, 200));
    assert.equal(tx.state, "Accepted");
    layer.receiveRequest(request("INVITE", "z9hG4bKinv1"), UDP); // absorbed, not resent
    timers.advance(31999);
    assert.deepEqual(sender.responseTimes(200), T1_DOUBLING_TO_T2);
    timers.advance(1);
    assert.equal(tx.state, "Terminated");
    assert.equal(noAck, 1);
    assert.equal(user.requests.length, 1);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "RFC 6026 §7.1: the ACK for a 2xx reaches the TU with tx undefined; acked() stops the resends",
  () => {
    const { layer, sender, timers, inv, tx, user } = inbound();
    let noAck = 0;
    tx.onNoAck = () => noAck++;
    tx.respond(reply(inv, 200));
    timers.advance(1000);
    // A 2xx ACK is its own transaction: a new branch.
    const ack = ackFor(inv);
    ack.set("Via", "SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKack2xx");
    layer.receiveRequest(ack, UDP);
    assert.equal(user.requests.length, 2);
    assert.equal(user.requests[1].req.method, "ACK");
    assert.equal(user.requests[1].tx, undefined);
    tx.acked();
    timers.advance(10000);
    assert.deepEqual(sender.responseTimes(200), [0, 500]);
    assert.equal(tx.state, "Accepted"); // absorbs INVITE retransmissions until Timer L
    // Further 2xx from the TU (its own retransmission) are still sent in Accepted.
    tx.respond(reply(inv, 200));
    tx.respond(reply(inv, 486)); // too late, dropped
    assert.deepEqual(sender.responseTimes(200), [0, 500, 11000]);
    assert.deepEqual(sender.responseTimes(486), []);
    timers.advance(21000);
    assert.equal(tx.state, "Terminated");
    assert.equal(noAck, 0);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "RFC 6026 §7.1: an ACK matching the INVITE's branch in Accepted is passed to the TU",
  () => {
    const { layer, inv, tx, user } = inbound();
    tx.respond(reply(inv, 200));
    layer.receiveRequest(ackFor(inv), UDP);
    assert.equal(user.requests[1].tx, undefined);
    tx.acked();
    tx.respond(reply(inv, 200));
  },
);

withBothSenders(
  "§17.2.1: 2xx resends continue over TCP (§13.3.1.4: a later hop may be UDP)",
  () => {
    const { sender, timers, inv, tx, layer } = inbound("TCP");
    tx.respond(reply(inv, 200));
    timers.advance(2000);
    assert.deepEqual(sender.responseTimes(200), [0, 500, 1500]);
    tx.acked();
    timers.advance(40000);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "§17.2.4: a transport error while responding reports onTransportError and terminates",
  () => {
    const { sender, inv, tx, layer, timers } = inbound();
    const errors: string[] = [];
    tx.onTransportError = (e) => errors.push(e.message);
    sender.failNext = new Error("ICMP unreachable");
    tx.respond(reply(inv, 486));
    assert.deepEqual(errors, ["ICMP unreachable"]);
    assert.equal(tx.state, "Terminated");
    timers.advance(100000);
    assert.deepEqual(sender.responseTimes(486), [0]);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "a server transaction lets the request go with its final; a late CANCEL still gets the final's To tag",
  () => {
    const { layer, sender, user } = setup();
    const inv = request("INVITE", "z9hG4bKlate");
    layer.receiveRequest(inv, UDP);
    const tx = user.requests[0].tx!;
    assert.ok(tx.request);
    tx.respond(reply(inv, 486, "late7"));
    assert.equal(tx.state, "Completed");
    assert.equal(tx.request, undefined);
    layer.receiveRequest(request("CANCEL", "z9hG4bKlate"), UDP);
    const ok = sender.responses().find((r) => r.status === 200)!;
    assert.equal(ok.to.tag, "late7");
    layer.receiveRequest(inv, UDP); // a retransmission of the INVITE: the 486 again
    assert.equal(sender.responses().filter((r) => r.status === 486).length, 2);
  },
);

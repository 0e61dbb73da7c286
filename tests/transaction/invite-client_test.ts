// RFC 3261 §17.1.1 (figure 5) with RFC 6026 §7.2, and CANCEL per §9.1.

import { reportSendFailure } from "../../src/transport/errors.ts";
import assert from "node:assert/strict";
import {
  RecordingHandler,
  reply,
  request,
  setup,
  TCP,
  UDP,
  withBothSenders,
} from "./fake-transport.ts";

withBothSenders("§17.1.1.2 fig.5: Timer A doubles from T1 over UDP until Timer B at 64*T1", () => {
  const { layer, sender, timers } = setup();
  const h = new RecordingHandler();
  const tx = layer.sendRequest(request("INVITE", layer.newBranch()), UDP, h);
  assert.equal(tx.state, "Calling");
  timers.advance(31999);
  assert.deepEqual(sender.times("INVITE"), [0, 500, 1500, 3500, 7500, 15500, 31500]);
  assert.equal(tx.state, "Calling");
  timers.advance(1);
  assert.deepEqual(h.events, ["timeout Terminated", "terminated"]);
  assert.equal(tx.state, "Terminated");
  assert.deepEqual(layer.size, { client: 0, server: 0 });
  timers.advance(100000);
  assert.equal(sender.times("INVITE").length, 7);
});

withBothSenders("§17.1.1.2 fig.5: no Timer A over TCP; Timer B still fires at 64*T1", () => {
  const { layer, sender, timers } = setup();
  const h = new RecordingHandler();
  layer.sendRequest(request("INVITE", layer.newBranch(), { protocol: "TCP" }), TCP, h);
  timers.advance(31999);
  assert.deepEqual(sender.times("INVITE"), [0]);
  timers.advance(1);
  assert.deepEqual(h.events, ["timeout Terminated", "terminated"]);
  assert.deepEqual(layer.size, { client: 0, server: 0 });
});

withBothSenders(
  "§17.1.1.2 fig.5: a 1xx moves Calling to Proceeding and stops Timers A and B",
  () => {
    const { layer, sender, timers } = setup();
    const h = new RecordingHandler();
    const inv = request("INVITE", layer.newBranch());
    const tx = layer.sendRequest(inv, UDP, h);
    timers.advance(600);
    layer.receiveResponse(reply(inv, 100), UDP);
    layer.receiveResponse(reply(inv, 180), UDP);
    assert.equal(tx.state, "Proceeding");
    timers.advance(100000);
    assert.deepEqual(sender.times("INVITE"), [0, 500]);
    assert.deepEqual(h.events, ["response 100 Proceeding", "response 180 Proceeding"]);
    assert.equal(tx.state, "Proceeding");
    tx.terminate();
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "RFC 6026 §7.2: 2xx moves to Accepted, 2xx retransmissions reach the TU, Timer M ends it",
  () => {
    const { layer, sender, timers } = setup();
    const h = new RecordingHandler();
    const inv = request("INVITE", layer.newBranch());
    const tx = layer.sendRequest(inv, UDP, h);
    layer.receiveResponse(reply(inv, 180), UDP);
    layer.receiveResponse(reply(inv, 200), UDP);
    assert.equal(tx.state, "Accepted");
    timers.advance(4000);
    layer.receiveResponse(reply(inv, 200), UDP); // retransmission
    layer.receiveResponse(reply(inv, 200, "fork2"), UDP); // another fork's 2xx
    layer.receiveResponse(reply(inv, 180), UDP); // ignored in Accepted
    assert.deepEqual(h.responses.map((r) => `${r.status} ${r.to.tag}`), [
      "180 b1",
      "200 b1",
      "200 b1",
      "200 fork2",
    ]);
    // The 2xx ACK is the TU's job, never the transaction's.
    assert.equal(sender.requests("ACK").length, 0);
    timers.advance(32000 - 4001);
    assert.equal(tx.state, "Accepted");
    timers.advance(1);
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(layer.size, { client: 0, server: 0 });
    // After Timer M, a 2xx retransmission is a stray for the TU (RFC 6026 §7.2).
    layer.receiveResponse(reply(inv, 200), UDP);
    assert.equal(h.responses.length, 4);
  },
);

withBothSenders(
  "§17.1.1.3: ACK for 300-699 carries the INVITE's R-URI, From, Call-ID, top Via, Route and the response's To",
  () => {
    const { layer, sender } = setup();
    const h = new RecordingHandler();
    const inv = request("INVITE", layer.newBranch(), { cseq: 42 });
    layer.sendRequest(inv, UDP, h);
    layer.receiveResponse(reply(inv, 486, "busy7"), UDP);
    const [ack] = sender.requests("ACK");
    assert.equal(ack.uri, inv.uri);
    assert.equal(ack.callId, inv.callId);
    assert.equal(ack.get("from"), inv.get("from"));
    assert.equal(ack.to.tag, "busy7");
    assert.equal(ack.get("to"), "<sip:bob@example.org>;tag=busy7");
    assert.equal(ack.get("cseq"), "42 ACK");
    assert.deepEqual(ack.getAll("via"), [inv.getAll("via")[0]]);
    assert.equal(ack.topVia!.branch, inv.topVia!.branch);
    assert.deepEqual(ack.getAll("route"), ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]);
    assert.equal(ack.get("contact"), undefined);
    assert.equal(ack.maxForwards, 70);
  },
);

for (const raw of [false, true]) {
  Deno.test(
    `§17.1.1.2 fig.5: Completed re-ACKs every retransmitted final until Timer D (32 s)${
      raw ? ", via sendRaw" : ""
    }`,
    () => {
      const { layer, sender, timers, metrics } = setup({ raw });
      const h = new RecordingHandler();
      const inv = request("INVITE", layer.newBranch());
      const tx = layer.sendRequest(inv, UDP, h);
      timers.advance(700); // one Timer A retransmission
      layer.receiveResponse(reply(inv, 180), UDP);
      layer.receiveResponse(reply(inv, 503), UDP);
      assert.equal(tx.state, "Completed");
      timers.advance(1000);
      layer.receiveResponse(reply(inv, 503), UDP);
      layer.receiveResponse(reply(inv, 503), UDP);
      assert.deepEqual(sender.times("ACK"), [700, 1700, 1700]);
      assert.deepEqual(h.events, ["response 180 Proceeding", "response 503 Completed"]);
      const acks = sender.requests("ACK");
      assert.equal(acks[2].get("cseq"), acks[0].get("cseq"));
      assert.equal(acks[2].get("to"), acks[0].get("to"));
      assert.deepEqual(
        sender.sent.filter((s) => s.how === "raw").length,
        raw ? 3 : 0, // the INVITE retransmission and two ACK resends
      );
      timers.advance(32000 - 1001);
      assert.equal(tx.state, "Completed");
      timers.advance(1);
      assert.equal(tx.state, "Terminated");
      assert.deepEqual(layer.size, { client: 0, server: 0 });
      const text = metrics.expose();
      assert.match(text, /tandem_sip_retransmissions_total\{method="INVITE"\} 1/);
      assert.match(text, /tandem_sip_retransmissions_total\{method="ACK"\} 2/);
    },
  );
}

withBothSenders(
  "§17.1.1.2 fig.5: over TCP Timer D is zero (Completed ends once the ACK is sent)",
  () => {
    const { layer, sender } = setup();
    const h = new RecordingHandler();
    const inv = request("INVITE", layer.newBranch(), { protocol: "TCP" });
    const tx = layer.sendRequest(inv, TCP, h);
    layer.receiveResponse(reply(inv, 404), TCP);
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(sender.times("ACK"), [0]);
    assert.deepEqual(h.events, ["response 404 Completed", "terminated"]);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders("§17.1.4: a transport error in Calling reports to the TU and terminates", () => {
  const { layer, sender, timers } = setup();
  const h = new RecordingHandler();
  const tx = layer.sendRequest(request("INVITE", layer.newBranch()), UDP, h);
  reportSendFailure(sender.sent[0].fail, new Error("ICMP port unreachable"));
  assert.equal(tx.state, "Terminated");
  assert.deepEqual(h.events, ["error Terminated", "terminated"]);
  assert.equal(h.errors[0].message, "ICMP port unreachable");
  assert.deepEqual(layer.size, { client: 0, server: 0 });
  timers.advance(100000);
  assert.equal(sender.sent.length, 1);
  reportSendFailure(sender.sent[0].fail, new Error("late")); // a late report after the end is ignored
  assert.equal(h.errors.length, 1);
});

withBothSenders("§17.1.4: a synchronous send failure terminates before sendRequest returns", () => {
  const { layer, sender, timers } = setup();
  const h = new RecordingHandler();
  sender.failNext = new Error("ECONNREFUSED");
  const tx = layer.sendRequest(
    request("INVITE", layer.newBranch(), { protocol: "TCP" }),
    TCP,
    h,
  );
  assert.equal(tx.state, "Terminated");
  assert.deepEqual(layer.size, { client: 0, server: 0 });
  timers.advance(100000);
  assert.deepEqual(h.events, ["error Terminated", "terminated"]);
});

withBothSenders(
  "§9.1: CANCEL before any provisional is held until a 1xx, then sent with the INVITE's fields",
  () => {
    const { layer, sender, timers } = setup();
    const h = new RecordingHandler();
    const inv = request("INVITE", layer.newBranch(), { cseq: 7 });
    const tx = layer.sendRequest(inv, UDP, h);
    tx.cancel('SIP;cause=487;text="caller hung up"');
    tx.cancel(); // a second call changes nothing
    timers.advance(1000);
    assert.equal(sender.requests("CANCEL").length, 0);
    timers.advance(200);
    layer.receiveResponse(reply(inv, 180), UDP);
    const [cancel] = sender.requests("CANCEL");
    assert.equal(cancel.uri, inv.uri);
    assert.equal(cancel.callId, inv.callId);
    assert.equal(cancel.get("from"), inv.get("from"));
    assert.equal(cancel.get("to"), inv.get("to")); // no tag from the 180
    assert.equal(cancel.get("cseq"), "7 CANCEL");
    assert.deepEqual(cancel.getAll("via"), [inv.getAll("via")[0]]);
    assert.deepEqual(cancel.getAll("route"), inv.getAll("route"));
    assert.equal(cancel.get("reason"), 'SIP;cause=487;text="caller hung up"');
    assert.equal(layer.size.client, 2); // INVITE and CANCEL
    // The CANCEL's own 200 is absorbed; the 487 completes the INVITE with an ACK.
    layer.receiveResponse(reply(cancel, 200), UDP);
    layer.receiveResponse(reply(inv, 487), UDP);
    assert.deepEqual(h.events, ["response 180 Proceeding", "response 487 Completed"]);
    assert.equal(sender.requests("ACK").length, 1);
    timers.advance(32000);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "§9.1: CANCEL in Proceeding is sent at once over its own transaction (Timer E)",
  () => {
    const { layer, sender, timers } = setup();
    const h = new RecordingHandler();
    const inv = request("INVITE", layer.newBranch());
    const tx = layer.sendRequest(inv, UDP, h);
    layer.receiveResponse(reply(inv, 183), UDP);
    timers.advance(100);
    tx.cancel();
    assert.deepEqual(sender.times("CANCEL"), [100]);
    assert.equal(sender.requests("CANCEL")[0].get("reason"), undefined);
    timers.advance(1500);
    assert.deepEqual(sender.times("CANCEL"), [100, 600, 1600]);
    layer.receiveResponse(reply(sender.requests("CANCEL")[0], 200), UDP);
    // §9.1: no final for the INVITE within 64*T1 of the CANCEL: the INVITE times out.
    timers.advance(32100 - 1600 - 1); // 64*T1 after the CANCEL went out at 100
    assert.equal(tx.state, "Proceeding");
    timers.advance(1);
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(h.events, ["response 183 Proceeding", "timeout Terminated", "terminated"]);
    timers.advance(5000); // Timer K of the CANCEL
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "§9.1: a held CANCEL is dropped when the final arrives first; CANCEL after a final sends nothing",
  () => {
    const { layer, sender, timers } = setup();
    const h = new RecordingHandler();
    const inv = request("INVITE", layer.newBranch());
    const tx = layer.sendRequest(inv, UDP, h);
    tx.cancel();
    layer.receiveResponse(reply(inv, 486), UDP);
    tx.cancel();
    const inv2 = request("INVITE", layer.newBranch(), { cseq: 2 });
    const tx2 = layer.sendRequest(inv2, UDP, h);
    layer.receiveResponse(reply(inv2, 200), UDP);
    tx2.cancel();
    timers.advance(100000);
    assert.equal(sender.requests("CANCEL").length, 0);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders("§9.1: a Reason with CR or LF is refused (header injection)", () => {
  const { layer } = setup();
  const tx = layer.sendRequest(
    request("INVITE", layer.newBranch()),
    UDP,
    new RecordingHandler(),
  );
  assert.throws(() => tx.cancel("SIP;cause=487\r\nX-Evil: 1"), TypeError);
  tx.terminate();
});

withBothSenders(
  "§17.1.1.3: ACK is never a client transaction; a request without a magic branch is refused",
  () => {
    const { layer } = setup();
    const h = new RecordingHandler();
    assert.throws(() => layer.sendRequest(request("ACK", layer.newBranch()), UDP, h), TypeError);
    assert.throws(() => layer.sendRequest(request("INVITE", "z9hG4bK"), UDP, h), TypeError);
    assert.throws(() => layer.sendRequest(request("INVITE", "1234"), UDP, h), TypeError);
    const b = layer.newBranch();
    layer.sendRequest(request("INVITE", b), UDP, h).terminate();
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "§17.1.3: responses match on branch and CSeq method; others are strays for the TU",
  () => {
    const { layer, user } = setup();
    const h = new RecordingHandler();
    const inv = request("INVITE", layer.newBranch());
    const tx = layer.sendRequest(inv, UDP, h);
    const wrongMethod = reply(inv, 200);
    wrongMethod.set("CSeq", "1 BYE");
    layer.receiveResponse(wrongMethod, UDP);
    const otherBranch = reply(request("INVITE", "z9hG4bKother"), 180);
    layer.receiveResponse(otherBranch, UDP);
    const bogus = reply(inv, 180);
    bogus.status = 700;
    layer.receiveResponse(bogus, UDP);
    assert.equal(user.strays.length, 3);
    assert.equal(h.responses.length, 0);
    assert.equal(tx.state, "Calling");
    tx.terminate();
  },
);

withBothSenders(
  "§8.1.1.7: newBranch starts with the magic cookie and carries at least 64 random bits",
  () => {
    const { layer } = setup();
    const seen = new Set<string>();
    for (let i = 0; i < 10000; i++) {
      const b = layer.newBranch();
      assert.ok(b.startsWith("z9hG4bK"));
      assert.ok(b.length >= 7 + 13); // 96 bits in base 36 is ~19 chars
      seen.add(b);
    }
    assert.equal(seen.size, 10000);
  },
);

withBothSenders(
  "RFC 6026 §7.2: after sendAck the transaction re-ACKs the 2xx itself; other forks' 2xx go to the TU as strays",
  () => {
    const { layer, sender, timers, user } = setup();
    const h = new RecordingHandler();
    const inv = request("INVITE", layer.newBranch());
    const tx = layer.sendRequest(inv, UDP, h);
    layer.receiveResponse(reply(inv, 200, "t1"), UDP);
    assert.equal(tx.state, "Accepted");
    assert.equal(tx.request, undefined, "the INVITE is let go once the final is in");
    const ack = request("ACK", layer.newBranch(), { toTag: "t1" });
    const target = { host: "192.0.2.20", port: 5080, protocol: "udp" as const };
    tx.sendAck(ack, target, "t1");
    timers.advance(500);
    layer.receiveResponse(reply(inv, 200, "t1"), UDP); // retransmission of the answer
    layer.receiveResponse(reply(inv, 200, "t1"), UDP);
    assert.deepEqual(sender.times("ACK"), [0, 500, 500]);
    // The same address (as one object shared by lingering transactions, not the TU's own).
    for (const s of sender.sent.filter((s) => s.msg.isRequest).slice(-3)) {
      assert.deepEqual(
        { host: s.dest.host, port: s.dest.port, protocol: s.dest.protocol },
        target,
      );
    }
    assert.deepEqual(h.events, ["response 200 Accepted"], "retransmissions do not reach the TU");
    layer.receiveResponse(reply(inv, 200, "fork2"), UDP);
    assert.deepEqual(user.strays.map((r) => r.to.tag), ["fork2"]);
    assert.equal(sender.times("ACK").length, 3, "a fork's 2xx is the TU's to ACK");
    timers.advance(32000);
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders("§17.1.1.3: the request is let go in Completed; the ACK is still resent", () => {
  const { layer, sender } = setup();
  const h = new RecordingHandler();
  const inv = request("INVITE", layer.newBranch());
  const tx = layer.sendRequest(inv, UDP, h);
  layer.receiveResponse(reply(inv, 486), UDP);
  assert.equal(tx.state, "Completed");
  assert.equal(tx.request, undefined);
  layer.receiveResponse(reply(inv, 486), UDP);
  assert.equal(sender.requests("ACK").length, 2);
  assert.equal(sender.requests("ACK")[1].get("cseq"), "1 ACK");
});

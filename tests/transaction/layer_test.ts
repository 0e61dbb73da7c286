// RFC 3261 §17.2.3 matching, §9.2 CANCEL, §8.2.2.2 merged requests, RFC 2543 fallback, leaks
// and metrics of the transaction layer as a whole.

import assert from "node:assert/strict";
import type { SipRequest } from "../../src/sip/mod.ts";
import type { ServerTransaction } from "../../src/transaction/mod.ts";
import {
  ackFor,
  RecordingHandler,
  reply,
  request,
  setup,
  UDP,
  withBothSenders,
} from "./fake-transport.ts";

function inviteServer(branch = "z9hG4bKinv1") {
  const env = setup();
  const txs: ServerTransaction[] = [];
  env.user.onNew = (_req, t) => txs.push(t);
  const inv = request("INVITE", branch);
  env.layer.receiveRequest(inv, UDP);
  return { ...env, inv, txs, tx: txs[0] };
}

withBothSenders(
  "§9.2: CANCEL for a pending INVITE is answered 200 by the layer and reaches onCancel, not onRequest",
  () => {
    const { layer, sender, timers, inv, tx, user } = inviteServer();
    tx.respond(reply(inv, 180, "t180"));
    const seen: SipRequest[] = [];
    tx.onCancel = (c) => {
      seen.push(c);
      tx.respond(reply(inv, 487, "t180"));
    };
    const cancel = request("CANCEL", "z9hG4bKinv1");
    layer.receiveRequest(cancel, UDP);
    const rs = sender.responses();
    const ok = rs.find((r) => r.get("cseq") === "1 CANCEL")!;
    assert.equal(ok.status, 200);
    assert.equal(ok.to.tag, "t180"); // §9.2: same To tag as the INVITE's responses
    assert.equal(seen.length, 1);
    assert.equal(tx.state, "Completed");
    assert.equal(user.requests.length, 1); // the INVITE only
    // A retransmitted CANCEL is absorbed by its own transaction, with the 200 resent.
    layer.receiveRequest(request("CANCEL", "z9hG4bKinv1"), UDP);
    assert.equal(sender.responses().filter((r) => r.get("cseq") === "1 CANCEL").length, 2);
    assert.equal(seen.length, 1);
    layer.receiveRequest(ackFor(inv, "t180"), UDP);
    timers.advance(64 * 500);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders("§9.2: without onCancel the layer ends the INVITE with 487 itself", () => {
  const { layer, sender, timers, tx } = inviteServer();
  layer.receiveRequest(request("CANCEL", "z9hG4bKinv1"), UDP);
  const statuses = sender.responses().map((r) => `${r.status} ${r.cseq.method}`);
  assert.deepEqual(statuses, ["100 INVITE", "200 CANCEL", "487 INVITE"]);
  const [, ok, term] = sender.responses();
  assert.equal(ok.to.tag, term.to.tag);
  assert.equal(tx.state, "Completed");
  timers.advance(64 * 500);
  assert.deepEqual(layer.size, { client: 0, server: 0 });
});

withBothSenders(
  "§9.2: CANCEL after the final is answered 200 without onCancel; CANCEL matching nothing gets 481",
  () => {
    const { layer, sender, timers, inv, tx } = inviteServer();
    let cancels = 0;
    tx.onCancel = () => cancels++;
    tx.respond(reply(inv, 200, "t200"));
    layer.receiveRequest(request("CANCEL", "z9hG4bKinv1"), UDP);
    layer.receiveRequest(request("CANCEL", "z9hG4bKnothing"), UDP);
    const cancelAnswers = sender.responses().filter((r) => r.cseq.method === "CANCEL");
    assert.deepEqual(cancelAnswers.map((r) => r.status), [200, 481]);
    assert.equal(cancelAnswers[0].to.tag, "t200");
    assert.ok(cancelAnswers[1].to.tag);
    assert.equal(cancels, 0);
    tx.acked();
    timers.advance(64 * 500);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "§8.2.2.2: a merged request (same From tag, Call-ID, CSeq, other branch) gets 482 from the layer",
  () => {
    const { layer, sender, timers, inv, tx, user } = inviteServer();
    const forked = request("INVITE", "z9hG4bKotherpath");
    forked.set("Via", "SIP/2.0/UDP 198.51.100.99:5060;branch=z9hG4bKotherpath");
    layer.receiveRequest(forked, UDP);
    assert.equal(user.requests.length, 1);
    const loop = sender.responses().find((r) => r.status === 482)!;
    assert.equal(loop.topVia!.branch, "z9hG4bKotherpath");
    assert.ok(loop.to.tag);
    // Its retransmission and ACK are absorbed by the 482's own transaction.
    layer.receiveRequest(forked, UDP);
    const fa = ackFor(forked, loop.to.tag);
    layer.receiveRequest(fa, UDP);
    assert.equal(user.requests.length, 1);
    assert.equal(sender.responses().filter((r) => r.status === 482).length, 2);
    // With a To tag (in-dialog) the request is not a merge candidate.
    const inDialog = request("INVITE", "z9hG4bKreinvite", { toTag: "b1" });
    layer.receiveRequest(inDialog, UDP);
    assert.equal(user.requests.length, 2);
    user.requests[1].tx!.respond(reply(inDialog, 200));
    user.requests[1].tx!.acked();
    tx.respond(reply(inv, 486));
    layer.receiveRequest(ackFor(inv), UDP);
    timers.advance(64 * 500);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "§17.2.3: same branch from another sent-by, or another method, is another transaction",
  () => {
    const { layer, user } = inviteServer();
    const other = request("INVITE", "z9hG4bKinv1", { cseq: 1 });
    other.set("Via", "SIP/2.0/UDP 203.0.113.5:5070;branch=z9hG4bKinv1");
    other.set("From", "<sip:carol@example.com>;tag=c9");
    layer.receiveRequest(other, UDP);
    const opt = request("OPTIONS", "z9hG4bKinv1");
    layer.receiveRequest(opt, UDP);
    assert.equal(user.requests.length, 3);
    assert.equal(layer.size.server, 3);
  },
);

for (const branch of [undefined, "z9hG4bK"]) {
  Deno.test(`§17.2.3 RFC 2543 fallback (${branch ?? "no branch"}): retransmission, ACK by To tag, CANCEL by the tuple`, () => {
    const env = setup();
    const txs: ServerTransaction[] = [];
    env.user.onNew = (_req, t) => txs.push(t);
    const mk = (method: string) => {
      const r = request(method, "x");
      const via = branch === undefined
        ? "SIP/2.0/UDP 198.51.100.1:5060"
        : `SIP/2.0/UDP 198.51.100.1:5060;branch=${branch}`;
      r.remove("Via").add("Via", via);
      return r;
    };
    const inv = mk("INVITE");
    env.layer.receiveRequest(inv, UDP);
    env.layer.receiveRequest(mk("INVITE"), UDP); // retransmission
    assert.equal(txs.length, 1);
    assert.deepEqual(env.sender.responses().map((r) => r.status), [100, 100]);
    // CANCEL matches the INVITE by Request-URI, From tag, Call-ID, CSeq number and top Via.
    let cancelled = 0;
    txs[0].onCancel = () => {
      cancelled++;
      txs[0].respond(reply(inv, 487, "u1"));
    };
    env.layer.receiveRequest(mk("CANCEL"), UDP);
    assert.equal(cancelled, 1);
    // An ACK with another To tag is not ours: it goes to the TU.
    const stray = mk("ACK");
    stray.set("To", "<sip:bob@example.org>;tag=zzz");
    env.layer.receiveRequest(stray, UDP);
    assert.equal(env.user.requests.at(-1)!.tx, undefined);
    const ack = mk("ACK");
    ack.set("To", "<sip:bob@example.org>;tag=u1");
    env.layer.receiveRequest(ack, UDP);
    assert.equal(txs[0].state, "Confirmed");
    assert.equal(env.user.requests.length, 2); // the INVITE and the stray ACK
    env.timers.advance(64 * 500);
    assert.deepEqual(env.layer.size, { client: 0, server: 0 });
  });
}

withBothSenders(
  "§17: maps drain after a mixed load of every kind of transaction (no leaks)",
  () => {
    const env = setup();
    const { layer, timers, user } = env;
    user.onNew = (req, tx) => {
      const n = Number(req.callId.split("-")[1]);
      if (req.method === "INVITE") {
        if (n % 3 === 0) tx.respond(reply(req, 200));
        else if (n % 3 === 1) tx.respond(reply(req, 486));
        // else left pending; a CANCEL ends it
      } else tx.respond(reply(req, 200));
    };
    for (let i = 0; i < 300; i++) {
      const inv = request("INVITE", `z9hG4bKs${i}`);
      inv.set("Call-ID", `call-${i}`);
      layer.receiveRequest(inv, UDP);
      if (i % 3 === 2) {
        const c = request("CANCEL", `z9hG4bKs${i}`);
        c.set("Call-ID", `call-${i}`);
        layer.receiveRequest(c, UDP);
      }
      if (i % 3 === 1) {
        const a = ackFor(inv);
        layer.receiveRequest(a, UDP);
      }
      const h = new RecordingHandler();
      const out = request(i % 2 ? "INVITE" : "OPTIONS", layer.newBranch());
      out.set("Call-ID", `out-${i}`);
      const tx = layer.sendRequest(out, UDP, h);
      if (i % 4 === 0) layer.receiveResponse(reply(out, 200), UDP);
      if (i % 4 === 1) layer.receiveResponse(reply(out, 404), UDP);
      if (i % 4 === 2) {
        layer.receiveResponse(reply(out, 180), UDP);
        tx.cancel();
      }
      timers.advance(7);
    }
    assert.ok(layer.size.client > 0 && layer.size.server > 0);
    const text = env.metrics.expose();
    assert.match(text, /tandem_transactions_active\{kind="server_invite"\} \d+/);
    assert.match(text, /tandem_transactions_active\{kind="client_non_invite"\} \d+/);
    timers.advance(200000);
    assert.deepEqual(layer.size, { client: 0, server: 0 });
    const after = env.metrics.expose();
    for (
      const kind of ["client_invite", "client_non_invite", "server_invite", "server_non_invite"]
    ) {
      assert.match(after, new RegExp(`tandem_transactions_active\\{kind="${kind}"\\} 0\\n`));
    }
  },
);

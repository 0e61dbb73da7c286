// The linger index (src/transaction/linger.ts) on its own, and the layer keeping finished
// transactions out of the live maps (as records, linger-records.ts, when the sender takes bytes;
// as objects here otherwise): still matched by retransmissions, ended on time.

import assert from "node:assert/strict";
import { type Lingerer, LingerIndex } from "../../src/transaction/linger.ts";
import { ManualClock, ManualTimers } from "../../src/util/timer-queue.ts";
import { ackFor, reply, request, setup, UDP, withBothSenders } from "./fake-transport.ts";
import type { ClientHandler, ServerTransaction } from "../../src/transaction/mod.ts";

/**
 * A TU's handler that does not ask for onTerminated, as the B2BUA's do: its transactions can
 * linger as records (RecordingHandler's stay objects, to hear of their end).
 */
class QuietHandler implements ClientHandler {
  readonly statuses: number[] = [];
  onResponse(res: { status: number }): void {
    this.statuses.push(res.status);
  }
  onTimeout(): void {}
  onTransportError(): void {}
}

/** A transaction as the index sees it; ending takes it out, as the layer's transactions do. */
class Tx implements Lingerer {
  lingerUntil = 0;
  lingerGen: Map<string, Lingerer> | undefined;
  endedAt: number | undefined;
  constructor(
    readonly key: string,
    private readonly index: () => LingerIndex,
    private readonly clock: ManualClock,
    readonly mergeKey?: string,
  ) {}
  lingerExpired(): void {
    this.endedAt = this.clock.t;
    this.index().delete(this);
  }
}

function fixture() {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const index: LingerIndex = new LingerIndex(timers, () => clock.t);
  const tx = (key: string, mergeKey?: string) => new Tx(key, () => index, clock, mergeKey);
  return { clock, timers, index, tx };
}

Deno.test("linger: each transaction ends at its own deadline, found by key until then", () => {
  const { timers, index, tx } = fixture();
  const a = tx("a");
  index.add(a, 32_000);
  timers.advance(10_000);
  const b = tx("b");
  index.add(b, 32_000);
  assert.equal(index.get("a"), a);
  assert.equal(index.get("b"), b);
  timers.advance(22_000);
  assert.equal(a.endedAt, 32_000);
  assert.equal(index.get("a"), undefined);
  assert.equal(index.get("b"), b);
  timers.advance(10_000);
  assert.equal(b.endedAt, 42_000);
  assert.equal(index.size, 0);
});

Deno.test("linger: lifetimes keep their own queues (Timer K does not wait behind Timer J)", () => {
  const { timers, index, tx } = fixture();
  const j = tx("j");
  const k = tx("k");
  index.add(j, 32_000);
  index.add(k, 5_000);
  timers.advance(5_000);
  assert.equal(k.endedAt, 5_000);
  assert.equal(j.endedAt, undefined);
  timers.advance(27_000);
  assert.equal(j.endedAt, 32_000);
});

Deno.test("linger: many transactions over many generations end in order, in batched passes", () => {
  const { clock, timers, index, tx } = fixture();
  const all: Tx[] = [];
  // 4 per ms for 40 s: a thousand calls a second's worth of BYE transactions.
  for (let ms = 0; ms < 40_000; ms++) {
    for (let i = 0; i < 4; i++) {
      const t = tx(`k${ms}.${i}`);
      index.add(t, 32_000);
      all.push(t);
    }
    timers.advance(1);
  }
  timers.advance(33_000);
  assert.equal(index.size, 0);
  for (const t of all) {
    const late = t.endedAt! - t.lingerUntil;
    // Never early; late by at most one pass (20 ms).
    assert.ok(late >= 0 && late <= 20, `${t.key} ended ${late} ms after its deadline`);
  }
  assert.ok(clock.t >= 73_000);
});

Deno.test("linger: a transaction taken out early is neither found nor ended later", () => {
  const { timers, index, tx } = fixture();
  const a = tx("a", "m");
  index.add(a, 32_000, undefined, "m");
  assert.equal(index.get("m"), a);
  assert.equal(index.delete(a), true);
  assert.equal(index.delete(a), false);
  assert.equal(index.get("a"), undefined);
  assert.equal(index.get("m"), undefined);
  timers.advance(40_000);
  assert.equal(a.endedAt, undefined);
});

Deno.test("linger: an expired entry, left in its generation until the whole goes, is not found", () => {
  const { timers, index, tx } = fixture();
  const a = tx("a", "ma");
  index.add(a, 32_000, undefined, "ma");
  timers.advance(1_000);
  const b = tx("b"); // same generation (a span is 4 s), due 1 s later
  index.add(b, 32_000);
  timers.advance(31_500);
  assert.equal(a.endedAt, 32_000);
  assert.equal(b.endedAt, undefined);
  assert.equal(index.get("a"), undefined, "expired: not found by its key");
  assert.equal(index.get("ma"), undefined, "nor by its merge key");
  assert.equal(index.delete(a), false, "no longer lingering");
  assert.equal(index.size, 1);
  assert.equal(index.get("b"), b);
  timers.advance(1_000);
  assert.equal(b.endedAt, 33_000);
  assert.equal(index.size, 0);
});

Deno.test("linger: a key lingering again while its expired entry waits in the generation being passed ends too", () => {
  const { timers, index, tx } = fixture();
  // A deadline given as already past (Timer L, late ACK) ends the first at once while the timer's
  // passes stop at the second: the same key then comes back into that generation.
  const a = tx("a");
  index.add(a, 32, 0);
  const b = tx("b");
  index.add(b, 32);
  timers.advance(1);
  assert.equal(a.endedAt, 0);
  assert.equal(b.endedAt, undefined);
  const again = tx("a");
  index.add(again, 32, 2);
  assert.equal(index.get("a"), again);
  timers.advance(40);
  assert.equal(b.endedAt !== undefined, true);
  assert.equal(again.endedAt !== undefined, true, "the new entry was passed over by the timer");
  assert.equal(index.get("a"), undefined);
  assert.equal(index.size, 0);
});

Deno.test("linger: a deadline given from an earlier start (Timer L from the 2xx) is kept", () => {
  const { timers, index, tx } = fixture();
  timers.advance(1_000);
  const l = tx("l");
  index.add(l, 32_000, 32_000); // armed at 0, lingering from 1 s
  timers.advance(31_000);
  assert.equal(l.endedAt, 32_000);
});

withBothSenders(
  "layer: a finished transaction leaves the live map, resends its final, ends at Timer J",
  () => {
    const { layer, sender, timers, user } = setup();
    const txs: ServerTransaction[] = [];
    user.onNew = (_req, t) => txs.push(t);
    const bye = request("BYE", "z9hG4bKbye1");
    layer.receiveRequest(bye, UDP);
    txs[0].respond(reply(bye, 200, "tb"));
    const live = (layer as unknown as { servers: Map<string, unknown> }).servers;
    assert.equal(live.size, 0, "not in the live map while it only waits");
    assert.deepEqual(layer.size, { client: 0, server: 1 }, "still counted");
    timers.advance(20_000);
    layer.receiveRequest(request("BYE", "z9hG4bKbye1"), UDP);
    assert.equal(sender.responses().filter((r) => r.status === 200).length, 2, "200 resent");
    assert.equal(user.requests.length, 1, "the retransmission is not a new request");
    timers.advance(12_000);
    assert.equal(txs[0].state, "Terminated");
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

withBothSenders(
  "layer: an answered INVITE lingers after its ACK and still merges a forked copy (482)",
  () => {
    const { layer, sender, timers, user } = setup();
    const txs: ServerTransaction[] = [];
    user.onNew = (_req, t) => txs.push(t);
    const inv = request("INVITE", "z9hG4bKinv1");
    layer.receiveRequest(inv, UDP);
    const tx = txs[0];
    tx.respond(reply(inv, 200, "t2"));
    timers.advance(100);
    tx.acked();
    const live = (layer as unknown as { servers: Map<string, unknown> }).servers;
    assert.equal(live.size, 0);
    // The same INVITE by another path (another branch, no To tag): §8.2.2.2.
    layer.receiveRequest(request("INVITE", "z9hG4bKother"), UDP);
    assert.equal(sender.responses().at(-1)!.status, 482);
    // Timer L runs from the 2xx, not from the ACK.
    timers.advance(64 * 500 - 100);
    assert.equal(tx.state, "Terminated");
  },
);

withBothSenders(
  "layer: an INVITE lingering after its ACK absorbs its retransmission, answers a late CANCEL with the 2xx's tag, passes ACKs up",
  () => {
    const { layer, sender, timers, user } = setup();
    const txs: ServerTransaction[] = [];
    user.onNew = (_req, t) => txs.push(t);
    const inv = request("INVITE", "z9hG4bKacc");
    layer.receiveRequest(inv, UDP);
    txs[0].respond(reply(inv, 200, "t9"));
    txs[0].acked();
    const before = sender.sent.length;
    layer.receiveRequest(request("INVITE", "z9hG4bKacc"), UDP);
    assert.equal(sender.sent.length, before, "RFC 6026 §8.7: absorbed, nothing resent");
    layer.receiveRequest(request("CANCEL", "z9hG4bKacc"), UDP);
    const ok = sender.responses().at(-1)!;
    assert.equal(ok.cseq.method, "CANCEL");
    assert.equal(ok.status, 200);
    assert.equal(ok.to.tag, "t9", "§9.2: the tag of the INVITE's final");
    layer.receiveRequest(ackFor(inv, "t9"), UDP);
    assert.equal(user.requests.at(-1)!.req.method, "ACK", "an ACK in Accepted is the TU's");
    assert.equal(user.requests.at(-1)!.tx, undefined);
    assert.equal(txs[0].state, "Accepted");
    timers.advance(64 * 500);
    assert.equal(txs[0].state, "Terminated");
    assert.deepEqual(layer.size, { client: 0, server: 0 }, "the CANCEL's own ended too");
  },
);

withBothSenders(
  "layer: a Confirmed INVITE lingering until Timer I absorbs the INVITE and the ACK again",
  () => {
    const { layer, sender, timers, user } = setup();
    const txs: ServerTransaction[] = [];
    user.onNew = (_req, t) => txs.push(t);
    const inv = request("INVITE", "z9hG4bKconf");
    layer.receiveRequest(inv, UDP);
    txs[0].respond(reply(inv, 486, "t4"));
    layer.receiveRequest(ackFor(inv, "t4"), UDP);
    assert.equal(txs[0].state, "Confirmed");
    const sent = sender.sent.length;
    layer.receiveRequest(ackFor(inv, "t4"), UDP);
    layer.receiveRequest(request("INVITE", "z9hG4bKconf"), UDP);
    assert.equal(sender.sent.length, sent, "nothing resent");
    assert.equal(user.requests.length, 1, "neither reaches the TU");
    layer.receiveRequest(request("CANCEL", "z9hG4bKconf"), UDP);
    assert.equal(sender.responses().at(-1)!.to.tag, "t4");
    timers.advance(5_000); // Timer I = T4
    assert.equal(txs[0].state, "Terminated");
    layer.receiveRequest(ackFor(inv, "t4"), UDP);
    assert.equal(user.requests.length, 2, "after Timer I an ACK is the TU's");
  },
);

withBothSenders(
  "layer: a TU ending a lingering transaction ends it once: counts do not drop again at its deadline",
  () => {
    const { layer, timers } = setup();
    const h = new QuietHandler();
    const bye = request("BYE", layer.newBranch());
    const tx = layer.sendRequest(bye, UDP, h);
    layer.receiveResponse(reply(bye, 200), UDP);
    assert.equal(tx.state, "Completed");
    assert.deepEqual(layer.size, { client: 1, server: 0 });
    tx.terminate();
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(layer.size, { client: 0, server: 0 });
    const other = layer.sendRequest(request("BYE", layer.newBranch()), UDP, h);
    layer.receiveResponse(reply(request("BYE", other.branch), 200), UDP);
    timers.advance(5_000); // Timer K of both
    assert.deepEqual(layer.size, { client: 0, server: 0 });
    assert.equal(other.state, "Terminated");
    // A retransmitted final after Timer K is a stray.
    layer.receiveResponse(reply(bye, 200), UDP);
  },
);

withBothSenders(
  "layer: a Completed INVITE client lingering as a record ACKs each retransmitted final until Timer D",
  () => {
    const { layer, sender, timers, user } = setup();
    const h = new QuietHandler();
    const inv = request("INVITE", layer.newBranch());
    const tx = layer.sendRequest(inv, UDP, h);
    layer.receiveResponse(reply(inv, 486, "r1"), UDP);
    assert.equal(tx.state, "Completed");
    timers.advance(1_000);
    layer.receiveResponse(reply(inv, 486, "r1"), UDP);
    layer.receiveResponse(reply(inv, 180, "r1"), UDP); // absorbed
    assert.deepEqual(sender.times("ACK"), [0, 1_000]);
    const [first, again] = sender.requests("ACK");
    assert.equal(again.get("via"), first.get("via"), "the same ACK");
    assert.equal(again.to.tag, "r1");
    assert.deepEqual(h.statuses, [486], "retransmissions do not reach the TU");
    timers.advance(31_000); // Timer D: 32 s over UDP
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(layer.size, { client: 0, server: 0 });
    layer.receiveResponse(reply(inv, 486, "r1"), UDP);
    assert.equal(user.strays.length, 1, "after Timer D a final is a stray");
  },
);

withBothSenders(
  "layer: an Accepted INVITE client stays live until the TU's ACK, then re-ACKs the 2xx as a record until Timer M",
  () => {
    const { layer, sender, timers, user } = setup();
    const h = new QuietHandler();
    const inv = request("INVITE", layer.newBranch());
    const tx = layer.sendRequest(inv, UDP, h);
    layer.receiveResponse(reply(inv, 200, "a1"), UDP);
    timers.advance(200);
    layer.receiveResponse(reply(inv, 200, "a1"), UDP);
    assert.deepEqual(h.statuses, [200, 200], "before the TU's ACK, the 2xx is the TU's");
    const target = { host: "192.0.2.30", port: 5090, protocol: "udp" as const };
    tx.sendAck(request("ACK", layer.newBranch(), { toTag: "a1" }), target, "a1");
    timers.advance(300);
    layer.receiveResponse(reply(inv, 200, "a1"), UDP);
    assert.deepEqual(sender.times("ACK"), [200, 500]);
    const last = sender.sent.at(-1)!;
    assert.deepEqual([last.dest.host, last.dest.port], ["192.0.2.30", 5090]);
    layer.receiveResponse(reply(inv, 200, "fork"), UDP);
    assert.deepEqual(user.strays.map((r) => r.to.tag), ["fork"]);
    assert.deepEqual(h.statuses, [200, 200]);
    timers.advance(64 * 500 - 500); // Timer M runs from the 2xx
    assert.equal(tx.state, "Terminated");
    assert.deepEqual(layer.size, { client: 0, server: 0 });
  },
);

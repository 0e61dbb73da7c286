// What an ended call's legs leave (src/b2bua/ended-legs.ts): found by dialog key for 32 s, an
// answered leg with its identity, tag and address, one awaiting its ACK with its transaction.

import assert from "node:assert/strict";
import { ENDED, EndedLegs } from "../../src/b2bua/ended-legs.ts";
import type { ServerTransaction } from "../../src/transaction/mod.ts";
import { ManualClock, ManualTimers } from "../../src/util/timer-queue.ts";

function fixture() {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  return { timers, legs: new EndedLegs(timers, () => clock.t) };
}

Deno.test("ended legs: plain, answered and awaiting-ACK legs are found for 32 s, then not", () => {
  const { timers, legs } = fixture();
  const dest = { protocol: "udp" as const, host: "192.0.2.9", port: 5090 };
  const stx = { state: "Accepted" } as unknown as ServerTransaction;
  legs.set("c1\0a", ENDED);
  legs.set("c1\0b", {
    ended: true,
    answered: "sip:b@h\nSIP/2.0/UDP t;branch=z9hG4bKx\n<sip:a@h>;tag=1\n<sip:b@h>\nc1\n1",
    remoteTag: "callee7",
    dest,
  });
  legs.set("c2\0a", { ended: true, awaitingAck: { stx, inviteSeq: 4 } });
  assert.equal(legs.size, 3);
  assert.equal(legs.get("c1\0a"), ENDED);
  const b = legs.get("c1\0b")!;
  assert.equal(b.remoteTag, "callee7");
  assert.equal(
    b.answered,
    "sip:b@h\nSIP/2.0/UDP t;branch=z9hG4bKx\n<sip:a@h>;tag=1\n<sip:b@h>\nc1\n1",
  );
  assert.deepEqual(b.dest, dest);
  assert.equal(legs.get("c2\0a")!.awaitingAck!.stx, stx);
  assert.equal(legs.get("c3\0a"), undefined);
  timers.advance(32_000);
  assert.equal(legs.get("c1\0a"), undefined);
  assert.equal(legs.get("c1\0b"), undefined);
  timers.advance(8_000); // the awaiting ones go a generation at a time: within 32-36 s
  assert.equal(legs.get("c2\0a"), undefined);
  assert.equal(legs.size, 0);
});

Deno.test("ended legs: an answered leg without a tag is found with none", () => {
  const { legs } = fixture();
  legs.set("k", { ended: true, answered: "x\ny", dest: { protocol: "udp", host: "h", port: 1 } });
  const l = legs.get("k")!;
  assert.equal(l.remoteTag, undefined);
  assert.equal(l.answered, "x\ny");
});

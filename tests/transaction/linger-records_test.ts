// The lingering records (src/transaction/linger-records.ts) on their own: found by key and merge
// key until their deadline, ended in order, generations reused without old numbers coming back.
// The layer's use of them is covered by the transaction machines' tests and linger_test.ts.

import assert from "node:assert/strict";
import { LingerRecords, NONE, RecordKind } from "../../src/transaction/linger-records.ts";
import { ManualClock, ManualTimers } from "../../src/util/timer-queue.ts";
import type { Endpoint } from "../../src/transport/types.ts";

function fixture() {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const ended: number[] = [];
  const records = new LingerRecords(timers, () => clock.t, (k) => ended.push(k));
  return { clock, timers, records, ended };
}

const PEER: Endpoint = { protocol: "udp", host: "127.0.0.1", port: 5060 };
const K = RecordKind.NonInviteCompleted;

function add(records: LingerRecords, key: string, ms = 32_000, key2?: string): number {
  return records.add(K, "BYE", ms, undefined, key, key2, undefined, undefined, PEER, PEER);
}

Deno.test("records: found by key and merge key until the deadline, then ended once", () => {
  const { timers, records, ended } = fixture();
  const data = new TextEncoder().encode("SIP/2.0 200 OK\r\n\r\n");
  const a = records.add(
    RecordKind.InviteConfirmed,
    "INVITE",
    32_000,
    undefined,
    "z9hG4bKa\0h:5060\0INVITE",
    "ftag\0cid\x001\0INVITE",
    "<sip:b@h>;tag=xyz",
    data,
    PEER,
    undefined,
  );
  assert.equal(records.find("z9hG4bKa\0h:5060\0INVITE"), a);
  assert.equal(records.find("ftag\0cid\x001\0INVITE"), a);
  assert.equal(records.find("z9hG4bKa\0h:5060\0CANCEL"), NONE);
  assert.equal(records.kind(a), RecordKind.InviteConfirmed);
  assert.equal(records.method(a), "INVITE");
  assert.equal(records.str(a), "<sip:b@h>;tag=xyz");
  assert.deepEqual(records.data(a), data);
  assert.notEqual(records.data(a)!.buffer, data.buffer, "a copy, not the caller's bytes");
  assert.equal(records.to(a), PEER);
  assert.equal(records.peer(a), undefined);
  timers.advance(31_999);
  assert.equal(records.find("z9hG4bKa\0h:5060\0INVITE"), a);
  timers.advance(1);
  assert.equal(records.find("z9hG4bKa\0h:5060\0INVITE"), NONE);
  assert.equal(records.find("ftag\0cid\x001\0INVITE"), NONE);
  assert.equal(records.kind(a), 0);
  assert.deepEqual(ended, [RecordKind.InviteConfirmed]);
  assert.equal(records.size, 0);
});

Deno.test("records: one ended early is neither found nor reported at its deadline", () => {
  const { timers, records, ended } = fixture();
  const a = add(records, "a");
  const b = add(records, "b");
  assert.equal(records.end(a), K);
  assert.equal(records.end(a), 0, "a second end finds nothing");
  assert.equal(records.find("a"), NONE);
  assert.equal(records.find("b"), b);
  timers.advance(32_000);
  assert.deepEqual(ended, [K], "only b's timer ran out");
});

Deno.test("records: thousands over many generations, each found until its deadline, each ended", () => {
  const { clock, timers, records, ended } = fixture();
  const recs: number[] = [];
  // 20,000 records over 40 s: arrays grown, tables rehashed, generations filled and passed.
  for (let i = 0; i < 20_000; i++) {
    recs.push(add(records, `z9hG4bK${i.toString(36)}\0BYE`));
    if (i % 500 === 499) {
      for (let j = i - 499; j <= i; j += 37) {
        assert.equal(records.find(`z9hG4bK${j.toString(36)}\0BYE`), recs[j]);
      }
      timers.advance(1_000);
    }
  }
  const t0 = clock.t;
  // Those older than 32 s are gone; the rest are still found.
  let found = 0;
  for (let i = 0; i < 20_000; i++) {
    if (records.find(`z9hG4bK${i.toString(36)}\0BYE`) !== NONE) found++;
  }
  assert.equal(found, records.size);
  assert.equal(ended.length + found, 20_000);
  timers.advance(40_000);
  assert.equal(ended.length, 20_000);
  assert.equal(records.size, 0);
  assert.ok(clock.t - t0 <= 40_000);
});

Deno.test("records: a reused generation does not bring an old number or key back", () => {
  const { timers, records } = fixture();
  const old = add(records, "old", 5_000);
  timers.advance(5_000 + 1_000);
  assert.equal(records.kind(old), 0);
  // The pooled generation is taken again for the next span.
  const fresh = add(records, "fresh", 5_000);
  assert.notEqual(fresh, old);
  assert.equal(records.kind(old), 0, "the old number stays ended");
  assert.equal(records.end(old), 0);
  assert.equal(records.kind(fresh), K);
  assert.equal(records.find("old"), NONE);
  assert.equal(records.find("fresh"), fresh);
});

Deno.test("records: a key lingering again after its record ended is found as the new one", () => {
  const { timers, records, ended } = fixture();
  const a = add(records, "k");
  records.end(a);
  const b = add(records, "k");
  assert.equal(records.find("k"), b);
  timers.advance(32_000);
  assert.deepEqual(ended, [K]);
  assert.equal(records.find("k"), NONE);
});

Deno.test("records: lifetimes keep their own queues (Timer K does not wait behind Timer J)", () => {
  const { timers, records, ended } = fixture();
  records.add(
    RecordKind.NonInviteCompleted,
    "BYE",
    32_000,
    undefined,
    "j",
    undefined,
    undefined,
    undefined,
    PEER,
    PEER,
  );
  records.add(
    RecordKind.ClientNonInviteCompleted,
    "BYE",
    5_000,
    undefined,
    "k",
    undefined,
    undefined,
    undefined,
    PEER,
    PEER,
  );
  timers.advance(5_000);
  assert.deepEqual(ended, [RecordKind.ClientNonInviteCompleted]);
  assert.notEqual(records.find("j"), NONE);
});

Deno.test("records: keys outside Latin-1 are kept whole", () => {
  const { records } = fixture();
  const key = "2543\0BYE\0sip:\u00e9\u4e16@h\0t\0c\x001\0SIP/2.0/UDP h";
  const a = add(records, key);
  assert.equal(records.find(key), a);
  assert.equal(records.find(key.replace("\u4e16", "\u4e17")), NONE);
});

Deno.test("records: ending half of many records early loses none of the others (the filter's counts)", () => {
  const { records } = fixture();
  const recs: number[] = [];
  for (let i = 0; i < 50_000; i++) recs.push(add(records, `k${i}`, 32_000, `m${i}`));
  for (let i = 0; i < 50_000; i += 2) {
    records.end(recs[i]);
    records.end(recs[i]); // a second end changes nothing
  }
  for (let i = 0; i < 50_000; i++) {
    const want = i % 2 === 0 ? NONE : recs[i];
    assert.equal(records.find(`k${i}`), want);
    assert.equal(records.find(`m${i}`), want);
  }
});

Deno.test("records: an address no record names any more is let go; its number serves the next", () => {
  const { records } = fixture();
  const ep = (port: number): Endpoint => ({ protocol: "tcp", host: "192.0.2.1", port });
  const [a, b, c] = [ep(1), ep(2), ep(3)];
  const put = (key: string, to: Endpoint) =>
    records.add(K, "BYE", 32_000, undefined, key, undefined, undefined, undefined, to, to);
  const ra = put("a", a);
  const rb = put("b", b);
  const rb2 = put("b2", b);
  records.end(ra);
  const rc = put("c", c);
  assert.equal(records.to(rb), b);
  assert.equal(records.peer(rb2), b);
  assert.equal(records.to(rc), c);
  assert.equal(records.peer(rc), c);
  records.end(rb);
  assert.equal(records.to(rb2), b, "still named by another record");
});

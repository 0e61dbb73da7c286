// Lookup cost in what finished transactions wait in: the records (src/transaction/
// linger-records.ts) against the index of maps kept for transactions that still need the heap
// (src/transaction/linger.ts), each holding what 40 s at 4,000 calls/s leave (four keys a call,
// three kept 32 s, one 5 s). A miss is a new request's key; a hit a retransmission's.
//
//   bun scripts/bench-linger.ts
//   deno run -A scripts/bench-linger.ts

import { LingerRecords, NONE, RecordKind } from "../src/transaction/linger-records.ts";
import { type Lingerer, LingerIndex } from "../src/transaction/linger.ts";
import { ManualClock, ManualTimers } from "../src/util/timer-queue.ts";
import type { Endpoint } from "../src/transport/types.ts";

const clock = new ManualClock();
const timers = new ManualTimers(clock);
const records = new LingerRecords(timers, () => clock.t, () => {});
const index = new LingerIndex(timers, () => clock.t);
const peer: Endpoint = { protocol: "udp", host: "127.0.0.1", port: 5060 };
const rnd = () => Math.random().toString(36).slice(2, 12);
const key = (method: string) => "z9hG4bK" + rnd() + rnd() + "\x00127.0.0.1:5070\x00" + method;

const recent: string[] = [];
for (let call = 0; call < 40 * 4000; call++) {
  for (let j = 0; j < 4; j++) {
    const k = key(j === 0 ? "INVITE" : "BYE");
    const ms = j === 3 ? 5000 : 32000;
    records.add(
      RecordKind.NonInviteCompleted,
      "BYE",
      ms,
      undefined,
      k,
      undefined,
      undefined,
      undefined,
      peer,
      peer,
    );
    const tx: Lingerer = {
      key: k,
      lingerUntil: 0,
      lingerGen: undefined,
      lingerExpired: () => void index.delete(tx),
    };
    index.add(tx, ms);
    if (call > 38 * 4000) recent.push(k);
  }
  if (call % 4 === 0) timers.advance(1);
}
const misses: string[] = [];
for (let i = 0; i < 100_000; i++) misses.push(key("BYE"));
console.log(`lingering: ${records.size} records, ${index.size} in the index of maps`);

function ns(keys: string[], look: (k: string) => boolean): number {
  const t = performance.now();
  let n = 0;
  for (const k of keys) if (look(k)) n++;
  if (n < 0) console.log(n);
  return (performance.now() - t) / keys.length * 1e6;
}
for (let round = 0; round < 3; round++) {
  const rm = ns(misses, (k) => records.find(k) !== NONE);
  const im = ns(misses, (k) => index.get(k) !== undefined);
  const rh = ns(recent, (k) => records.find(k) !== NONE);
  const ih = ns(recent, (k) => index.get(k) !== undefined);
  console.log(
    `miss: records ${rm.toFixed(0)} ns, maps ${im.toFixed(0)} ns; ` +
      `hit: records ${rh.toFixed(0)} ns, maps ${ih.toFixed(0)} ns`,
  );
}

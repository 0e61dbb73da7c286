// Test support: a process that journals CDRs with fsync=every and prints "durable <n>" after
// each acknowledged append, until it is killed (crash simulation for journal_test.ts).

import { CdrJournal } from "../../src/cdr/mod.ts";
import { sampleCdr } from "./fixtures.ts";

const j = await CdrJournal.open(Deno.args[0], { fsync: "every", rotateBytes: 4096 });
for (let n = 1;; n++) {
  const rec = sampleCdr(n);
  rec.attempt = n; // the sequence number, checked by the parent
  await j.appendDurable(rec);
  console.log(`durable ${n}`);
}

// Test support: a process that records five answered calls in the answered-call ledger, ends
// the second and the fourth, prints "ready <ids>" and waits to be killed (crash simulation for
// live-calls_test.ts).

import { LiveCallLedger } from "../../src/cdr/mod.ts";
import { answeredCall } from "./fixtures.ts";

const { ledger } = await LiveCallLedger.open(Deno.args[0], { checkpoint: 50 });
const calls = [0, 1, 2, 3, 4].map((n) => answeredCall(n, Date.now() - 1000));
for (const c of calls) ledger.answered(c);
ledger.ended(calls[1].id);
ledger.ended(calls[3].id);
console.log(`ready ${JSON.stringify(calls.map((c) => c.id))}`);
setInterval(() => {}, 1000); // the ledger's own timer does not hold the process

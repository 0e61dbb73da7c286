// Parser/serializer throughput (RFC 3261 §7 messages): parses and re-serializes a typical
// INVITE and a 200 OK N times each and prints ops/s. Usage:
//   deno run -A scripts/bench-parser.ts [N]     (default N = 200000)
//   bun scripts/bench-parser.ts [N]
// The messages are tests/testdata/sip/invite.sip and ok200.sip.

import { readFileSync } from "node:fs";
import process from "node:process";
import { parseMessage, serialize, type SipMessage } from "../src/sip/mod.ts";

const arg = process.argv[2];
const n = Number(arg ?? 200_000);
if (!Number.isInteger(n) || n <= 0) {
  throw new Error(`expected a positive count, got ${arg}`);
}
const dir = new URL("../tests/testdata/sip/", import.meta.url);
const load = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));
const cases: [string, Uint8Array][] = [
  ["INVITE", load("invite.sip")],
  ["200 OK", load("ok200.sip")],
];

/** What a B2BUA reads of every message: the transaction and dialog keys. */
function touch(m: SipMessage): number {
  return m.topVia!.branch!.length + m.cseq.seq + m.from.tag!.length + m.callId.length;
}

function run(label: string, data: Uint8Array, count: number, withSerialize: boolean): number {
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const m = parseMessage(data);
    sink += touch(m);
    if (withSerialize) sink += serialize(m).length;
  }
  const ms = performance.now() - t0;
  if (sink === 0) console.log("unreachable"); // keeps the work observable to the optimizer
  void label;
  return count / (ms / 1000);
}

for (const [label, data] of cases) {
  run(label, data, Math.min(n, 20_000), true); // warm-up so the JIT has compiled the path
  const parseOnly = run(label, data, n, false);
  const both = run(label, data, n, true);
  console.log(
    `${label.padEnd(7)} ${data.length} B  parse ${
      Math.round(parseOnly).toLocaleString("en")
    } ops/s` +
      `  parse+serialize ${Math.round(both).toLocaleString("en")} ops/s  (N=${n})`,
  );
}

// The JavaScriptCore-aware perf profile: address ranges from a disassembly dump, perf stacks,
// and charging native and kernel time to the innermost JavaScript function.

import assert from "node:assert/strict";
import { attribute, JitMap, parsePerfScript } from "../../scripts/bench/jsc-perf.ts";

const DUMP = `Generated JIT code for fixup arity: [0x7f0000001000, 0x7f0000001080) 128 bytes:
Generated Baseline JIT code for parseInner#AAAAAA:[0x1->0x2, BaselineFunctionCall, 71 (StrictMode)], instructions size = 71
   Source: function parseInner(data, limits) {
   Code at [0x7f0000002000, 0x7f0000002400):
        disassembly not available for range 0x7f0000002000...0x7f00000020ac
Generated FTL code for receive#BBBBBB:[0x3->0x4, FTLFunctionCall, 955 (StrictMode)], instructions size = 955:
asm                 disassembly not available for range 0x7f0000003000...0x7f0000003100
asm                 disassembly not available for range 0x7f0000003100...0x7f0000003180
Generated FTL code for parseInner#AAAAAA:[0x5->0x2, FTLFunctionCall, 71 (StrictMode)], instructions size = 71:
asm                 disassembly not available for range 0x7f0000002000...0x7f0000002080
`;

// Thread 100: parseInner's FTL code (reusing Baseline's addresses) calling native code, a thunk
// in between; the kernel under receive; an event-loop sample with no JavaScript. Thread 200 is
// another thread and must not count.
const PERF = ` 100 
\t          1a44ff1 (/tmp/tandem)
\t     7f0000001010 (/tmp/perf-100.map)
\t     7f0000002010 (/tmp/perf-100.map)
\t     7f0000003050 (/tmp/perf-100.map)

 100 
\tffffffff82240c89 ([kernel.kallsyms])
\t          10b106 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t     7f0000003150 (/tmp/perf-100.map)

 100 
\t     7f0000002050 (/tmp/perf-100.map)
\t     7f0000003050 (/tmp/perf-100.map)

 100 
\t          1843101 (/tmp/tandem)

 200 
\t     7f0000002050 (/tmp/perf-200.map)
`;

Deno.test("JitMap: the latest code at an address names it; stubs are marked", () => {
  const map = JitMap.fromDisassembly(DUMP);
  assert.equal(map.lookup(0x7f0000002010), "parseInner#AAAAAA");
  assert.equal(map.lookup(0x7f0000002300), "parseInner#AAAAAA"); // Baseline range only
  assert.equal(map.lookup(0x7f0000003150), "receive#BBBBBB");
  assert.match(map.lookup(0x7f0000001010) ?? "", /^\(stub\) fixup arity/);
  assert.equal(map.lookup(0x7f0000009000), undefined);
});

Deno.test("attribute: native and kernel time goes to the innermost JavaScript function", () => {
  const samples = parsePerfScript(PERF, 100);
  assert.equal(samples.length, 4);
  const p = attribute(samples, JitMap.fromDisassembly(DUMP));
  assert.equal(p.samples, 4);
  assert.deepEqual([p.jitPct, p.nativePct, p.kernelPct, p.noJsPct], [25, 50, 25, 25]);
  assert.deepEqual(p.functions, [
    { name: "parseInner#AAAAAA", pct: 50, jit: 25, native: 25, kernel: 0 },
    { name: "receive#BBBBBB", pct: 25, jit: 0, native: 0, kernel: 25 },
  ]);
  assert.deepEqual(p.inclusive, [
    { name: "receive#BBBBBB", pct: 75 },
    { name: "parseInner#AAAAAA", pct: 50 },
  ]);
});

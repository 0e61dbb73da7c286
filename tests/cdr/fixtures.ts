// Test support: CDR records for journal and sink tests.

import { type AnsweredCall, type CdrRecord, withDurations } from "../../src/cdr/mod.ts";

/** A plausible answered call, numbered `n`, answered 10 s after setup and 42 s long. */
export function sampleCdr(n: number, base = Date.UTC(2026, 10, 24, 14, 2, 32, 50)): CdrRecord {
  return withDurations({
    id: crypto.randomUUID(),
    callIdIn: `in-${n}@caller.example`,
    callIdOut: `out-${n}@tandem`,
    in: {
      from: `"Alice" <sip:1000${n}@caller.example>;tag=a${n}`,
      to: "<sip:2000@tandem.example>",
      ruri: "sip:2000@tandem.example",
    },
    out: {
      from: `"Alice" <sip:1000${n}@tandem.example>;tag=b${n}`,
      to: "<sip:2000@127.0.0.1>",
      ruri: "sip:2000@127.0.0.1:5090",
    },
    source: "127.0.0.1:5062",
    destination: "127.0.0.1:5090",
    rule: "default",
    route: "carrier-a",
    attempt: 1,
    setupAt: base,
    progressAt: base + 500,
    connectAt: base + 10_000,
    disconnectAt: base + 52_000,
    finalCode: 200,
    q850: 16,
    endedBy: "caller",
    endReason: "bye",
  });
}

/** What the answered-call ledger holds of sampleCdr(n): the record but for its end. */
export function answeredCall(n: number, connectAt: number): AnsweredCall {
  const {
    disconnectAt: _d,
    durationMs: _u,
    billableMs: _b,
    finalCode: _f,
    q850: _q,
    reason: _r,
    endedBy: _e,
    endReason: _w,
    media: _m,
    ...rest
  } = sampleCdr(n, connectAt - 10_000);
  return { ...rest, connectAt };
}

// CDR layer: the record type, the fsynced journal, the answered-call ledger (crash recovery),
// per-sink cursors and the delivery pipeline with file and webhook sinks (the RADIUS
// accounting sink lives in src/aaa).
export * from "./errors.ts";
export * from "./record.ts";
export * from "./journal.ts";
export * from "./live-calls.ts";
export * from "./cursor.ts";
export * from "./pipeline.ts";
export * from "./csv.ts";
export * from "./file-sink.ts";
export * from "./webhook-sink.ts";

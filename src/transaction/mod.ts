// RFC 3261 §17 transaction layer with RFC 6026: the public surface of src/transaction.
export * from "./types.ts";
export { TransactionLayer } from "./layer.ts";
export { isMagicBranch, MAGIC_COOKIE } from "./branch.ts";
export { buildAck, buildCancel, buildResponse, buildTrying } from "./messages.ts";
export { SharedEndpoints } from "./shared-endpoints.ts";
export { LingerRecords, NONE } from "./linger-records.ts";

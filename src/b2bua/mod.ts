// The B2BUA layer: calls with two legs, routing, failover, timers, header policy.
export * from "./engine.ts";
export * from "./call.ts";
export * from "./record.ts";
export * from "./failover.ts";
export * from "./header-policy.ts";
export * from "./limits.ts";
export * from "./source-guard.ts";
export * from "./outbound-registrations.ts";

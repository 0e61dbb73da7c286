// AAA layer: RADIUS client (RFC 2865/2866/3579), Cisco-style accounting and authorization,
// SIP Digest helpers (RFC 7616) and the SIP ↔ Q.850 cause tables (RFC 3398).
export * from "./errors.ts";
export { decodePacket, encodeRequest, type RadiusAttribute, VENDOR_CISCO } from "./codec.ts";
export type { DecodedPacket, RadiusCode } from "./codec.ts";
export * from "./radius-client.ts";
export * from "./q850.ts";
export * from "./cisco-time.ts";
export * from "./accounting.ts";
export * from "./accounting-sink.ts";
export * from "./auth-params.ts";
export * from "./nonce.ts";
export * from "./digest.ts";
export * from "./authorize.ts";
export * from "./http-authorize.ts";
export * from "./local-users.ts";

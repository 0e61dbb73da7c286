// Media relay control: rtpengine ng protocol and rtpproxy command protocol clients, the
// driver-independent MediaRelay the B2BUA calls, and a health-checked RelayPool.
export * from "./errors.ts";
export * from "./bencode.ts";
export * from "./sdp.ts";
export * from "./relay.ts";
export { type CallStats, type NgFlags, RtpengineClient, type TagStats } from "./rtpengine.ts";
export { RtpproxyClient, type RtpproxyPort, type RtpproxyTarget } from "./rtpproxy.ts";
export { RtpengineRelay } from "./relay-rtpengine.ts";
export { RtpproxyRelay } from "./relay-rtpproxy.ts";
export { type PoolMember, type PoolOptions, RelayPool } from "./pool.ts";
export { createRelayPool, type MediaDeps } from "./from-config.ts";
export { runtimeTimers } from "./runtime-timers.ts";
export * from "./multipart.ts";

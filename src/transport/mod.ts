// The transport layer (RFC 3261 §18): UDP, TCP and TLS over IPv4 and IPv6, behind one small
// interface; runtime adapters for Bun, Deno and node:dgram/node:net.
export type * from "./types.ts";
export {
  type InboundHandler,
  isKeepalive,
  type Shard,
  stampVia,
  TransportLayer,
  type TransportLayerOptions,
  type TransportStats,
} from "./layer.ts";
export { endpointForUri, protocolForUri, resolveHost } from "./uri-endpoint.ts";
export {
  locate,
  LocateError,
  type LocateMode,
  type LocateResolver,
  type LocateTarget,
  MAX_TARGETS,
} from "./locate.ts";
export { type Framer, type FrameSink, StreamFramer } from "./stream-framer.ts";
export { WebSocketFramer } from "./websocket.ts";
export { ConnectTimeoutError, FramingError, NoListenerError, TransportError } from "./errors.ts";
export { endpointKey, familyOf, isLoopback, isWildcard, normalizeHost } from "./address.ts";
export {
  defaultPort,
  isSecure,
  isStream,
  isWebSocket,
  protocolOfToken,
  sipsProtocol,
  transportParam,
} from "./protocol.ts";
export { bunAdapter } from "./bun.ts";
export { denoAdapter } from "./deno.ts";
export { nodeAdapter } from "./node.ts";
export { adapterByName, type AdapterName, defaultAdapter } from "./runtime.ts";
export * from "./worker-link.ts";
export { encodeHep, type HepMessage, ipBytes } from "./hep.ts";
export { type CaptureSink, type HepSettings, HepTap, sameHep } from "./hep-tap.ts";

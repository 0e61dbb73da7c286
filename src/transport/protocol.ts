// What the rest of the stack needs to know about a transport protocol: whether it is a stream
// (RFC 3261 §17: no retransmission timers, §18.2.2: responses go back on the connection), its
// default port (§19.1.2: 5061 for TLS, 5060 otherwise; RFC 6455 §3: 80 and 443 for WebSocket)
// and its names on the wire.

import type { Protocol } from "./types.ts";

/** TCP, TLS, WS and WSS: reliable and connection-oriented. */
export function isStream(p: Protocol): boolean {
  return p !== "udp";
}

/** WS and WSS (RFC 7118): a connection only the client can open. */
export function isWebSocket(p: Protocol): boolean {
  return p === "ws" || p === "wss";
}

/** Does the protocol run over TLS (RFC 3261 §26.2: what a sips: URI asks for)? */
export function isSecure(p: Protocol): boolean {
  return p === "tls" || p === "wss";
}

/** §19.1.2 / §18.2.2 (RFC 6455 §3 for WebSocket): the port a URI or Via without one means. */
export function defaultPort(p: Protocol): number {
  switch (p) {
    case "tls":
      return 5061;
    case "ws":
      return 80;
    case "wss":
      return 443;
    default:
      return 5060;
  }
}

/**
 * The protocol a transport token names (any case), in a Via or a `transport=` parameter, or
 * undefined for others.
 */
export function protocolOfToken(transport: string): Protocol | undefined {
  const t = transport.toLowerCase();
  return t === "udp" || t === "tcp" || t === "tls" || t === "ws" || t === "wss" ? t : undefined;
}

/**
 * RFC 3261 §26.2.2 and RFC 7118 §5.2: how a sips: URI is reached given its transport parameter
 * (lowercase, or undefined): over secure WebSocket when it says ws, else over TLS.
 */
export function sipsProtocol(transport: string | undefined): "tls" | "wss" {
  return transport === "ws" || transport === "wss" ? "wss" : "tls";
}

/**
 * The `;transport=` parameter our Contact and Record-Route carry for `p` ("" for UDP). RFC 7118
 * §5.2 has one value for WebSocket, "ws"; a secure one is told by the sips: scheme.
 */
export function transportParam(p: Protocol): string {
  if (p === "udp") return "";
  return `;transport=${p === "wss" ? "ws" : p}`;
}

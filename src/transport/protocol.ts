// What the rest of the stack needs to know about a transport protocol: whether it is a stream
// (RFC 3261 §17: no retransmission timers, §18.2.2: responses go back on the connection), its
// default port (§19.1.2: 5061 for TLS, 5060 otherwise) and its names on the wire.

import type { Protocol } from "./types.ts";

/** TCP and TLS: reliable, connection-oriented, framed by Content-Length. */
export function isStream(p: Protocol): boolean {
  return p !== "udp";
}

/** §19.1.2 / §18.2.2: the port a URI or Via without one means. */
export function defaultPort(p: Protocol): number {
  return p === "tls" ? 5061 : 5060;
}

/** The protocol a Via's transport token names (any case), or undefined for others. */
export function protocolOfVia(transport: string): Protocol | undefined {
  const t = transport.toLowerCase();
  return t === "udp" || t === "tcp" || t === "tls" ? t : undefined;
}

/** The `;transport=` parameter our Contact and Record-Route carry for `p` ("" for UDP). */
export function transportParam(p: Protocol): string {
  return p === "udp" ? "" : `;transport=${p}`;
}

// RFC 3261 §18: the transport layer's one small interface. Runtime adapters (Bun, Deno, Node)
// implement SocketAdapter; everything above the transport layer sees only these types.

/**
 * Transport protocol, lowercase. TLS is TCP with RFC 3261 §26.2 security; WS and WSS are RFC
 * 7118 WebSocket over TCP and over TLS.
 */
export type Protocol = "udp" | "tcp" | "tls" | "ws" | "wss";

/** A socket address. `host` is a bare IP literal (no IPv6 brackets). */
export interface Address {
  host: string;
  port: number;
}

/** An address with the protocol used to reach it. */
/** Bytes a send put on the wire and where they went: what a transaction resends. */
export interface SentMessage {
  data: Uint8Array;
  dest: Endpoint;
}

export interface Endpoint extends Address {
  protocol: Protocol;
  /**
   * TLS: the name the peer's certificate must carry and the SNI sent, when not the IP dialled.
   * Set only by routes that say so; connections are still pooled by address.
   */
  serverName?: string;
  /** WebSocket: the path of the upgrade request when not "/" (set only by routes that say so). */
  wsPath?: string;
}

/** Callbacks a socket adapter calls. Adapters never throw into the runtime's event loop. */
export interface SocketEvents {
  /** One whole datagram (UDP) or one framed message (TCP, framed by the adapter's caller). */
  onData(data: Uint8Array, source: Endpoint): void;
  /** A send or connection failure attributed to a destination (ICMP, ECONNREFUSED, reset). */
  onError(dest: Endpoint, err: Error): void;
  /**
   * An inbound WebSocket connection ended, for whatever reason: its peer (a browser) cannot be
   * reached any more, RFC 7118 §5 gives it no address to connect back to. Or (`outbound`) a
   * connection we opened was closed by its peer or failed, not by us: a registration made over
   * it may have lost its way in (RFC 5626 §4.4).
   */
  onFlowClosed?(remote: Endpoint, outbound?: boolean): void;
}

/**
 * Told when a send fails after the call has returned (no route, the socket closed, a stream
 * broke): a function, or an object answering through a method, so that a transaction can pass
 * itself instead of allocating a closure (see reportSendFailure in errors.ts).
 */
export type SendFailure = ((err: Error) => void) | { sendFailed(err: Error): void };

/** A bound socket (UDP) or listening server with its connection pool (TCP). */
export interface Listener {
  /** The bound address (port resolved when 0 was asked). */
  readonly local: Endpoint;
  /** UDP: the socket's receive buffer as the kernel reports it (bytes), when known. */
  readonly receiveBuffer?: number;
  /** Stream listeners: connections open or opening, inbound and outbound. */
  readonly connections?: number;
  /**
   * UDP: resolves true once datagrams leave through a send thread of their own (see
   * UdpOptions.sendThread), false when they are sent on the JavaScript thread.
   */
  readonly sendThread?: Promise<boolean>;
  /**
   * Send bytes to `dest`. For TCP, reuse an open connection to that remote address (inbound or
   * outbound) or open one. Failures are reported through `onError` and, when given, `fail`;
   * send never throws.
   */
  send(data: Uint8Array, dest: Address, fail?: SendFailure): void;
  close(): Promise<void>;
  /**
   * Stream listeners: is a connection to this remote address open (or opening)? Lets
   * §18.2.2 tell "the request's connection is still there" from "open a new one".
   */
  isOpen?(dest: Address): boolean;
  /**
   * TLS listeners: use new certificates and policy for connections made from now on (a renewed
   * certificate on reload); open connections keep the session they have.
   */
  setTls?(tls: TlsOptions): void;
}

/** Runtime-specific socket factory. */
export interface SocketAdapter {
  readonly runtime: "bun" | "deno" | "node";
  /**
   * True when a socket bound to "::" also serves IPv4 (the runtime cannot set IPV6_V6ONLY), so
   * "0.0.0.0" and "::" on one port cannot both be bound: the transport layer binds "::" alone
   * and uses it for both families. IPv4 peers then appear as plain IPv4 in every Endpoint.
   */
  readonly dualStackWildcard?: boolean;
  udp(bind: Address, events: SocketEvents, opts?: UdpOptions): Promise<Listener>;
  tcp(bind: Address, events: SocketEvents, opts: TcpOptions): Promise<Listener>;
  /** A TLS listener and its connection pool; its endpoints say "tls". */
  tls(bind: Address, events: SocketEvents, opts: TcpOptions, tls: TlsOptions): Promise<Listener>;
}

/**
 * TLS material and policy (RFC 3261 §26.2.1, RFC 5922): PEM text, read and checked when the
 * configuration was loaded. The same certificate serves as server certificate to callers and
 * as client certificate to callees that ask for one.
 */
export interface TlsOptions {
  cert: string;
  key: string;
  /** Trusted CA certificates (PEM) in place of the system roots, when given. */
  ca?: string;
  /**
   * Check a callee's certificate: it must chain to `ca` (or a system root) and name the
   * address dialled (RFC 5922 §7.2: an IP SAN for an IP target). Off only for peers with
   * self-signed certificates that cannot be trusted any other way.
   */
  verifyServer: boolean;
  /** Ask every caller for a certificate chaining to `ca` and refuse a connection without one. */
  verifyClient: boolean;
}

/** UDP socket options. */
export interface UdpOptions {
  /**
   * SO_RCVBUF to ask for (bytes; the kernel doubles it and caps it at net.core.rmem_max unless
   * the process may force it). A datagram that finds the buffer full is dropped by the kernel
   * unseen, so a buffer that holds a few hundred ms of traffic rides out a GC pause. Not every
   * runtime can set it (Deno cannot): then the OS default stays.
   */
  receiveBuffer?: number;
  /**
   * Send from a thread of its own where the runtime can (Bun on Linux: sendmmsg on the same
   * socket through bun:ffi), so the kernel's cost of each datagram is off the JavaScript
   * thread, for more CPU in all. Off unless true (docs/benchmarks.md, twenty-first session).
   */
  sendThread?: boolean;
  /**
   * Share the port with other SIP worker processes. Where the runtime can (Bun: SO_REUSEPORT)
   * the kernel spreads peers over the sockets; elsewhere (SO_REUSEADDR) one socket gets all.
   * Either way every worker forwards what it does not own, so correctness never depends on it.
   */
  shared?: boolean;
}

/** TCP behaviour shared by every adapter. */
export interface TcpOptions {
  /** Close a connection idle for this long (ms). */
  idleTimeoutMs: number;
  /** Largest framed message; a larger one closes the connection. */
  maxMessageSize: number;
  /** Connect timeout for outbound connections (ms). */
  connectTimeoutMs: number;
  /**
   * Most connections a listener holds (inbound and outbound); an inbound one beyond it is closed
   * at once, so a flood of connections (each TLS one costs a handshake) cannot exhaust memory or
   * descriptors. Undefined: no limit.
   */
  maxConnections?: number;
  /**
   * RFC 7118: the listener speaks SIP over WebSocket (the RFC 6455 handshake, then one SIP
   * message per WebSocket message); its endpoints say "ws" (over TCP) or "wss" (over TLS).
   */
  websocket?: WebSocketOptions;
}

/** WebSocket policy, read by each new connection (a reload replaces `origins` in place). */
export interface WebSocketOptions {
  /**
   * Web origins whose pages may connect (RFC 6455 §10.2); empty: any. A handshake without an
   * Origin header comes from something that is not a browser and is let in.
   */
  origins: readonly string[];
}

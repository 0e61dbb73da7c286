// RFC 3261 §18 connection management for stream transports (TCP, TLS, and RFC 7118 WebSocket
// over either), shared by every runtime adapter:
// one connection per remote address, used in both directions (§18.2.2 sends responses back on
// the connection the request came on; a request to that address reuses it too), a connect
// timeout, an idle timeout, and framing through StreamFramer (§18.3) or WebSocketFramer.
// Adapters only move bytes.

import type {
  Address,
  Endpoint,
  Listener,
  SendFailure,
  SocketEvents,
  TcpOptions,
  TlsOptions,
} from "./types.ts";
import { addressKey, normalizeHost } from "./address.ts";
import {
  ConnectTimeoutError,
  reportSendFailure,
  toTransportError,
  TransportError,
} from "./errors.ts";
import { type Framer, StreamFramer } from "./stream-framer.ts";
import { CloseCode, WebSocketFramer } from "./websocket.ts";
import { sipCounters } from "./sip-metrics.ts";

/** What an adapter gives the pool for one open stream. Both calls are safe after close. */
export interface RawStream {
  /** Queue bytes; the adapter handles partial writes and backpressure. May throw. */
  write(data: Uint8Array): void;
  /** Close now (idempotent); the adapter then calls `onClosed` on the sink. */
  close(): void;
}

/** What the adapter calls back as bytes and closure arrive on a stream. */
export interface StreamSink {
  onChunk(chunk: Uint8Array): void;
  /** The stream ended; `err` when it failed (reset, refused, write error). */
  onClosed(err?: Error): void;
}

/**
 * Opens an outbound stream whose events go to `sink`. Rejects on connect failure. `serverName`:
 * TLS only, the name to verify instead of the address.
 */
export type Dialer = (
  dest: Address & { serverName?: string },
  sink: StreamSink,
) => Promise<RawStream>;

/** Sends held while a connection is being opened; beyond this they fail at once. */
const MAX_PENDING = 256;

/** "upgrading": WebSocket client, connected and waiting for the server's handshake answer. */
type ConnState = "connecting" | "upgrading" | "open" | "closed";

/** One stream connection, inbound or outbound. */
class Connection implements StreamSink {
  state: ConnState;
  raw: RawStream | undefined;
  pending: { data: Uint8Array; fail?: SendFailure }[] = [];
  lastActive = performance.now();
  /** When a WebSocket keep-alive Ping last went out (0: never). */
  lastPing = 0;
  readonly framer: Framer;
  connectTimer: ReturnType<typeof setTimeout> | undefined;

  /** Dialled by us (no stream given at construction), not accepted. */
  readonly outbound: boolean;

  constructor(
    private readonly pool: TcpPool,
    readonly remote: Endpoint,
    readonly key: string,
    raw: RawStream | undefined,
  ) {
    this.outbound = raw === undefined;
    this.raw = raw;
    this.state = raw ? "open" : "connecting";
    const max = pool.opts.maxMessageSize;
    const ws = pool.opts.websocket;
    this.framer = ws
      ? new WebSocketFramer(raw ? "server" : "client", max, ws.origins)
      : new StreamFramer(max);
  }

  onChunk(chunk: Uint8Array): void {
    if (this.state === "closed") return;
    this.lastActive = performance.now();
    const err = this.framer.push(chunk, this);
    if (err) this.fail(err);
  }

  /** FrameSink: one framed message. */
  onMessage(message: Uint8Array): void {
    this.pool.events.onData(message, this.remote);
  }

  /** FrameSink: bytes the framing answers with (a pong, a WebSocket handshake or Close). */
  reply(bytes: Uint8Array): void {
    if (this.raw) this.write(bytes);
  }

  /**
   * WebSocket: say why we close (RFC 6455 §7.4.1: 1000 idle, 1001 shutting down) before the
   * stream goes, so a browser phone reconnects rather than reporting an error. Best effort.
   */
  goodbye(code: number): void {
    if (!(this.framer instanceof WebSocketFramer) || this.state !== "open") return;
    const f = this.framer.closeFrame(code);
    if (f) this.write(f);
  }

  /** WebSocket: ping a connection quiet for half its idle timeout (see pingFrame). */
  keepalive(now: number): void {
    if (!(this.framer instanceof WebSocketFramer)) return;
    const ping = this.framer.pingFrame();
    if (!ping) return;
    this.lastPing = now;
    this.write(ping);
  }

  /** FrameSink: our WebSocket handshake was accepted; the connection is open now. */
  onOpen(): void {
    if (this.state === "upgrading") this.ready();
  }

  /** FrameSink: the peer closed the WebSocket in good order. */
  onEnd(): void {
    const raw = this.raw;
    this.onClosed();
    try {
      raw?.close();
    } catch { /* already gone */ }
  }

  /**
   * The connection ended: by the peer or an error, or by us (`byUs`: idle, shutdown). An outbound
   * flow that was open and ended without us is reported: what registered over it must know.
   */
  onClosed(err?: Error, byUs = false): void {
    if (this.state === "closed") return;
    const wasOpen = this.state === "open";
    this.state = "closed";
    this.pool.forget(this);
    const e = err ??
      (this.pending.length > 0
        ? new TransportError("connection closed before sending", "ECONNRESET")
        : undefined);
    this.flushFailures(e);
    if (err) this.pool.report(this.remote, err);
    const inboundWs = this.framer instanceof WebSocketFramer && this.framer.role === "server";
    const lostFlow = this.outbound && wasOpen && !byUs && !this.pool.closed;
    if (inboundWs || lostFlow) {
      try {
        this.pool.events.onFlowClosed?.(this.remote, lostFlow);
      } catch { /* the layer above must not crash the socket loop */ }
    }
  }

  /** Close with an error we detected (framing, timeout). */
  fail(err: Error): void {
    const raw = this.raw;
    this.onClosed(err);
    try {
      raw?.close();
    } catch { /* already gone */ }
  }

  send(data: Uint8Array, fail?: SendFailure): void {
    if (this.state === "connecting" || this.state === "upgrading") {
      if (this.pending.length >= MAX_PENDING) {
        reportSendFailure(
          fail,
          new TransportError("too many messages waiting for the connection", "EAGAIN"),
        );
        return;
      }
      this.pending.push({ data, fail });
      return;
    }
    this.lastActive = performance.now();
    this.write(this.framer.frame(data), fail);
  }

  write(data: Uint8Array, fail?: SendFailure): void {
    try {
      this.raw!.write(data);
    } catch (e) {
      const err = toTransportError(e, `write to ${this.remote.host}:${this.remote.port}`);
      reportSendFailure(fail, err);
      this.fail(err);
    }
  }

  opened(raw: RawStream, host: string, wsPath = "/"): void {
    if (this.state === "closed") {
      clearTimeout(this.connectTimer);
      // Timed out meanwhile: nobody wants this stream any more.
      try {
        raw.close();
      } catch { /* ignore */ }
      return;
    }
    this.raw = raw;
    if (this.framer instanceof WebSocketFramer) {
      // Open once the server accepted the upgrade; the connect timer covers the wait.
      this.state = "upgrading";
      this.write(this.framer.start(host, wsPath));
      return;
    }
    this.ready();
  }

  private ready(): void {
    clearTimeout(this.connectTimer);
    this.state = "open";
    this.lastActive = performance.now();
    const queued = this.pending;
    this.pending = [];
    for (const p of queued) {
      if (this.state !== "open") {
        reportSendFailure(
          p.fail,
          new TransportError("connection closed before sending", "ECONNRESET"),
        );
      } else this.write(this.framer.frame(p.data), p.fail);
    }
  }

  private flushFailures(err: Error | undefined): void {
    clearTimeout(this.connectTimer);
    const queued = this.pending;
    this.pending = [];
    if (!err) return;
    for (const p of queued) {
      try {
        reportSendFailure(p.fail, err);
      } catch { /* a caller's bug must not stop the others */ }
    }
  }
}

/**
 * A TCP or TLS listener's connection pool: implements {@link Listener} for every adapter. The adapter
 * calls {@link accept} for inbound streams and provides a {@link Dialer} for outbound ones.
 */
export class TcpPool implements Listener {
  /** Set by a TLS adapter: new certificates for connections from now on. */
  setTls?: (tls: TlsOptions) => void;
  private readonly conns = new Map<string, Connection>();
  private readonly all = new Set<Connection>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /** Shut down (close()): its connections end by our hand. */
  closed = false;

  /** The bound address; WebSocket pools say "ws" or "wss" over the adapter's "tcp" or "tls". */
  readonly local: Endpoint;

  constructor(
    local: Endpoint,
    readonly events: SocketEvents,
    readonly opts: TcpOptions,
    private readonly dial: Dialer,
    private readonly stopServer: () => Promise<void> | void,
  ) {
    this.local = opts.websocket
      ? { ...local, protocol: local.protocol === "tls" ? "wss" : "ws" }
      : local;
  }

  /** Connections open or opening, inbound and outbound. */
  get connections(): number {
    return this.all.size;
  }

  /** Register an inbound stream under its remote address; returns where to send its events. */
  accept(remote: Address, raw: RawStream): StreamSink {
    const host = normalizeHost(remote.host);
    const key = addressKey(host, remote.port);
    const c = new Connection(
      this,
      { protocol: this.local.protocol, host, port: remote.port },
      key,
      raw,
    );
    const max = this.opts.maxConnections;
    if (this.closed || (max !== undefined && this.all.size >= max)) {
      if (!this.closed) sipCounters.dropped["connection-limit"].n++;
      c.state = "closed"; // nothing it sends is read
      raw.close();
      return c;
    }
    this.track(c);
    return c;
  }

  send(
    data: Uint8Array,
    dest: Address & { serverName?: string; wsPath?: string },
    fail?: SendFailure,
  ): void {
    if (this.closed) {
      reportSendFailure(fail, new TransportError("listener closed", "ECLOSED"));
      return;
    }
    const host = normalizeHost(dest.host);
    const key = addressKey(host, dest.port);
    let c = this.conns.get(key);
    if (!c) {
      c = new Connection(
        this,
        { protocol: this.local.protocol, host, port: dest.port },
        key,
        undefined,
      );
      this.track(c);
      this.connect(c, dest.serverName, dest.wsPath);
    }
    c.send(data, fail);
  }

  /** Is a connection to this remote address open (or opening)? */
  isOpen(dest: Address): boolean {
    return this.conns.has(addressKey(normalizeHost(dest.host), dest.port));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const c of [...this.all]) {
      c.goodbye(CloseCode.goingAway);
      c.fail(new TransportError("listener closed", "ECLOSED"));
    }
    try {
      await this.stopServer();
    } catch { /* already stopped */ }
  }

  /** Connection bookkeeping: called by a connection when it closes. */
  forget(c: Connection): void {
    this.all.delete(c);
    if (this.conns.get(c.key) === c) this.conns.delete(c.key);
    if (this.all.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Report a failure upward; a handler's exception never reaches the runtime. */
  report(dest: Endpoint, err: Error): void {
    try {
      this.events.onError(dest, err);
    } catch { /* the layer above must not crash the socket loop */ }
  }

  private track(c: Connection): void {
    // The newest connection to an address is the one sends use; older ones still deliver.
    this.conns.set(c.key, c);
    this.all.add(c);
    if (!this.sweeper && this.opts.idleTimeoutMs > 0) {
      const every = Math.max(10, Math.min(1000, this.opts.idleTimeoutMs / 4));
      this.sweeper = setInterval(() => this.sweep(), every);
      unrefTimer(this.sweeper);
    }
  }

  private connect(c: Connection, serverName: string | undefined, wsPath?: string): void {
    const { host, port } = c.remote;
    c.connectTimer = setTimeout(() => {
      if (c.state === "connecting" || c.state === "upgrading") {
        c.fail(
          new ConnectTimeoutError(
            `connect to ${host}:${port} timed out after ${this.opts.connectTimeoutMs} ms`,
            "ETIMEDOUT",
          ),
        );
      }
    }, this.opts.connectTimeoutMs);
    let dialing: Promise<RawStream>;
    try {
      dialing = this.dial(serverName ? { host, port, serverName } : { host, port }, c);
    } catch (e) {
      dialing = Promise.reject(e);
    }
    dialing.then(
      (raw) => c.opened(raw, hostHeader(serverName ?? host, port), wsPath),
      (e) => {
        if (c.state !== "closed") c.onClosed(toTransportError(e, `connect to ${host}:${port}`));
      },
    );
  }

  private sweep(): void {
    const now = performance.now();
    const limit = now - this.opts.idleTimeoutMs;
    const pingBefore = now - this.opts.idleTimeoutMs / 2;
    for (const c of [...this.all]) {
      if (c.state !== "open") continue;
      if (c.lastActive < limit) {
        c.goodbye(CloseCode.normal);
        const raw = c.raw;
        c.onClosed(undefined, true); // idle is a normal end, not an error
        try {
          raw?.close();
        } catch { /* ignore */ }
      } else if (this.opts.websocket && c.lastActive < pingBefore && c.lastPing < c.lastActive) {
        c.keepalive(now);
      }
    }
  }
}

/** RFC 6455 §4.1 / RFC 9110 §7.2: the Host of our upgrade request. */
function hostHeader(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Let the process exit while only this timer is pending (Deno, Node and Bun differ). */
export function unrefTimer(t: ReturnType<typeof setInterval>): void {
  const timer = t as unknown as { unref?: () => void };
  if (typeof timer?.unref === "function") timer.unref();
  else {
    const d = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
    d?.unrefTimer?.(t as unknown as number);
  }
}

// RFC 3261 §18 transport layer: listeners on several addresses and transports; inbound parsing
// with §18.2.1 `received` and RFC 3581 `rport` stamping; the §18.1.2 check that a response's top
// Via is ours; §18.2.2 / RFC 3581 response routing; §18.1.1 optional UDP→TCP switch for large
// requests. The transaction layer sees only MessageSender.

import type { ListenConfig } from "../config/types.ts";
import type { MessageSender } from "../transaction/types.ts";
import {
  bareHost,
  ownerOfHash,
  type ParseLimits,
  parseMessage,
  rawCallIdHash,
  serialize,
  SipParseError,
  SipRequest,
  type SipResponse,
  splitList,
  type Via,
} from "../sip/mod.ts";
import type { Logger } from "../util/log.ts";
import { familyOf, isLoopback, isWildcard, normalizeHost } from "./address.ts";
import { NoListenerError, reportSendFailure, toTransportError, TransportError } from "./errors.ts";
import { firstExternalAddress, type InterfaceAddress, interfaceAddresses } from "./interfaces.ts";
import { defaultAdapter } from "./runtime.ts";
import { QueueProbe } from "./queue-probe.ts";
import { unrefTimer } from "./tcp-pool.ts";
import type { CaptureSink } from "./hep-tap.ts";
import { type DropReason, sipCounters } from "./sip-metrics.ts";
import type {
  Endpoint,
  Listener,
  Protocol,
  SendFailure,
  SentMessage,
  SocketAdapter,
  SocketEvents,
  TcpOptions,
  TlsOptions,
  UdpOptions,
  WebSocketOptions,
} from "./types.ts";
import { defaultPort, isStream, isWebSocket, protocolOfToken } from "./protocol.ts";

/** Options of a {@link TransportLayer}. */
export interface TransportLayerOptions {
  listen: ListenConfig[];
  /** Address to write in Via/Contact when bound to a wildcard (else chosen per destination). */
  advertise?: string;
  limits: ParseLimits;
  tcp: TcpOptions;
  /** Certificates and policy for TLS listeners; required when one is configured. */
  tls?: TlsOptions;
  /** UDP socket options (the receive buffer). */
  udp?: UdpOptions;
  /** Socket adapter; {@link defaultAdapter} when absent. */
  adapter?: SocketAdapter;
  log?: Logger;
  /**
   * RFC 3261 §18.1.1: send requests larger than this many bytes over TCP instead of UDP (top Via
   * rewritten to TCP and our TCP port). Off (undefined) by default, because many UDP-only peers
   * do not listen on TCP; 1300 is the RFC's figure for a 1500-byte path MTU.
   */
  udpToTcpAbove?: number;
  /** Several SIP worker processes share the UDP ports (see {@link Shard}). */
  shard?: Shard;
  /** Web origins allowed to open a WebSocket; empty or absent: any (see WebSocketOptions). */
  wsOrigins?: readonly string[];
}

/**
 * One of several SIP worker processes sharing the UDP listen ports. A datagram belongs to the
 * worker its Call-ID hashes to (src/sip/call-id-hash.ts); one that reached another worker's
 * socket is forwarded there unparsed.
 */
export interface Shard {
  readonly index: number;
  readonly count: number;
  /** Hand a datagram to the worker that owns it, with the address it came from. */
  forward(owner: number, data: Uint8Array, source: Endpoint): void;
}

/** What the layer delivers upward. Exceptions thrown here are caught and counted. */
export interface InboundHandler {
  onRequest(req: SipRequest, source: Endpoint): void;
  onResponse(res: SipResponse, source: Endpoint): void;
  /** The layer above answers 400/505 when it can, or drops. */
  onParseError(err: SipParseError, data: Uint8Array, source: Endpoint): void;
  onTransportError(dest: Endpoint, err: Error): void;
  /**
   * An inbound WebSocket connection ended: its browser can no longer be reached. Or (`outbound`)
   * a connection we opened was closed by its peer or failed.
   */
  onFlowClosed?(remote: Endpoint, outbound?: boolean): void;
}

/** Counts since the layer was created. */
export interface TransportStats {
  messagesIn: number;
  messagesOut: number;
  keepalives: number;
  parseErrors: number;
  dropped: number;
  transportErrors: number;
  listeners: number;
}

/** A listener and the IP family it serves (a dual-stack "::" socket serves both). */
interface Route {
  protocol: Protocol;
  family: 4 | 6;
  /** Configured bind host (bare): wildcard or a specific address. */
  bindHost: string;
  listener: Listener;
}

/** A UDP listener's queue probe and the socket of ours that sends it (queue-probe.ts). */
interface ProbeRun {
  readonly probe: QueueProbe;
  readonly socket: Listener;
  readonly target: { host: string; port: number };
  /** A send failed: the estimate would only grow, so it is no longer used. */
  failed: boolean;
}

/**
 * The SIP transport layer over one or more listeners. Implements {@link MessageSender}; never
 * throws from a send (failures go to `fail` and to `onTransportError`).
 */
export class TransportLayer implements MessageSender {
  /** Every bound socket, in configuration order. */
  readonly listeners: Listener[] = [];
  private routes: Route[] = [];
  private readonly adapter: SocketAdapter;
  private ifaces: InterfaceAddress[] | undefined;
  private readonly counts = {
    messagesIn: 0,
    messagesOut: 0,
    keepalives: 0,
    parseErrors: 0,
    dropped: 0,
    transportErrors: 0,
  };
  private readonly events: SocketEvents;
  /** Shared by every WebSocket listener, so a reload reaches them all. */
  private readonly webSocket: WebSocketOptions;
  /** Where a copy of every message in and out goes (HEP), when `hep` is configured. */
  private captureSink: CaptureSink | undefined;
  private probes: ProbeRun[] = [];
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private queueDelay: number | undefined;

  constructor(
    private readonly opts: TransportLayerOptions,
    private readonly handler: InboundHandler,
  ) {
    this.adapter = opts.adapter ?? defaultAdapter();
    this.webSocket = { origins: opts.wsOrigins ?? [] };
    this.events = {
      onData: (data, source) => this.receive(data, source),
      onError: (dest, err) => this.transportError(dest, err),
      onFlowClosed: (remote, outbound) =>
        this.deliver(() => this.handler.onFlowClosed?.(remote, outbound)),
    };
  }

  /** Bind every configured address and transport; fails as a whole if one cannot bind. */
  async start(): Promise<void> {
    const wanted: { protocol: Protocol; host: string; port: number }[] = [];
    for (const l of this.opts.listen) {
      for (const t of l.transports) {
        wanted.push({ protocol: t, host: normalizeHost(l.address), port: l.port });
      }
    }
    try {
      for (const w of wanted) {
        // A dual-stack "::" socket already covers 0.0.0.0 on the same port and transport.
        const coveredBy = this.adapter.dualStackWildcard && w.host === "0.0.0.0" && w.port !== 0
          ? wanted.find((o) => o.protocol === w.protocol && o.host === "::" && o.port === w.port)
          : undefined;
        if (coveredBy) continue;
        const bind = { host: w.host, port: w.port };
        const listener = await this.bind(w.protocol, bind);
        this.listeners.push(listener);
        const family = familyOf(w.host);
        this.routes.push({ protocol: w.protocol, family, bindHost: w.host, listener });
        const dual = this.adapter.dualStackWildcard && w.host === "::" && w.port !== 0 &&
          wanted.some((o) =>
            o.protocol === w.protocol && o.host === "0.0.0.0" && o.port === w.port
          );
        if (dual) {
          this.routes.push({ protocol: w.protocol, family: 4, bindHost: "0.0.0.0", listener });
        }
        this.opts.log?.info("listening", {
          transport: w.protocol,
          local: listener.local,
          ...(listener.receiveBuffer ? { receiveBuffer: listener.receiveBuffer } : {}),
        });
        if (w.protocol === "udp" && this.opts.udp?.sendThread) {
          // Asked for: say whether it runs (it needs Bun on Linux with bun:ffi).
          void listener.sendThread?.then((running) =>
            this.opts.log?.info(running ? "udp-send-thread" : "udp-send-thread-unavailable", {
              local: listener.local,
            })
          );
        }
      }
    } catch (e) {
      await this.stop();
      throw toTransportError(e, `cannot listen for SIP (${this.adapter.runtime} sockets)`);
    }
  }

  private bind(protocol: Protocol, bind: { host: string; port: number }): Promise<Listener> {
    if (protocol === "udp") {
      return this.adapter.udp(bind, this.events, {
        ...this.opts.udp,
        shared: this.opts.shard !== undefined,
      });
    }
    const tcp = isWebSocket(protocol)
      ? { ...this.opts.tcp, websocket: this.webSocket }
      : this.opts.tcp;
    if (protocol === "tcp" || protocol === "ws") return this.adapter.tcp(bind, this.events, tcp);
    if (!this.opts.tls) {
      throw new NoListenerError(
        `a ${protocol.toUpperCase()} listener needs certificates`,
        "ENOCERT",
      );
    }
    return this.adapter.tls(bind, this.events, tcp, this.opts.tls);
  }

  /** Web origins allowed to open a WebSocket (a reload): new connections are checked by them. */
  /** Copy every message in and out to `sink` from now on; undefined stops. */
  setCapture(sink: CaptureSink | undefined): void {
    this.captureSink = sink;
  }

  /** Hand a copy of a message to the capture sink; our side's address is what peers see. */
  private captureCopy(data: Uint8Array, peer: Endpoint, inbound: boolean): void {
    let local: Endpoint;
    try {
      local = this.localFor(peer);
    } catch {
      return; // no listener for it: the message itself went nowhere either
    }
    if (inbound) this.captureSink!.capture(data, peer, local, peer.protocol);
    else this.captureSink!.capture(data, local, peer, peer.protocol);
  }

  setWebSocketOrigins(origins: readonly string[]): void {
    this.webSocket.origins = origins;
  }

  /**
   * New TLS certificates and policy (a reload): TLS listeners use them for connections made from
   * now on. Without a TLS listener nothing changes.
   */
  setTls(tls: TlsOptions): void {
    this.opts.tls = tls;
    for (const l of this.listeners) l.setTls?.(tls);
  }

  /**
   * Time each UDP listener's receive queue with probes sent to it every `periodMs` from a socket
   * of our own on the same host (queue-probe.ts). Not with several workers sharing a port: the
   * kernel would hand a probe to any of them. False when no probe runs.
   */
  async startQueueProbes(periodMs = 20): Promise<boolean> {
    if (this.opts.shard || this.probeTimer) return this.probes.length > 0;
    for (const l of this.listeners) {
      if (l.local.protocol !== "udp") continue;
      const host = isWildcard(l.local.host)
        ? (familyOf(l.local.host) === 6 ? "::1" : "127.0.0.1")
        : l.local.host;
      const target = { host, port: l.local.port };
      let run: ProbeRun | undefined = undefined;
      try {
        const socket = await this.adapter.udp({ host, port: 0 }, {
          onData: () => {},
          onError: (_dest, err) => run && this.probeFailed(run, err),
        });
        run = { probe: new QueueProbe(), socket, target, failed: false };
        this.probes.push(run);
      } catch (e) {
        this.opts.log?.warn("queue-probe-unavailable", {
          local: l.local,
          error: (e as Error).message,
        });
      }
    }
    if (this.probes.length === 0) return false;
    this.probeTimer = setInterval(() => this.sendProbes(), periodMs);
    unrefTimer(this.probeTimer);
    return true;
  }

  private sendProbes(): void {
    const now = performance.now();
    let delay: number | undefined;
    for (const run of this.probes) {
      if (run.failed) continue;
      const d = run.probe.delayMs(now);
      if (delay === undefined || d > delay) delay = d;
      run.socket.send(run.probe.next(now), run.target, (err) => this.probeFailed(run, err));
    }
    this.queueDelay = delay;
  }

  /** A probe could not be sent: its listener's queue goes untimed (shedding by CPU share). */
  private probeFailed(run: ProbeRun, err: Error): void {
    if (run.failed) return;
    run.failed = true;
    this.opts.log?.warn("queue-probe-failed", { local: run.target, error: err.message });
  }

  /**
   * How long a datagram now waits in the UDP listeners' receive queues before it is read (ms,
   * the largest of them; see queue-probe.ts); undefined when no probe runs.
   */
  queueDelayMs(): number | undefined {
    return this.queueDelay;
  }

  /** Whether a datagram is one of our probes (it was counted then). */
  private probeArrived(data: Uint8Array, source: Endpoint): boolean {
    for (const run of this.probes) {
      const from = run.socket.local;
      if (source.port === from.port && source.host === from.host) {
        return run.probe.arrived(data, performance.now());
      }
    }
    return false;
  }

  /** Close every listener and connection. */
  async stop(): Promise<void> {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.queueDelay = undefined;
    const probes = this.probes.splice(0);
    await Promise.all(probes.map((p) => p.socket.close().catch(() => {})));
    const ls = this.listeners.splice(0);
    this.routes = [];
    await Promise.all(ls.map((l) => l.close().catch(() => {})));
  }

  /** Counts since the layer was created (for /stats and tests). */
  stats(): TransportStats {
    return { ...this.counts, listeners: this.listeners.length };
  }

  // ---- inbound ------------------------------------------------------------------------------

  /** A datagram another worker received for a call this worker owns. */
  receiveForwarded(data: Uint8Array, source: Endpoint): void {
    sipCounters.forwarded.in.n++;
    this.receive(data, source, true);
  }

  private receive(data: Uint8Array, source: Endpoint, forwarded = false): void {
    // A probe starts with NUL, which no SIP message does: one comparison for every other datagram.
    if (data[0] === 0 && this.probes.length > 0 && source.protocol === "udp") {
      if (this.probeArrived(data, source)) return;
    }
    if (isKeepalive(data)) {
      this.counts.keepalives++;
      return;
    }
    const shard = this.opts.shard;
    if (shard && !forwarded && source.protocol === "udp") {
      // No Call-ID (malformed): answered or dropped here, where it arrived.
      const hash = rawCallIdHash(data);
      const owner = hash < 0 ? shard.index : ownerOfHash(hash, shard.count);
      if (owner !== shard.index) {
        sipCounters.forwarded.out.n++;
        shard.forward(owner, data, source);
        return;
      }
    }
    if (this.captureSink) this.captureCopy(data, source, true);
    let msg;
    try {
      msg = parseMessage(data, this.opts.limits);
    } catch (e) {
      this.counts.parseErrors++;
      sipCounters.parseErrors.n++;
      if (e instanceof SipParseError) {
        this.deliver(() => this.handler.onParseError(e, data, source));
      }
      return;
    }
    this.counts.messagesIn++;
    const cells = sipCounters.in[source.protocol];
    if (msg instanceof SipRequest) {
      cells.request(msg.method).n++;
      stampVia(msg, source);
      this.deliver(() => this.handler.onRequest(msg as SipRequest, source));
      return;
    }
    const res = msg as SipResponse;
    cells.response(res.status).n++;
    // §18.1.2: a response whose top Via sent-by is not ours was misrouted: drop it.
    const v = res.topVia;
    if (!v || !this.isLocal(bareHost(v.host), v.port ?? viaDefaultPort(v))) {
      this.drop("via-not-ours");
      return;
    }
    this.deliver(() => this.handler.onResponse(res, source));
  }

  private deliver(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.drop("handler-error");
      this.opts.log?.error("inbound handler threw", { err: e as Error });
    }
  }

  /** Count a message dropped for `reason` (the worker link's drops land here too). */
  drop(reason: DropReason): void {
    this.counts.dropped++;
    sipCounters.dropped[reason].n++;
  }

  private transportError(dest: Endpoint, err: Error): void {
    this.counts.transportErrors++;
    sipCounters.transportErrors.n++;
    this.opts.log?.debug("transport error", { dest, err });
    try {
      this.handler.onTransportError(dest, err);
    } catch { /* counted above; never into the socket loop */ }
  }

  // ---- outbound -----------------------------------------------------------------------------

  /**
   * Serialize and send a request to `dest` over `dest.protocol`. Never throws. Returns the bytes
   * and the address used (a large request may have moved to TCP), or undefined on failure.
   */
  sendRequest(
    req: SipRequest,
    dest: Endpoint,
    fail?: SendFailure,
  ): SentMessage | undefined {
    let data: Uint8Array;
    try {
      data = serialize(req);
      const limit = this.opts.udpToTcpAbove;
      if (limit !== undefined && dest.protocol === "udp" && data.length > limit) {
        const tcpDest: Endpoint = { ...dest, protocol: "tcp" };
        if (this.route("tcp", familyOf(dest.host), dest.host)) {
          switchViaToTcp(req, this.localFor(tcpDest));
          data = serialize(req);
          dest = tcpDest;
        }
      }
    } catch (e) {
      reportSendFailure(fail, toTransportError(e, "serialize request"));
      return undefined;
    }
    sipCounters.out[dest.protocol].request(req.method).n++;
    this.send(data, dest, fail);
    return { data, dest };
  }

  /** Send bytes as they are to exactly `dest` (transaction-layer retransmissions). */
  sendRaw(data: Uint8Array, dest: Endpoint, fail?: SendFailure): void {
    this.send(data, dest, fail);
  }

  /**
   * Send a response per §18.2.2 and RFC 3581 (see {@link responseTarget}). Never throws.
   * Returns the bytes and the address used, or undefined on failure.
   */
  sendResponse(
    res: SipResponse,
    source: Endpoint,
    fail?: SendFailure,
  ): SentMessage | undefined {
    let data: Uint8Array;
    let dest: Endpoint;
    try {
      dest = this.responseTarget(res, source);
      data = serialize(res);
    } catch (e) {
      reportSendFailure(fail, toTransportError(e, "send response"));
      return undefined;
    }
    sipCounters.out[dest.protocol].response(res.status).n++;
    this.send(data, dest, fail);
    return { data, dest };
  }

  /**
   * §18.2.2 with RFC 3581: where a response to a request from `source` goes. Reliable: back on
   * the request's connection while it is open, else a new one to `received` (or the sent-by
   * host) and the sent-by port. Unreliable: `received` and `rport`, else `received` and the
   * sent-by port, else sent-by (port 5060 when absent). `maddr` is not honoured (multicast).
   */
  responseTarget(res: SipResponse, source: Endpoint): Endpoint {
    const v: Via | undefined = res.topVia;
    const p = source.protocol;
    if (isStream(p)) {
      const l = this.route(p, familyOf(source.host), source.host)?.listener;
      const open = l?.isOpen?.(source) !== false;
      if (isWebSocket(p)) {
        // RFC 7118 §5: a WebSocket client cannot be connected to (its Via names a .invalid
        // host, its port was its own): once its connection is gone, so is the response.
        if (open) return source;
        throw new TransportError("the WebSocket the request came on has closed", "ECONNRESET");
      }
      if (!v || open) return source;
      return {
        protocol: p,
        host: normalizeHost(v.received ?? v.host),
        port: v.port ?? defaultPort(p),
      };
    }
    if (!v) return source;
    const received = v.received;
    if (received !== undefined) {
      const rport = v.rport;
      const port = typeof rport === "number" && rport > 0 ? rport : (v.port ?? 5060);
      return { protocol: source.protocol, host: normalizeHost(received), port };
    }
    return { protocol: source.protocol, host: normalizeHost(v.host), port: v.port ?? 5060 };
  }

  private send(data: Uint8Array, dest: Endpoint, fail?: SendFailure): void {
    const r = this.route(dest.protocol, familyOf(dest.host), dest.host);
    if (!r) {
      const err = new NoListenerError(
        `no ${dest.protocol} listener for IPv${familyOf(dest.host)} (to ${dest.host})`,
        "ENOLISTENER",
      );
      this.drop("no-listener");
      this.transportError(dest, err);
      if (fail) this.deliver(() => reportSendFailure(fail, err));
      return;
    }
    this.counts.messagesOut++;
    if (this.captureSink) this.captureCopy(data, dest, false);
    r.listener.send(data, dest, fail);
  }

  /**
   * The listener for `protocol` and `family`: one bound to loopback for a loopback destination,
   * one not bound to loopback for other destinations, else the first of that family.
   */
  private route(protocol: Protocol, family: 4 | 6, destHost: string): Route | undefined {
    let first: Route | undefined;
    const loop = isLoopback(destHost);
    for (const r of this.routes) {
      if (r.protocol !== protocol || r.family !== family) continue;
      if (isLoopback(r.bindHost) === loop) return r;
      first ??= r;
    }
    return first;
  }

  // ---- addresses ----------------------------------------------------------------------------

  /**
   * The address:port to write in Via/Contact for a message to `dest`: same protocol and family
   * as `dest`. A wildcard listener gives `advertise` when set, else loopback for a loopback
   * destination, else the first non-internal interface address of that family. Throws
   * {@link NoListenerError} when no listener serves that protocol and family.
   */
  localFor(dest: Endpoint): Endpoint {
    const family = familyOf(dest.host);
    const r = this.route(dest.protocol, family, dest.host);
    if (!r) {
      throw new NoListenerError(`no ${dest.protocol} listener for IPv${family}`, "ENOLISTENER");
    }
    let host = isWildcard(r.bindHost) ? r.bindHost : r.listener.local.host;
    if (isWildcard(host)) {
      const loopback = family === 6 ? "::1" : "127.0.0.1";
      if (this.opts.advertise) host = this.opts.advertise;
      else if (isLoopback(dest.host)) host = loopback;
      else host = firstExternalAddress(this.interfaces(), family) ?? loopback;
    }
    return { protocol: dest.protocol, host, port: r.listener.local.port };
  }

  /**
   * Is `host` (bare or bracketed) one of our listen addresses, on `port` when given? A wildcard
   * listener matches every local interface address of its family and `advertise`.
   */
  isLocal(host: string, port?: number): boolean {
    const h = normalizeHost(host);
    for (const r of this.routes) {
      if (port !== undefined && port !== r.listener.local.port) continue;
      if (r.listener.local.host === h || r.bindHost === h) return true;
      if (!isWildcard(r.bindHost)) continue;
      if (this.opts.advertise && normalizeHost(this.opts.advertise) === h) return true;
      if (familyOf(h) !== r.family) continue;
      if (this.interfaces().some((a) => a.address === h)) return true;
    }
    return false;
  }

  /** Interface addresses, read once (a restart picks up new ones). */
  private interfaces(): InterfaceAddress[] {
    return this.ifaces ??= interfaceAddresses();
  }
}

/**
 * RFC 5626 §3.5.1 / RFC 3261 §7.5: keep-alive datagrams (CRLF, CRLFCRLF, a NUL, a few blanks)
 * are dropped silently.
 */
export function isKeepalive(data: Uint8Array): boolean {
  if (data.length > 8) return false;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b !== 13 && b !== 10 && b !== 0 && b !== 32 && b !== 9) return false;
  }
  return true;
}

/**
 * RFC 3261 §18.2.1: add `received` when the top Via's sent-by host differs from the source
 * address; RFC 3581 §4: fill an empty `rport` with the source port, and then always add
 * `received`. The header line is rewritten only when something changed.
 */
export function stampVia(req: SipRequest, source: Endpoint): void {
  const v = req.topVia;
  if (!v) return;
  const emptyRport = v.rport === null;
  const differs = normalizeHost(v.host) !== source.host;
  if (!differs && !emptyRport) return;
  const top = v.clone();
  top.params.set("received", source.host);
  if (emptyRport) top.params.set("rport", String(source.port));
  replaceTopVia(req, top);
}

function replaceTopVia(req: SipRequest, top: Via): void {
  const h = req.headers.find((x) => x.key === "via");
  if (!h) return;
  const parts = splitList(h.value);
  parts[0] = top.toString();
  h.value = parts.join(", ");
  req.invalidate();
}

/** §18.2.2: the port a Via without one means, by its transport (5061 for TLS). */
function viaDefaultPort(v: Via): number {
  return defaultPort(protocolOfToken(v.transport) ?? "udp");
}

/** §18.1.1: a request moved from UDP to TCP says so in its top Via. */
function switchViaToTcp(req: SipRequest, local: Endpoint): void {
  const v = req.topVia;
  if (!v) return;
  const top = v.clone();
  top.transport = "TCP";
  top.host = local.host.includes(":") ? `[${local.host}]` : local.host;
  top.port = local.port;
  replaceTopVia(req, top);
}

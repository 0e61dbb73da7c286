// RFC 3261 §18 socket adapter over Bun's native sockets: Bun.udpSocket for UDP, Bun.listen /
// Bun.connect for TCP (TLS goes through node:tls, see node.ts). Bun turns unhandled socket errors (ICMP port unreachable surfacing as
// ECONNREFUSED on the next send, refused connects) into process crashes, so every call that can
// fail is caught here and every handler set has `error`/`connectError`.

import type {
  Address,
  Endpoint,
  Listener,
  SendFailure,
  SocketAdapter,
  SocketEvents,
  TcpOptions,
  UdpOptions,
} from "./types.ts";
import { mappedFor, normalizeHost } from "./address.ts";
import { reportSendFailure, toTransportError, TransportError } from "./errors.ts";
import { type RawStream, type StreamSink, TcpPool } from "./tcp-pool.ts";
import { tlsListener } from "./node.ts";
import { type QueuedSend, UdpSendThread } from "./udp-send-thread.ts";

// Minimal ambient types for the parts of Bun's API used here (no @types/bun in this project).
interface BunUdpSocket {
  readonly port: number;
  readonly fd?: number;
  readonly address: { address: string; family: string; port: number };
  send(data: Uint8Array, port: number, address: string): boolean;
  /** Flat [data, port, address, ...] triples; returns how many datagrams were sent. */
  sendMany?(packets: (Uint8Array | number | string)[]): number;
  close(): void;
}
interface BunUdpOptions {
  hostname: string;
  port: number;
  /** uSockets listen flags; see REUSE_PORT. */
  flags?: number;
  binaryType: "uint8array";
  socket: {
    data(sock: BunUdpSocket, data: Uint8Array, port: number, address: string): void;
    error?(sock: BunUdpSocket, err: Error): void;
  };
}
interface BunSocket {
  data: BunConnData;
  readonly remoteAddress: string;
  readonly remotePort: number;
  write(data: Uint8Array): number;
  end(): void;
  terminate?(): void;
  setNoDelay?(on: boolean): boolean;
}
interface BunSocketHandlers {
  open?(s: BunSocket): void;
  data?(s: BunSocket, d: Uint8Array): void;
  drain?(s: BunSocket): void;
  close?(s: BunSocket, err?: Error): void;
  end?(s: BunSocket): void;
  error?(s: BunSocket, err: Error): void;
  connectError?(s: BunSocket, err: Error): void;
}
interface BunTcpServer {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): void;
}
interface BunApi {
  udpSocket(opts: BunUdpOptions): Promise<BunUdpSocket>;
  listen(opts: { hostname: string; port: number; socket: BunSocketHandlers }): BunTcpServer;
  connect(
    opts: { hostname: string; port: number; data: BunConnData; socket: BunSocketHandlers },
  ): Promise<BunSocket>;
}

/** Per-socket state Bun keeps in `socket.data`. */
interface BunConnData {
  stream?: BunStream;
}

function bun(): BunApi {
  const b = (globalThis as unknown as { Bun?: BunApi }).Bun;
  if (!b) throw new TransportError("the Bun adapter needs the Bun runtime", "ENOTSUP");
  return b;
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch { /* a handler bug must not crash Bun's socket loop */ }
}

class BunUdpListener implements Listener {
  /** Destination of the previous send: the likely cause of a deferred ICMP error. */
  lastDest: Endpoint | undefined;
  receiveBuffer: number | undefined;
  private closed = false;
  private readonly v6Wildcard: boolean;

  /** Where batches go once it has started (see udp-send-thread.ts); else sendMany here. */
  private thread: UdpSendThread | undefined;

  constructor(readonly local: Endpoint, private sock: BunUdpSocket, private events: SocketEvents) {
    this.v6Wildcard = local.host === "::";
  }

  get sendThread(): Promise<boolean> {
    return this.thread?.started ?? Promise.resolve(false);
  }

  /** Send from a thread of its own, on this socket, once that thread is up (Linux, bun:ffi). */
  startSendThread(): void {
    if (this.thread || typeof this.sock.fd !== "number" || this.sock.fd < 0) return;
    if (typeof Worker !== "function") return;
    this.thread = new UdpSendThread(this.sock.fd, this.local.host.includes(":") ? 6 : 4, {
      onError: (culprit, err) => this.events.onError(culprit, err),
    });
  }

  /** Datagrams queued this event-loop turn: [data, port, host] triples for sendMany. */
  private batch: (Uint8Array | number | string)[] = [];
  private batchMeta: QueuedSend[] = [];
  private flushScheduled = false;

  /**
   * Queue a datagram; everything queued in one event-loop turn leaves in one sendmmsg (Bun's
   * sendMany), which costs a syscall per turn instead of per datagram under load.
   */
  send(data: Uint8Array, dest: Address, fail?: SendFailure): void {
    if (this.closed) {
      reportSendFailure(fail, new TransportError("listener closed", "ECLOSED"));
      return;
    }
    if (typeof this.sock.sendMany !== "function") return this.sendOne(data, dest, fail);
    this.batch.push(data, dest.port, mappedFor(dest.host, this.v6Wildcard));
    this.batchMeta.push({ dest, fail });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    const meta = this.batchMeta;
    this.batch = [];
    this.batchMeta = [];
    if (this.closed || meta.length === 0) return;
    // Every batch goes to the thread once it is up, the smallest too: a datagram sent here
    // could overtake one still queued there (a 200 ahead of its 180).
    if (this.thread?.usable && this.thread.post(batch, meta, this.lastDest)) {
      const d = meta[meta.length - 1].dest;
      this.lastDest = { protocol: "udp", host: d.host, port: d.port };
      return;
    }
    let sent = 0;
    if (meta.length > 1) {
      try {
        sent = this.sock.sendMany!(batch);
      } catch {
        sent = 0; // an earlier ICMP error surfaced: send one by one, which attributes it
      }
    }
    for (let i = sent; i < meta.length; i++) {
      this.sendOne(batch[i * 3] as Uint8Array, meta[i].dest, meta[i].fail);
    }
    if (sent > 0) {
      const d = meta[sent - 1].dest;
      this.lastDest = { protocol: "udp", host: d.host, port: d.port };
    }
  }

  private sendOne(data: Uint8Array, dest: Address, fail?: SendFailure): void {
    const host = mappedFor(dest.host, this.v6Wildcard);
    const ep: Endpoint = { protocol: "udp", host: dest.host, port: dest.port };
    try {
      this.sock.send(data, dest.port, host);
    } catch (e) {
      // Linux reports an earlier datagram's ICMP error on this send (IP_RECVERR) and does not
      // send this one. Blame the previous destination (best effort: the kernel does not say)
      // and send again, now that the error is consumed.
      const err = toTransportError(e, `udp send to ${dest.host}:${dest.port}`);
      const culprit = this.lastDest ?? ep;
      safe(() => this.events.onError(culprit, err));
      const sameDest = culprit.host === ep.host && culprit.port === ep.port;
      if (fail && sameDest) safe(() => reportSendFailure(fail, err));
      try {
        this.sock.send(data, dest.port, host);
      } catch (e2) {
        const err2 = toTransportError(e2, `udp send to ${dest.host}:${dest.port}`);
        safe(() => this.events.onError(ep, err2));
        if (fail && !sameDest) safe(() => reportSendFailure(fail, err2));
      }
    }
    this.lastDest = ep;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The thread writes on this socket's descriptor: it ends first, or its sends could reach
    // whatever socket reuses the number.
    await this.thread?.close();
    safe(() => this.sock.close());
  }
}

// Bun.udpSocket has no buffer option, but exposes the descriptor: SO_RCVBUF is set through
// libc. SO_RCVBUFFORCE (root or CAP_NET_ADMIN) may exceed net.core.rmem_max; SO_RCVBUF may not.
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;

interface SockOpt {
  setsockopt(fd: number, level: number, name: number, value: unknown, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: unknown, len: unknown): number;
}
let sockopt: { fns: SockOpt; ptr: (a: ArrayBufferView) => unknown } | null | undefined;

/** libc's setsockopt/getsockopt through bun:ffi, or null where that is not possible. */
async function loadSockopt(): Promise<typeof sockopt> {
  if (sockopt !== undefined) return sockopt;
  try {
    // A computed specifier: Deno type-checks this file and has no bun:ffi.
    const spec = "bun:ffi";
    const ffi = await import(spec);
    const t = ffi.FFIType;
    const lib = ffi.dlopen("libc.so.6", {
      setsockopt: { args: [t.i32, t.i32, t.i32, t.ptr, t.u32], returns: t.i32 },
      getsockopt: { args: [t.i32, t.i32, t.i32, t.ptr, t.ptr], returns: t.i32 },
    });
    sockopt = { fns: lib.symbols as SockOpt, ptr: ffi.ptr };
  } catch {
    sockopt = null; // not glibc Linux: the OS default buffer stays
  }
  return sockopt;
}

/** Ask for an SO_RCVBUF of `bytes`; returns what the kernel reports, or undefined. */
async function setReceiveBuffer(fd: number, bytes: number): Promise<number | undefined> {
  const so = await loadSockopt();
  if (!so) return undefined;
  const v = new Int32Array([Math.min(bytes, 0x3fffffff)]);
  if (so.fns.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, so.ptr(v), 4) !== 0) {
    so.fns.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, so.ptr(v), 4);
  }
  const out = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (so.fns.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, so.ptr(out), so.ptr(len)) !== 0) {
    return undefined;
  }
  return out[0];
}

/**
 * uSockets flags Bun.udpSocket accepts (undocumented; what Bun's node:dgram passes for
 * `reusePort`): LISTEN_REUSE_PORT, and fail instead of silently binding without it.
 */
const REUSE_PORT = 4 | 32;

async function udp(bind: Address, events: SocketEvents, opts?: UdpOptions): Promise<Listener> {
  // Assigned once the socket exists; its error callback may run before that.
  // deno-lint-ignore prefer-const
  let listener: BunUdpListener | undefined;
  const sock = await bun().udpSocket({
    hostname: bind.host,
    port: bind.port,
    ...(opts?.shared ? { flags: REUSE_PORT } : {}),
    binaryType: "uint8array",
    socket: {
      data(_s, data, port, address) {
        try {
          events.onData(data, { protocol: "udp", host: normalizeHost(address), port });
        } catch { /* counted by the layer above */ }
      },
      error(_s, err) {
        // A deferred ICMP error: the kernel does not say for which datagram; blame the last one.
        const dest = listener?.lastDest ?? listener?.local ??
          { protocol: "udp", host: "", port: 0 };
        safe(() => events.onError(dest, toTransportError(err, "udp socket")));
      },
    },
  });
  const local: Endpoint = {
    protocol: "udp",
    host: normalizeHost(sock.address?.address ?? bind.host),
    port: sock.port,
  };
  listener = new BunUdpListener(local, sock, events);
  if (opts?.sendThread === true) listener.startSendThread();
  if (opts?.receiveBuffer && typeof sock.fd === "number" && sock.fd >= 0) {
    listener.receiveBuffer = await setReceiveBuffer(sock.fd, opts.receiveBuffer);
  }
  return listener;
}

/** Bun's write may be partial: the rest waits for `drain`, in order. */
class BunStream implements RawStream {
  private queue: Uint8Array[] = [];
  private closed = false;
  sink: StreamSink | undefined;

  constructor(private s: BunSocket) {
    safe(() => s.setNoDelay?.(true));
  }

  write(data: Uint8Array): void {
    if (this.closed) throw new TransportError("connection closed", "EPIPE");
    if (this.queue.length > 0) {
      this.queue.push(data);
      return;
    }
    const n = this.s.write(data);
    if (n < 0) throw new TransportError("connection closed", "EPIPE");
    if (n < data.length) this.queue.push(data.subarray(n));
  }

  drain(): void {
    while (this.queue.length > 0 && !this.closed) {
      const d = this.queue[0];
      const n = this.s.write(d);
      if (n < 0) return this.finish(new TransportError("connection closed", "EPIPE"));
      if (n < d.length) {
        this.queue[0] = d.subarray(n);
        return;
      }
      this.queue.shift();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    safe(() => this.s.terminate ? this.s.terminate() : this.s.end());
  }

  finish(err?: Error): void {
    const sink = this.sink;
    this.close();
    sink?.onClosed(err);
  }
}

/** Handlers shared by inbound and outbound sockets; state lives in `socket.data.stream`. */
const streamHandlers: BunSocketHandlers = {
  data(s, d) {
    try {
      s.data?.stream?.sink?.onChunk(d);
    } catch { /* never into Bun */ }
  },
  drain(s) {
    safe(() => s.data?.stream?.drain());
  },
  end(s) {
    safe(() => s.data?.stream?.finish());
  },
  close(s, err) {
    safe(() => s.data?.stream?.finish(err ? toTransportError(err, "tcp") : undefined));
  },
  error(s, err) {
    safe(() => s.data?.stream?.finish(toTransportError(err, "tcp")));
  },
  connectError() {/* the connect promise rejects; handled by the pool */},
};

function tcp(bind: Address, events: SocketEvents, opts: TcpOptions): Promise<Listener> {
  const ref: { pool?: TcpPool } = {};
  const server = bun().listen({
    hostname: bind.host,
    port: bind.port,
    socket: {
      ...streamHandlers,
      open(s) {
        const stream = new BunStream(s);
        s.data = { stream };
        if (!ref.pool) return stream.close();
        stream.sink = ref.pool.accept({ host: s.remoteAddress, port: s.remotePort }, stream);
      },
    },
  });
  const local: Endpoint = {
    protocol: "tcp",
    host: normalizeHost(server.hostname ?? bind.host),
    port: server.port,
  };
  const v6Wildcard = local.host === "::";
  const pool = ref.pool = new TcpPool(local, events, opts, async (dest, sink) => {
    const data: BunConnData = {};
    const s = await bun().connect({
      hostname: mappedFor(dest.host, v6Wildcard),
      port: dest.port,
      data,
      socket: streamHandlers,
    });
    const stream = new BunStream(s);
    stream.sink = sink;
    s.data = { stream };
    return stream;
  }, () => server.stop(true));
  return Promise.resolve(pool);
}

/** The Bun native adapter; TLS through node:tls (see node.ts). */
export const bunAdapter: SocketAdapter = {
  runtime: "bun",
  udp,
  tcp,
  tls: tlsListener(true),
  dualStackWildcard: true,
};

// RFC 3261 §18 socket adapter over node:dgram, node:net and node:tls. Runs under Node, Deno and
// Bun; the fallback when a native adapter misbehaves (TANDEM_SOCKETS=node), and the TLS of every
// adapter: node:tls behaves the same on the three runtimes (verification, client certificates),
// which their native TLS APIs do not (Deno's cannot skip verification or ask for a client
// certificate; Bun's drops what is written before the handshake). Every socket gets an "error"
// listener, because an unhandled one throws into the event loop.

import dgram from "node:dgram";
import net from "node:net";
import tlsApi from "node:tls";
import type {
  Address,
  Endpoint,
  Listener,
  SendFailure,
  SocketAdapter,
  SocketEvents,
  TcpOptions,
  TlsOptions,
  UdpOptions,
} from "./types.ts";
import { familyOf, isWildcard, normalizeHost } from "./address.ts";
import { reportSendFailure, toTransportError, TransportError } from "./errors.ts";
import { type RawStream, type StreamSink, TcpPool } from "./tcp-pool.ts";

/** A Node Buffer as a plain Uint8Array view, so `slice` copies as for any Uint8Array. */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch { /* a handler bug must not kill the socket */ }
}

class NodeUdpListener implements Listener {
  receiveBuffer: number | undefined;
  constructor(readonly local: Endpoint, private sock: dgram.Socket, private events: SocketEvents) {}

  send(data: Uint8Array, dest: Address, fail?: SendFailure): void {
    const ep: Endpoint = { protocol: "udp", host: dest.host, port: dest.port };
    try {
      this.sock.send(data, dest.port, dest.host, (e) => {
        if (!e) return;
        const err = toTransportError(e, `udp send to ${dest.host}:${dest.port}`);
        safe(() => this.events.onError(ep, err));
        if (fail) safe(() => reportSendFailure(fail, err));
      });
    } catch (e) {
      const err = toTransportError(e, `udp send to ${dest.host}:${dest.port}`);
      safe(() => this.events.onError(ep, err));
      if (fail) safe(() => reportSendFailure(fail, err));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.sock.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

async function udp(bind: Address, events: SocketEvents, opts?: UdpOptions): Promise<Listener> {
  const v6 = familyOf(bind.host) === 6;
  const sock = dgram.createSocket({
    type: v6 ? "udp6" : "udp4",
    ipv6Only: v6,
    // Node 20 has no reusePort for UDP: SO_REUSEADDR, the last worker to bind gets everything.
    reuseAddr: opts?.shared === true,
  });
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(bind.port, bind.host, () => {
      sock.off("error", reject);
      resolve();
    });
  });
  const addr = sock.address();
  const local: Endpoint = { protocol: "udp", host: normalizeHost(addr.address), port: addr.port };
  sock.on("error", (e) => {
    // Unattributed socket errors (ICMP without IP_RECVERR is not reported on Linux).
    safe(() =>
      events.onError({ protocol: "udp", host: "", port: 0 }, toTransportError(e, "udp socket"))
    );
  });
  sock.on("message", (msg, rinfo) => {
    try {
      events.onData(plain(msg), {
        protocol: "udp",
        host: normalizeHost(rinfo.address),
        port: rinfo.port,
      });
    } catch { /* the layer above counts its own failures */ }
  });
  const listener = new NodeUdpListener(local, sock, events);
  if (opts?.receiveBuffer) {
    try {
      sock.setRecvBufferSize(opts.receiveBuffer);
      listener.receiveBuffer = sock.getRecvBufferSize();
    } catch { /* capped or refused: the OS default stays */ }
  }
  return listener;
}

/** Bind a stream server; resolves with the endpoint it listens on, rejects if it cannot. */
async function listen(
  server: net.Server,
  bind: Address,
  ipv6Only: boolean,
  protocol: "tcp" | "tls",
): Promise<Endpoint> {
  server.on("error", () => {/* listen errors are handled below; later ones are per socket */});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: bind.host, port: bind.port, ipv6Only }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as net.AddressInfo;
  return { protocol, host: normalizeHost(a.address), port: a.port };
}

/** Wire a net.Socket (or a TLS one) to a pool sink; returns its RawStream side. */
function wire(
  sock: net.Socket,
  getSink: () => StreamSink | undefined,
  what = "tcp",
): RawStream {
  let ended = false;
  sock.setNoDelay(true);
  sock.on("data", (b: Uint8Array) => getSink()?.onChunk(plain(b)));
  sock.on("error", (e) => {
    ended = true;
    getSink()?.onClosed(toTransportError(e, what));
  });
  sock.on("close", () => {
    ended = true;
    getSink()?.onClosed();
  });
  return {
    write(data) {
      if (ended || sock.destroyed) throw new TransportError("connection closed", "EPIPE");
      sock.write(data);
    },
    close() {
      ended = true;
      sock.destroy();
    },
  };
}

async function tcp(bind: Address, events: SocketEvents, opts: TcpOptions): Promise<Listener> {
  const ref: { pool?: TcpPool } = {};
  const server = net.createServer((sock) => {
    const box: { sink?: StreamSink } = {};
    const raw = wire(sock, () => box.sink);
    if (!ref.pool || sock.remoteAddress === undefined) return raw.close();
    box.sink = ref.pool.accept({ host: sock.remoteAddress, port: sock.remotePort ?? 0 }, raw);
  });
  const local = await listen(server, bind, familyOf(bind.host) === 6, "tcp");
  const pool = ref.pool = new TcpPool(
    local,
    events,
    opts,
    (dest, sink) =>
      new Promise<RawStream>((resolve, reject) => {
        const options: net.NetConnectOpts = { host: dest.host, port: dest.port };
        if (!isWildcard(bind.host)) Object.assign(options, { localAddress: bind.host });
        const sock = net.connect(options);
        let raw: RawStream | undefined;
        const onConnectError = (e: Error) => reject(e);
        sock.once("error", onConnectError);
        sock.once("connect", () => {
          sock.off("error", onConnectError);
          raw = wire(sock, () => sink);
          resolve(raw);
        });
      }),
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  );
  return pool;
}

/**
 * TLS listeners (RFC 3261 §26.2): node:tls on every runtime. An outbound connection counts as
 * open once its handshake has succeeded, so a callee whose certificate fails verification is a
 * connect failure (the attempt fails over) and nothing is written before the keys are agreed.
 * `dualStack`: a "::" listener also serves IPv4, as the adapter's other sockets do.
 */
export function tlsListener(dualStack: boolean): SocketAdapter["tls"] {
  return (bind, events, opts, t) => tls(bind, events, opts, t, dualStack);
}

async function tls(
  bind: Address,
  events: SocketEvents,
  opts: TcpOptions,
  t: TlsOptions,
  dualStack: boolean,
): Promise<Listener> {
  const ref: { pool?: TcpPool } = {};
  let current = t;
  const server = tlsApi.createServer({
    ...secureContext(t),
    requestCert: t.verifyClient,
    rejectUnauthorized: t.verifyClient,
  }, (sock) => {
    const box: { sink?: StreamSink } = {};
    const raw = wire(sock, () => box.sink, "tls");
    if (!ref.pool || sock.remoteAddress === undefined) return raw.close();
    box.sink = ref.pool.accept({ host: sock.remoteAddress, port: sock.remotePort ?? 0 }, raw);
  });
  // A failed handshake (no or a bad client certificate, not TLS at all) ends that connection
  // only; nothing was accepted, so there is nobody to tell.
  server.on("tlsClientError", () => {});
  const local = await listen(server, bind, familyOf(bind.host) === 6 && !dualStack, "tls");
  const pool = ref.pool = new TcpPool(
    local,
    events,
    opts,
    (dest, sink) =>
      new Promise<RawStream>((resolve, reject) => {
        const options: tlsApi.ConnectionOptions = {
          host: dest.host,
          port: dest.port,
          ...secureContext(current),
          rejectUnauthorized: current.verifyServer,
          // RFC 5922 §7.2: the name a route gives is the identity checked, and sent as SNI.
          ...(dest.serverName ? { servername: dest.serverName } : {}),
        };
        if (!isWildcard(bind.host)) Object.assign(options, { localAddress: bind.host });
        const sock = tlsApi.connect(options);
        const onConnectError = (e: Error) => {
          sock.destroy();
          reject(e);
        };
        sock.once("error", onConnectError);
        sock.once("secureConnect", () => {
          sock.off("error", onConnectError);
          resolve(wire(sock, () => sink, "tls"));
        });
      }),
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  );
  pool.setTls = (n) => {
    current = n;
    server.setSecureContext(secureContext(n));
    // Read by node:tls for each connection it accepts (the same under Deno and Bun).
    Object.assign(server, { requestCert: n.verifyClient, rejectUnauthorized: n.verifyClient });
  };
  return pool;
}

function secureContext(t: TlsOptions): tlsApi.SecureContextOptions {
  return { cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca } : {}) };
}

/** The node:dgram / node:net / node:tls adapter. */
export const nodeAdapter: SocketAdapter = {
  runtime: "node",
  udp,
  tcp,
  tls: tlsListener(false),
  dualStackWildcard: false,
};

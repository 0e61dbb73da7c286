// RFC 3261 §18 socket adapter over Deno's native sockets: Deno.listenDatagram (unstable "net")
// for UDP, Deno.listen/Deno.connect for TCP (TLS through node:tls, see node.ts). A bound "::" socket is dual-stack here (Deno does
// not set IPV6_V6ONLY), so IPv4 peers are sent to as ::ffff:a.b.c.d and reported as a.b.c.d.

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

const RECV_BUFFER = 65536;

function safe(fn: () => void): void {
  try {
    fn();
  } catch { /* a handler bug must not stop the receive loop */ }
}

class DenoUdpListener implements Listener {
  private closed = false;
  private readonly v6Wildcard: boolean;
  constructor(
    readonly local: Endpoint,
    private conn: Deno.DatagramConn,
    private events: SocketEvents,
  ) {
    this.v6Wildcard = local.host === "::";
    this.loop();
  }

  /** One receive at a time into one buffer; each datagram is copied out once. */
  private async loop(): Promise<void> {
    const buf = new Uint8Array(RECV_BUFFER);
    const conn = this.conn;
    const events = this.events;
    let errorsInRow = 0;
    while (!this.closed) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await conn.receive(buf);
      } catch (e) {
        if (this.closed) return;
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
        // ICMP errors surface here on some systems; report and keep receiving.
        safe(() => events.onError(this.local, toTransportError(e, "udp receive")));
        if (++errorsInRow > 100) await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      errorsInRow = 0;
      const a = got[1] as Deno.NetAddr;
      try {
        events.onData(got[0].slice(), {
          protocol: "udp",
          host: normalizeHost(a.hostname),
          port: a.port,
        });
      } catch { /* counted by the layer above */ }
    }
  }

  send(data: Uint8Array, dest: Address, fail?: SendFailure): void {
    if (this.closed) {
      reportSendFailure(fail, new TransportError("listener closed", "ECLOSED"));
      return;
    }
    const to: Deno.NetAddr = {
      transport: "udp",
      hostname: mappedFor(dest.host, this.v6Wildcard),
      port: dest.port,
    };
    let p: Promise<number>;
    try {
      p = this.conn.send(data, to);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.catch((e) => {
      const err = toTransportError(e, `udp send to ${dest.host}:${dest.port}`);
      safe(() => this.events.onError({ protocol: "udp", host: dest.host, port: dest.port }, err));
      if (fail) safe(() => reportSendFailure(fail, err));
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      try {
        this.conn.close();
      } catch { /* already closed */ }
    }
    return Promise.resolve();
  }
}

function udp(bind: Address, events: SocketEvents, opts?: UdpOptions): Promise<Listener> {
  const conn = Deno.listenDatagram({
    hostname: bind.host,
    port: bind.port,
    transport: "udp",
    // SO_REUSEADDR only: the last worker to bind receives everything and forwards.
    ...(opts?.shared ? { reuseAddress: true } : {}),
  });
  const a = conn.addr as Deno.NetAddr;
  const local: Endpoint = { protocol: "udp", host: normalizeHost(a.hostname), port: a.port };
  return Promise.resolve(new DenoUdpListener(local, conn, events));
}

/** Read loop plus an ordered write queue (Deno writes may be partial). */
class DenoStream implements RawStream {
  private queue: Uint8Array[] = [];
  private writing = false;
  private closed = false;
  sink: StreamSink | undefined;

  constructor(private conn: Deno.Conn) {
    try {
      (conn as Deno.TcpConn).setNoDelay?.(true);
    } catch { /* not a TCP conn */ }
  }

  async readLoop(): Promise<void> {
    const buf = new Uint8Array(RECV_BUFFER);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        // The framer copies what it keeps, so the buffer is reused.
        this.sink?.onChunk(buf.subarray(0, n));
      }
      this.finish();
    } catch (e) {
      this.finish(this.closed ? undefined : toTransportError(e, "tcp read"));
    }
  }

  write(data: Uint8Array): void {
    if (this.closed) throw new TransportError("connection closed", "EPIPE");
    this.queue.push(data);
    if (!this.writing) this.flush();
  }

  private async flush(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        let d = this.queue.shift()!;
        while (d.length > 0) d = d.subarray(await this.conn.write(d));
      }
    } catch (e) {
      if (!this.closed) this.finish(toTransportError(e, "tcp write"));
    } finally {
      this.writing = false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  private finish(err?: Error): void {
    const sink = this.sink;
    this.close();
    sink?.onClosed(err);
  }
}

function tcp(bind: Address, events: SocketEvents, opts: TcpOptions): Promise<Listener> {
  const server = Deno.listen({ hostname: bind.host, port: bind.port, transport: "tcp" });
  const a = server.addr as Deno.NetAddr;
  const local: Endpoint = { protocol: "tcp", host: normalizeHost(a.hostname), port: a.port };
  const v6Wildcard = local.host === "::";
  let stopped = false;
  const pool = new TcpPool(local, events, opts, async (dest, sink) => {
    const conn = await Deno.connect({
      hostname: mappedFor(dest.host, v6Wildcard),
      port: dest.port,
      transport: "tcp",
    });
    const s = new DenoStream(conn);
    s.sink = sink;
    s.readLoop();
    return s;
  }, () => {
    stopped = true;
    try {
      server.close();
    } catch { /* already closed */ }
  });
  (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await server.accept();
      } catch (e) {
        if (stopped || e instanceof Deno.errors.BadResource) return;
        // EMFILE and the like: back off instead of spinning.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const r = conn.remoteAddr as Deno.NetAddr;
      const s = new DenoStream(conn);
      s.sink = pool.accept({ host: r.hostname, port: r.port }, s);
      s.readLoop();
    }
  })();
  return Promise.resolve(pool);
}

/** The Deno native adapter; TLS through node:tls (see node.ts). */
export const denoAdapter: SocketAdapter = {
  runtime: "deno",
  udp,
  tcp,
  tls: tlsListener(true),
  dualStackWildcard: true,
};

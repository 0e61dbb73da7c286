// RFC 2865 §2.4 / §3 and RFC 2866 §2: a RADIUS client over UDP with per-server identifier
// spaces, retransmission, failover (RFC 5080 §2.2.1 style dead-server marking) and metrics.

import dgram from "node:dgram";
import type { Buffer } from "node:buffer";
import type { RadiusServer } from "../config/types.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import {
  type DecodedPacket,
  decodePacket,
  encodeRequest,
  type RadiusAttribute,
  verifyResponse,
} from "./codec.ts";
import { RadiusClosedError, RadiusTimeoutError } from "./errors.ts";

const mRequests = metrics.counter("tandem_radius_requests_total", "RADIUS requests sent");
const mRetrans = metrics.counter(
  "tandem_radius_retransmissions_total",
  "RADIUS retransmissions after a per-try timeout",
);
const mTimeouts = metrics.counter(
  "tandem_radius_timeouts_total",
  "RADIUS requests a server never answered (all tries)",
);
const mRejects = metrics.counter("tandem_radius_rejects_total", "Access-Reject replies received");
const mBad = metrics.counter(
  "tandem_radius_bad_responses_total",
  "Replies dropped: wrong authenticator, Message-Authenticator or code",
);
const mUp = metrics.gauge(
  "tandem_radius_server_up",
  "1 while the server answers, 0 after a timeout",
);
const mLatency = metrics.histogram(
  "tandem_radius_latency_seconds",
  "RADIUS round-trip time of answered requests (all servers)",
  [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
);

/** A verified reply and the server that sent it. */
export interface RadiusReply extends DecodedPacket {
  /** "address:port" of the answering server. */
  server: string;
  latencyMs: number;
}

/** Options of {@link RadiusClient}. */
export interface RadiusClientOptions {
  /** Tried in order; a server that timed out is skipped for `deadTime`. */
  servers: RadiusServer[];
  clock?: Clock;
  log?: Logger;
  /** How long a server is considered down after a timeout (ms). Default 30000. */
  deadTime?: number;
  /** Local address to bind; default: any. */
  bindAddress?: string;
}

interface Pending {
  request: Buffer;
  port: number;
  expect: "auth" | "acct";
  done: (reply: Buffer | null) => void;
}

/** One server: one UDP socket, hence one 256-identifier space shared by auth and acct. */
class ServerState {
  readonly label: string;
  socket?: dgram.Socket;
  private bound?: Promise<void>;
  readonly pending = new Map<number, Pending>();
  private nextId = Math.floor(Math.random() * 256);
  private idWaiters: (() => void)[] = [];
  downUntil = 0;

  constructor(readonly cfg: RadiusServer, private bindAddress?: string) {
    this.label = `${cfg.address}:${cfg.authPort}`;
    mUp.set(1, { server: this.label });
  }

  open(): Promise<void> {
    if (this.bound) return this.bound;
    const s = dgram.createSocket(this.cfg.address.includes(":") ? "udp6" : "udp4");
    this.socket = s;
    s.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onMessage(msg, rinfo));
    s.on("error", () => {});
    this.bound = new Promise((res) => s.bind(0, this.bindAddress, () => res()));
    return this.bound;
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 20) return;
    const p = this.pending.get(msg[1]);
    if (!p || rinfo.port !== p.port) return;
    const code = msg[0];
    const codeOk = p.expect === "auth" ? code === 2 || code === 3 || code === 11 : code === 5;
    if (!codeOk || !verifyResponse(p.request, msg, this.cfg.secret)) {
      mBad.inc({ server: this.label });
      return;
    }
    p.done(msg);
  }

  /** Allocates an identifier not in flight on this socket, waiting if all 256 are. */
  async allocId(): Promise<number> {
    while (this.pending.size >= 256) await new Promise<void>((r) => this.idWaiters.push(r));
    for (;;) {
      const id = this.nextId;
      this.nextId = (this.nextId + 1) & 0xff;
      if (!this.pending.has(id)) return id;
    }
  }

  release(id: number): void {
    this.pending.delete(id);
    this.idWaiters.shift()?.();
  }

  close(): Promise<void> {
    for (const p of this.pending.values()) p.done(null);
    const s = this.socket;
    this.socket = undefined;
    this.bound = undefined;
    if (!s) return Promise.resolve();
    return new Promise((res) => s.close(() => res()));
  }
}

/**
 * Sends Access-Requests and Accounting-Requests to the configured servers.
 *
 * Each server gets `retries + 1` transmissions of the same packet (same identifier and
 * authenticator, RFC 2865 §2.5) `timeout` ms apart; then the next server is tried.
 */
export class RadiusClient {
  private readonly states: ServerState[];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly deadTime: number;
  private closed = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(opts: RadiusClientOptions) {
    this.states = opts.servers.map((s) => new ServerState(s, opts.bindAddress));
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.deadTime = opts.deadTime ?? 30000;
  }

  /** Sends an Access-Request (with Message-Authenticator); resolves with Accept/Reject/Challenge. */
  access(attributes: RadiusAttribute[]): Promise<RadiusReply> {
    return this.send("auth", attributes);
  }

  /** Sends an Accounting-Request; resolves with the Accounting-Response. */
  accounting(attributes: RadiusAttribute[]): Promise<RadiusReply> {
    return this.send("acct", attributes);
  }

  /** Servers currently believed up, by label. */
  health(): { server: string; up: boolean }[] {
    const now = this.clock.now();
    return this.states.map((s) => ({ server: s.label, up: s.downUntil <= now }));
  }

  /** Closes the sockets; in-flight requests fail with RadiusTimeoutError. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.states.map((s) => s.close()));
  }

  private order(): ServerState[] {
    const now = this.clock.now();
    const up = this.states.filter((s) => s.downUntil <= now);
    const down = this.states.filter((s) => s.downUntil > now)
      .sort((a, b) => a.downUntil - b.downUntil);
    return [...up, ...down];
  }

  private async send(kind: "auth" | "acct", attributes: RadiusAttribute[]): Promise<RadiusReply> {
    if (this.closed) throw new RadiusClosedError();
    const tried: string[] = [];
    for (const st of this.order()) {
      if (this.closed) break;
      const port = kind === "auth" ? st.cfg.authPort : st.cfg.acctPort;
      tried.push(`${st.cfg.address}:${port}`);
      const reply = await this.exchange(st, kind, port, attributes);
      if (reply) {
        if (st.downUntil > 0) this.log.info("radius.server_up", { server: st.label });
        st.downUntil = 0;
        mUp.set(1, { server: st.label });
        if (reply.code === "Access-Reject") mRejects.inc({ server: st.label });
        return reply;
      }
      mTimeouts.inc({ server: st.label, type: kind });
      mUp.set(0, { server: st.label });
      st.downUntil = this.clock.now() + this.deadTime;
      this.log.warn("radius.timeout", { server: st.label, kind, port });
    }
    throw new RadiusTimeoutError(kind, tried);
  }

  private async exchange(
    st: ServerState,
    kind: "auth" | "acct",
    port: number,
    attributes: RadiusAttribute[],
  ): Promise<RadiusReply | null> {
    await st.open();
    const id = await st.allocId();
    const request = encodeRequest(
      kind === "auth" ? "Access-Request" : "Accounting-Request",
      id,
      st.cfg.secret,
      attributes,
    );
    const started = this.clock.now();
    mRequests.inc({ server: st.label, type: kind });
    try {
      for (let attempt = 0; attempt <= st.cfg.retries && !this.closed; attempt++) {
        if (attempt > 0) mRetrans.inc({ server: st.label });
        const got = await new Promise<Buffer | null>((resolve) => {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            resolve(null);
          }, st.cfg.timeout);
          this.timers.add(timer);
          st.pending.set(id, {
            request,
            port,
            expect: kind,
            done: (b) => {
              clearTimeout(timer);
              this.timers.delete(timer);
              resolve(b);
            },
          });
          st.socket?.send(request, port, st.cfg.address);
        });
        if (got) {
          const latencyMs = this.clock.now() - started;
          mLatency.observe(latencyMs / 1000);
          return { ...decodePacket(got, st.cfg.secret), server: st.label, latencyMs };
        }
      }
      return null;
    } finally {
      st.release(id);
    }
  }
}

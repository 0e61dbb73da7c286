// Wires the SIP layers into one running server: transport → transaction → B2BUA, on the real
// clock. Parse failures are mapped to SIP answers here, in one place (RFC 3261 §21.4.1 400 with
// a reason naming the header, §21.5.6 505, §21.4.16 416), or dropped and counted.

import { B2bua, type B2buaServices, SourceGuard } from "../b2bua/mod.ts";
import { cryptoRandom } from "../util/random.ts";
import type { Config, TlsConfig } from "../config/types.ts";
import {
  callIdHash,
  checkMessage,
  createResponse,
  ownerOfHash,
  reasonPhrase,
  type SipParseError,
  SipRequest,
} from "../sip/mod.ts";
import { TransactionLayer } from "../transaction/mod.ts";
import { HepTap, sameHep, type Shard, TransportLayer } from "../transport/mod.ts";
import type { Endpoint, SocketAdapter } from "../transport/types.ts";
import { BusyMeter } from "../util/busy-meter.ts";
import { OVERLOAD_LAG_MS, overloadShare } from "./load-shedding.ts";
import { systemClock } from "../util/clock.ts";
import { Logger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import { WheelTimers } from "../util/timer-wheel.ts";

const mParseAnswered = metrics.counter(
  "tandem_sip_bad_requests_total",
  "Malformed requests answered with an error status.",
);
const mTlsExpiry = metrics.gauge(
  "tandem_tls_certificate_expiry_timestamp_seconds",
  "When the TLS certificate in use (sip.tls.cert) expires, Unix time; alert well before it.",
);
const mBusy = metrics.gauge(
  "tandem_thread_busy_ratio",
  "Share of one core the JavaScript thread used, smoothed over about a second (0..1); new " +
    "INVITEs are refused with 503 in a share growing from 0 at 0.85 to all at 0.98, while the " +
    "UDP receive queue stands 2 ms or more (tandem_sip_queue_delay_seconds) or cannot be timed.",
);
const mQueueDelay = metrics.gauge(
  "tandem_sip_queue_delay_seconds",
  "How long a datagram waits in the UDP receive queue before it is read (timed by probes " +
    "sent to each UDP listener, the least over 100 ms). Under 2 ms nothing is shed; from 30 ms " +
    "new INVITEs are refused with 503 in a share growing to all at 150 ms.",
);
const mDemand = metrics.gauge(
  "tandem_thread_demand_ratio",
  "Share of wall time the JavaScript thread was on a core or waiting in the run queue for one, " +
    "smoothed like tandem_thread_busy_ratio (Linux; elsewhere the same as it).",
);
const mTimers = metrics.gauge(
  "tandem_timers_pending",
  "Timers set and not yet due or cancelled (SIP transactions, calls).",
);
const mConnections = metrics.gauge(
  "tandem_sip_connections",
  "Open TCP, TLS and WebSocket connections (inbound and outbound), by transport.",
);
const mParseDropped = metrics.counter(
  "tandem_sip_malformed_dropped_total",
  "Malformed messages dropped because they could not be answered.",
);
const mSourceDropped = metrics.counter(
  "tandem_sip_source_dropped_total",
  "New requests dropped unanswered because their source address sent them faster than " +
    "limits.per_source allows.",
);
const mUaDropped = metrics.counter(
  "tandem_sip_user_agent_dropped_total",
  "New requests dropped unanswered because their User-Agent matched limits.drop_user_agents " +
    "(SIP scanners).",
);
const mSourcesBanned = metrics.gauge(
  "tandem_sip_sources_banned",
  "Source addresses whose new requests are being dropped (limits.per_source).",
);

/** How long a drain or a shutdown waits for registrars to answer its unregistrations. */
export const OUTBOUND_UNREGISTER_WAIT_MS = 3000;

/** Options for {@link SipServer}. */
export interface SipServerOptions {
  config: Config;
  log: Logger;
  adapter?: SocketAdapter;
  services?: B2buaServices;
  /** One of several SIP workers (cluster.ts): shares the UDP ports, owns part of the calls. */
  shard?: Shard;
}

/** The SIP side of Tandem: transports, transactions and the B2BUA engine. */
export class SipServer {
  readonly transport: TransportLayer;
  readonly transactions: TransactionLayer;
  readonly b2bua: B2bua;
  readonly timers: WheelTimers;
  /** The JavaScript thread's CPU share, for load shedding and /metrics. */
  readonly busy = new BusyMeter();
  /** Flood protection by source address (`limits.per_source`); undefined when off. */
  guard: SourceGuard | undefined;
  private cfg: Config;
  private log: Logger;
  private started = false;
  private shard: Shard | undefined;
  /** The HEP capture socket, while `hep` is configured. */
  private hep: HepTap | undefined;

  constructor(opts: SipServerOptions) {
    this.cfg = opts.config;
    this.log = opts.log;
    this.configureGuard(opts.config);
    const sip = opts.config.sip;
    const shard = opts.shard;
    this.shard = shard;
    this.timers = new WheelTimers();
    const random = cryptoRandom();
    this.b2bua = new B2bua({
      config: () => this.cfg,
      // Saturated: the thread is on CPU (or waiting for one) nearly all the time, or the timer
      // wheel (ticking every 10 ms) runs late. New calls would only slow down the ones already up.
      overloaded: () =>
        this.timers.lagMs > OVERLOAD_LAG_MS ||
        random() <
          overloadShare(this.busy.fraction, this.busy.demand, this.transport.queueDelayMs()),
      net: {
        localFor: (d) => this.transport.localFor(d),
        isLocal: (h, p) => this.transport.isLocal(h, p),
        sendRequest: (r, d, f) => this.transport.sendRequest(r, d, f),
        sendResponse: (r, s, f) => this.transport.sendResponse(r, s, f),
        sendRaw: (data, dest) => this.transport.sendRaw(data, dest),
      },
      clock: systemClock,
      timers: this.timers,
      random,
      log: opts.log.child({ layer: "b2bua" }),
      services: opts.services,
      ownsCallId: shard && ((id) => ownerOfHash(callIdHash(id), shard.count) === shard.index),
    });
    this.transport = new TransportLayer(
      {
        listen: sip.listen,
        advertise: sip.advertise,
        limits: { maxSize: sip.maxMessageSize, maxHeaders: sip.maxHeaders },
        udp: { receiveBuffer: sip.udpReceiveBuffer, sendThread: sip.udpSendThread },
        tcp: {
          idleTimeoutMs: sip.tcpIdleTimeout,
          maxMessageSize: sip.maxMessageSize,
          connectTimeoutMs: sip.tcpConnectTimeout,
          maxConnections: sip.tcpMaxConnections,
        },
        wsOrigins: sip.wsOrigins,
        tls: sip.tls,
        adapter: opts.adapter,
        shard,
        log: opts.log.child({ layer: "transport" }),
      },
      {
        onRequest: (req, src) => {
          const drop = this.cfg.limits.dropUserAgents;
          if (this.guard || drop.length > 0) {
            if (isNewRequest(req)) {
              if (this.guard && !this.guard.admit(src.host)) return void mSourceDropped.inc();
              if (drop.length > 0 && fromScanner(req, drop)) return void mUaDropped.inc();
            }
          }
          const bad = checkMessage(req);
          if (bad) return this.answerMalformed(bad, src);
          this.transactions.receiveRequest(req, src);
        },
        onResponse: (res, src) => {
          if (checkMessage(res)) return void mParseDropped.inc();
          this.transactions.receiveResponse(res, src);
        },
        onParseError: (err, _data, src) => {
          // Garbage counts as new requests: a source sending it fast is banned like a flood.
          if (this.guard && !this.guard.admit(src.host)) return void mSourceDropped.inc();
          this.answerMalformed(err, src);
        },
        onTransportError: (dest, err) =>
          this.log.debug("transport-error", { dest: `${dest.host}:${dest.port}`, err }),
        onFlowClosed: (remote, outbound) =>
          void (outbound ? this.b2bua.outbound.flowLost(remote) : this.b2bua.flowClosed(remote)),
      },
    );
    if (sip.tls) mTlsExpiry.set(Math.floor(sip.tls.notAfter / 1000));
    this.configureCapture(opts.config);
    this.transactions = new TransactionLayer({
      t1: sip.t1,
      t2: sip.t2,
      t4: sip.t4,
      tryingDelay: 100,
      clock: systemClock,
      timers: this.timers,
      random,
      sender: this.transport,
      user: this.b2bua,
    });
    this.b2bua.attach(this.transactions);
  }

  /** Bind every listen address. */
  async start(): Promise<void> {
    await this.transport.start();
    await this.transport.startQueueProbes();
    this.started = true;
    this.b2bua.startProbes();
    // Several workers: one registers (the first, which also serves HTTP), not each of them.
    if (!this.shard || this.shard.index === 0) this.b2bua.outbound.start();
    this.busy.start();
    metrics.onCollect(() => {
      mSourcesBanned.set(this.guard?.banned().length ?? 0);
      mBusy.set(this.busy.fraction);
      mTimers.set(this.timers.size);
      mDemand.set(this.busy.demand);
      mQueueDelay.set((this.transport.queueDelayMs() ?? 0) / 1000);
      const open = new Map<string, number>();
      for (const l of this.transport.listeners) {
        if (l.connections === undefined) continue;
        const t = l.local.protocol;
        open.set(t, (open.get(t) ?? 0) + l.connections);
      }
      for (const [transport, n] of open) mConnections.set(n, { transport });
    });
    for (const l of this.transport.listeners) {
      this.log.info("sip-listening", {
        protocol: l.local.protocol,
        address: l.local.host,
        port: l.local.port,
      });
    }
  }

  /** Whether the listeners are up. */
  get listening(): boolean {
    return this.started;
  }

  /**
   * Swap the configuration used by new calls; live calls keep theirs. TLS certificates are read
   * again (a renewed certificate needs no restart); listen addresses need one.
   */
  setConfig(cfg: Config): void {
    const tls = cfg.sip.tls;
    if (tls && !sameTls(tls, this.cfg.sip.tls)) {
      this.transport.setTls(tls);
      mTlsExpiry.set(Math.floor(tls.notAfter / 1000));
      this.log.info("tls-certificates-loaded", {
        cert: tls.certFile,
        expires: new Date(tls.notAfter).toISOString(),
      });
    }
    this.transport.setWebSocketOrigins(cfg.sip.wsOrigins);
    this.configureGuard(cfg);
    this.configureCapture(cfg);
    this.cfg = cfg;
  }

  /** Start, move or stop the HEP captures for `cfg` (a reload that keeps `hep` keeps its socket). */
  private configureCapture(cfg: Config): void {
    if (sameHep(this.hep?.settings, cfg.hep)) return;
    this.hep?.close();
    this.hep = cfg.hep ? new HepTap(cfg.hep) : undefined;
    if (this.hep) this.hep.correlate = (id) => this.b2bua.callerCallIdOf(id);
    this.b2bua.correlateLegs(this.hep !== undefined);
    this.transport.setCapture(this.hep);
    if (cfg.hep) {
      this.log.info("hep-capture", {
        target: `${cfg.hep.host}:${cfg.hep.port}`,
        agent: cfg.hep.agentId,
      });
    }
  }

  /** Start, retune or stop the source guard for `cfg`; bans in force survive a retune. */
  private configureGuard(cfg: Config): void {
    const limits = cfg.limits.perSource;
    if (!limits) this.guard = undefined;
    else if (this.guard) this.guard.configure(limits);
    else {
      this.guard = new SourceGuard(
        limits,
        systemClock,
        (ban) =>
          this.log.warn("sip-source-banned", {
            source: ban.host,
            seconds: Math.round(limits.banMs / 1000),
          }),
      );
    }
  }

  get config(): Config {
    return this.cfg;
  }

  async stop(): Promise<void> {
    this.started = false;
    this.b2bua.stopProbes();
    await this.b2bua.outbound.stop(OUTBOUND_UNREGISTER_WAIT_MS);
    this.busy.stop();
    this.timers.stop();
    await this.transport.stop();
    this.transport.setCapture(undefined);
    this.hep?.close();
  }

  /** §21.4.1: 400 naming the bad header when the request can be answered; drop otherwise. */
  private answerMalformed(err: SipParseError, source: Endpoint): void {
    const p = err.partial;
    if (!(p instanceof SipRequest) || p.method === "ACK") {
      mParseDropped.inc();
      this.log.debug("sip-malformed-dropped", { source: source.host, part: err.part });
      return;
    }
    try {
      const status = err.status >= 400 ? err.status : 400;
      // The reason phrase is text we generate from the input: keep it printable and short.
      const detail = `${err.part}: ${err.detail}`.replace(/[^\x20-\x7e]/g, "?").slice(0, 100);
      const res = createResponse(p, status, `${reasonPhrase(status)} (${detail})`);
      void res.topVia; // throws when the Via cannot be parsed: then nobody can be answered
      this.transport.sendResponse(res, source);
      mParseAnswered.inc();
    } catch {
      mParseDropped.inc();
    }
  }
}

function sameTls(a: TlsConfig, b: TlsConfig | undefined): boolean {
  return b !== undefined && a.cert === b.cert && a.key === b.key && a.ca === b.ca &&
    a.verifyServer === b.verifyServer && a.verifyClient === b.verifyClient;
}

/** Whether `req`'s User-Agent holds one of `fragments` (lower case), whatever its case. */
export function fromScanner(req: SipRequest, fragments: readonly string[]): boolean {
  const ua = req.get("user-agent");
  if (!ua) return false;
  const l = ua.toLowerCase();
  for (const f of fragments) if (l.includes(f)) return true;
  return false;
}

/**
 * A request outside any dialog or transaction: what a flood is made of. ACK and CANCEL belong to
 * an INVITE already let in, and a request with a To tag to a dialog (or it gets a cheap 481).
 */
function isNewRequest(req: SipRequest): boolean {
  if (req.method === "ACK" || req.method === "CANCEL") return false;
  try {
    return req.to.tag === undefined;
  } catch {
    return true; // a To that does not parse: checkMessage answers 400, counted as new
  }
}

// Accounts Tandem keeps registered at carriers' registrars (RFC 3261 §10.2), as a UAC: many SIP
// trunks send their calls only to a registered Contact, and take calls only from an account
// that registered. One state machine per account, on the injected clock:
//
//   registering --2xx--> registered --(refresh due)--> registered (REGISTER in flight)
//        |                   |
//        +--failure--> failed <--failure (the refresh)
//   failed --(back-off)--> registering ... ; any --stop/removed--> unregistering --> stopped
//
// The Call-ID stays the same for the life of an account and CSeq grows (§10.2.4), so each
// refresh replaces the binding instead of adding one. A challenge is answered (and its nonce
// used again on the next refresh, with the nonce count raised, which saves a 401 per refresh
// where the registrar allows it); credentials refused a second time are a failure, not a loop.
// With `nat_keepalive`, a live binding's flow gets a double CRLF every interval (RFC 5626 §3.5.1),
// so a NAT or firewall in front of Tandem keeps the mapping the carrier's calls come in by.

import type { DigestAnswerInput } from "../aaa/mod.ts";
import type { Config, OutboundRegistrationConfig, RouteConfig } from "../config/types.ts";
import {
  escapeUser,
  headerList,
  parseUri,
  SipRequest,
  type SipResponse,
  type Uri,
  uriHost,
} from "../sip/mod.ts";
import type { ClientHandler } from "../transaction/mod.ts";
import { transportParam } from "../transport/protocol.ts";
import { endpointKey, endpointText, normalizeHost } from "../transport/address.ts";
import type { Endpoint } from "../transport/types.ts";
import type { Clock, Random, TimerHandle, Timers } from "../util/clock.ts";
import type { Logger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import { token } from "../util/random.ts";
import { viaFor } from "./via.ts";

/** Named account states (see the diagram above). */
export type OutboundState = "registering" | "registered" | "failed" | "unregistering" | "stopped";

/** What registering needs from the engine and the layers below it. */
export interface OutboundNet {
  /** The registrar's servers in the order to try them (located by DNS for a host name). */
  servers(route: RouteConfig): Promise<Endpoint[]>;
  /** Where requests to `dest` leave from; throws when no listener can reach it. */
  localFor(dest: Endpoint): Endpoint;
  newBranch(): string;
  /** A Call-ID of this process's (with several SIP workers, one whose answers come back here). */
  newCallId(): string;
  send(req: SipRequest, dest: Endpoint, handler: ClientHandler): void;
  /** Bytes as they are to exactly `dest`, from the socket requests to it leave from. */
  sendRaw?(data: Uint8Array, dest: Endpoint): void;
  /** The Authorization value for a challenge; undefined when no responder is plugged in. */
  digest?: () => ((input: DigestAnswerInput) => string) | undefined;
}

export interface OutboundOptions {
  config: () => Config;
  clock: Clock;
  timers: Timers;
  random: Random;
  log: Logger;
  net: OutboundNet;
}

/** One account's state (GET /outbound-registrations shows it). */
export interface OutboundStatus {
  name: string;
  aor: string;
  state: OutboundState;
  /** The Contact last registered (Tandem's address as the registrar's server sees it). */
  contact?: string;
  /** The registrar's server last used. */
  server?: Endpoint;
  /** Monotonic ms the binding runs out, while registered. */
  expiresAt?: number;
  /** Monotonic ms of the next REGISTER (a refresh, or a retry after a failure). */
  nextAt?: number;
  /** The last answer ("200") or what went wrong ("timeout", "401 ...: credentials refused"). */
  last: string;
  /** Failures in a row. */
  failures: number;
  /** Wall-clock ms of the last change of state. */
  since: number;
}

/** Back-off after failures in a row (RFC 5626 §4.5's shape): 30 s doubling to 30 min. */
const RETRY_BASE_S = 30;
const RETRY_MAX_S = 1800;
/** A refresh goes out this long before the binding ends, or halfway for short ones. */
const REFRESH_AHEAD_S = 300;
/** A Retry-After from the registrar is taken within these bounds. */
const RETRY_AFTER_MAX_S = 3600;
/** How often a reload is looked for. */
const TICK_MS = 1000;
/**
 * After a lost flow, the REGISTER that makes a new one goes within this (plus up to as much
 * again at random, so many accounts on one trunk spread out); a flow lost again within
 * FLOW_AGAIN_MS waits FLOW_BASE_MS (RFC 5626 §4.5's base time) instead of looping.
 */
const FLOW_RETRY_MS = 1000;
const FLOW_AGAIN_MS = 60_000;
const FLOW_BASE_MS = 30_000;
/**
 * RFC 5626 §3.5.1's keep-alive: a double CRLF, which a registrar or proxy drops (RFC 3261 §7.5
 * lets CRLFs stand before a message) and a NAT counts as traffic on the flow.
 */
const PING = new Uint8Array([13, 10, 13, 10]);

interface Challenge {
  proxy: boolean;
  value: string;
  nc: number;
}

interface Account {
  cfg: OutboundRegistrationConfig;
  /** The configuration as text: a reload that leaves it alone leaves the account alone. */
  sig: string;
  callId: string;
  cseq: number;
  state: OutboundState;
  since: number;
  last: string;
  failures: number;
  /** Seconds asked for: the configured expires, or a registrar's Min-Expires (423). */
  asked: number;
  /** Monotonic ms the granted binding ends. */
  expiresAt?: number;
  /** Monotonic ms of the next REGISTER. */
  nextAt?: number;
  timer?: TimerHandle;
  /** The next keep-alive, while the binding lives and `nat_keepalive` is set. */
  keepalive?: TimerHandle;
  /** Monotonic ms the connection to the registrar last closed under the binding. */
  flowLostAt?: number;
  dest?: Endpoint;
  contact?: string;
  /** Counts REGISTER rounds: answers and lookups of an older round are ignored. */
  round: number;
  /** REGISTERs sent and not yet answered (nor timed out). */
  pending: number;
  challenge?: Challenge;
}

/** What a round has done so far, to bound it. */
interface Round {
  n: number;
  servers: Endpoint[];
  index: number;
  /** Challenges answered in this round. */
  auths: number;
  /** 423s taken in this round. */
  brief: number;
  expires: number;
  done?: () => void;
}

const mUp = metrics.gauge(
  "tandem_outbound_registration_up",
  "1 while an outbound registration (outbound_registrations) holds a binding, by name",
);
const mRegisters = metrics.counter(
  "tandem_outbound_registers_total",
  "REGISTER rounds of outbound registrations by result (ok, failed)",
);

export class OutboundRegistrations {
  private accounts = new Map<string, Account>();
  private of: Config | undefined;
  private tick: TimerHandle | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private o: OutboundOptions) {
    metrics.onCollect(() => {
      mUp.values.clear();
      for (const a of this.accounts.values()) {
        mUp.set(a.state === "registered" ? 1 : 0, { name: a.cfg.name });
      }
    });
  }

  /** Register the configured accounts, and follow reloads. */
  start(): void {
    if (this.tick || this.stopping) return;
    const loop = () => {
      this.tick = this.o.timers.set(TICK_MS, loop);
      this.reconcile();
    };
    this.tick = this.o.timers.set(0, loop);
  }

  /**
   * Unregister every account that holds a binding (so the carrier stops sending calls here at
   * once rather than when the binding runs out) and stop; resolves when all have answered or
   * after `waitMs`.
   */
  stop(waitMs: number): Promise<void> {
    // A drain unregisters at its start; the shutdown after it waits for the same answers.
    return this.stopping ??= this.unregisterAll(waitMs);
  }

  private async unregisterAll(waitMs: number): Promise<void> {
    this.tick?.cancel();
    this.tick = undefined;
    const all = [...this.accounts.values()];
    this.accounts.clear();
    const done = all.map((a) => this.retire(a));
    if (!done.length) return;
    let timer: TimerHandle | undefined;
    await Promise.race([
      Promise.all(done),
      new Promise<void>((resolve) => timer = this.o.timers.set(waitMs, resolve)),
    ]);
    timer?.cancel();
  }

  list(): OutboundStatus[] {
    return [...this.accounts.values()].map((a) => {
      const s: OutboundStatus = {
        name: a.cfg.name,
        aor: a.cfg.aor,
        state: a.state,
        last: a.last,
        failures: a.failures,
        since: a.since,
      };
      if (a.contact) s.contact = a.contact;
      if (a.dest) s.server = a.dest;
      if (a.state === "registered") s.expiresAt = a.expiresAt;
      if (a.nextAt !== undefined) s.nextAt = a.nextAt;
      return s;
    });
  }

  /** Accounts added, changed or removed by a reload since the last look. */
  private reconcile(): void {
    const cfg = this.o.config();
    if (cfg === this.of) return;
    this.of = cfg;
    const want = new Map((cfg.outboundRegistrations ?? []).map((r) => [r.name, r]));
    for (const [name, a] of this.accounts) {
      const next = want.get(name);
      if (next && JSON.stringify(next) === a.sig) continue;
      if (next && sameBinding(a.cfg, next)) {
        // Same address of record and Contact: refreshed at once under the new settings with the
        // same Call-ID, which replaces the binding. Unregistering first could remove the new one
        // if the two crossed.
        a.cfg = next;
        a.sig = JSON.stringify(next);
        a.asked = next.expires;
        a.challenge = undefined;
        this.begin(a);
        continue;
      }
      this.accounts.delete(name);
      void this.retire(a);
    }
    for (const [name, r] of want) {
      if (this.accounts.has(name)) continue;
      const a: Account = {
        cfg: r,
        sig: JSON.stringify(r),
        callId: this.o.net.newCallId(),
        cseq: 0,
        state: "registering",
        since: this.o.clock.wallNow(),
        last: "not sent yet",
        failures: 0,
        asked: r.expires,
        round: 0,
        pending: 0,
      };
      this.accounts.set(name, a);
      this.begin(a);
    }
  }

  /** A new REGISTER round for `a`: locate the registrar, then send. */
  private begin(a: Account): void {
    a.timer?.cancel();
    a.timer = undefined;
    a.nextAt = undefined;
    const n = ++a.round;
    this.o.net.servers(a.cfg.route).then(
      (servers) => {
        if (a.round !== n) return;
        if (!servers.length) return this.failed(a, "registrar not resolved");
        const round: Round = { n, servers, index: 0, auths: 0, brief: 0, expires: a.asked };
        this.send(a, round);
      },
      (err) => {
        if (a.round === n) this.failed(a, `registrar not resolved: ${(err as Error).message}`);
      },
    ).catch((err) => this.o.log.error("outbound-register-crashed", { err }));
  }

  /** The round's REGISTER to its current server. */
  private send(a: Account, r: Round): void {
    const dest = r.servers[r.index];
    let req: SipRequest;
    try {
      req = this.request(a, dest, r.expires);
    } catch (err) {
      return this.nextServer(a, r, (err as Error).message);
    }
    const sentAuth = a.challenge !== undefined;
    a.pending++;
    let settled = false;
    const settle = () => {
      if (!settled) a.pending--;
      settled = true;
    };
    this.o.net.send(req, dest, {
      onResponse: (res) => {
        if (res.status < 200) return;
        settle();
        if (a.round === r.n) this.answered(a, r, res, sentAuth);
      },
      onTimeout: () => {
        settle();
        if (a.round === r.n) this.nextServer(a, r, "timeout");
      },
      onTransportError: (_tx, err) => {
        settle();
        if (a.round === r.n) this.nextServer(a, r, err.message);
      },
    });
  }

  private request(a: Account, dest: Endpoint, expires: number): SipRequest {
    const local = this.o.net.localFor(dest);
    const cfg = a.cfg;
    const contact = `sip:${escapeUser(cfg.contactUser)}@${uriHost(local.host)}:${local.port}${
      transportParam(local.protocol)
    }`;
    a.dest = dest;
    a.contact = contact;
    const pairs: [string, string][] = [
      ["Via", viaFor(local, this.o.net.newBranch())],
      ["Max-Forwards", "70"],
      ["From", `<${cfg.aor}>;tag=${token(this.o.random, 10)}`],
      ["To", `<${cfg.aor}>`],
      ["Call-ID", a.callId],
      ["CSeq", `${++a.cseq} REGISTER`],
      ["Contact", `<${contact}>${expires === 0 ? ";expires=0" : ""}`],
      ["Expires", String(expires)],
    ];
    const ua = this.o.config().sip.userAgent;
    if (ua) pairs.push(["User-Agent", ua]);
    if (a.challenge) {
      const ch = a.challenge;
      ch.nc++;
      pairs.push([
        ch.proxy ? "Proxy-Authorization" : "Authorization",
        this.authorization(a, ch.value, ch.nc),
      ]);
    }
    return new SipRequest("REGISTER", cfg.registrarUri, headerList(pairs));
  }

  private authorization(a: Account, challenge: string, nc: number): string {
    const digest = this.o.net.digest?.();
    const creds = a.cfg.auth;
    if (!digest || !creds) throw new Error("no credentials");
    return digest({
      method: "REGISTER",
      uri: a.cfg.registrarUri,
      username: creds.username,
      password: creds.password,
      challenge,
      cnonce: token(this.o.random, 16),
      nc,
    });
  }

  private answered(a: Account, r: Round, res: SipResponse, sentAuth: boolean): void {
    const s = res.status;
    if (s < 300) return this.granted(a, r, res);
    if (s === 401 || s === 407) return this.challenged(a, r, res, sentAuth);
    if (s === 423 && r.brief === 0) {
      // §10.2.8: ask again for at least what the registrar takes.
      const min = parseInt(res.get("min-expires") ?? "", 10);
      if (min > 0 && min <= 86_400) {
        r.brief++;
        a.asked = Math.max(min, a.cfg.expires);
        r.expires = r.expires === 0 ? 0 : a.asked;
        return this.send(a, r);
      }
    }
    const what = `${s} ${res.reason}`.trim();
    // §21.5.4/RFC 3263 §4.3: the next server on 503 (and on a 408 from a proxy on the way).
    if (s === 503 || s === 408) return this.nextServer(a, r, what, retryAfter(res));
    this.failed(a, what, retryAfter(res), r);
  }

  /**
   * §22.2: answer a 401/407. A challenge to credentials answered in this very round means they
   * were refused, unless the nonce was only stale (RFC 2617 §3.2.1); credentials sent ahead from
   * the last challenge may just be out of date, so they get one fresh answer.
   */
  private challenged(a: Account, r: Round, res: SipResponse, sentAuth: boolean): void {
    const proxy = res.status === 407;
    const values = res.getAll(proxy ? "proxy-authenticate" : "www-authenticate");
    const what = `${res.status} ${res.reason}`.trim();
    if (!a.cfg.auth) return this.failed(a, `${what}: no credentials configured`, undefined, r);
    const stale = values.some((v) => /\bstale\s*=\s*"?true\b/i.test(v));
    if ((sentAuth && r.auths > 0 && !stale) || r.auths >= 3) {
      return this.failed(a, `${what}: credentials refused`, undefined, r);
    }
    // The first challenge this account can answer (a registrar may offer SHA-256 and MD5).
    const value = values.find((v) => {
      try {
        this.authorization(a, v, 1);
        return true;
      } catch {
        return false;
      }
    });
    if (!value) return this.failed(a, `${what}: no challenge Tandem can answer`, undefined, r);
    r.auths++;
    a.challenge = { proxy, value, nc: 0 };
    this.send(a, r);
  }

  private granted(a: Account, r: Round, res: SipResponse): void {
    mRegisters.inc({ result: "ok" });
    if (r.expires === 0) return this.stopped(a, r);
    const mine = parseUri(a.contact!, "Contact");
    const listed = res.contacts.find((c) => sameUri(c.uri, mine));
    const param = listed?.params.get("expires");
    const header = parseInt(res.get("expires") ?? "", 10);
    // §10.2.4: the registrar's word for our Contact; its Expires header; else what we asked.
    const exp = typeof param === "string"
      ? parseInt(param, 10)
      : Number.isFinite(header)
      ? header
      : r.expires;
    if (!(exp > 0)) return this.failed(a, `${res.status}: binding not kept`, undefined, r);
    const now = this.o.clock.now();
    const was = a.state;
    a.failures = 0;
    a.last = String(res.status);
    a.expiresAt = now + exp * 1000;
    const refreshIn = exp - Math.min(exp / 2, REFRESH_AHEAD_S);
    this.schedule(a, refreshIn * 1000);
    this.keepAlive(a);
    if (was !== "registered") {
      this.setState(a, "registered");
      this.o.log.info("outbound-registered", {
        name: a.cfg.name,
        aor: a.cfg.aor,
        server: a.dest && endpointText(a.dest),
        expires: exp,
      });
    }
  }

  /** A timeout, transport error, 503 or 408: the next server of the round, if any. */
  private nextServer(a: Account, r: Round, what: string, after?: number): void {
    if (r.index + 1 < r.servers.length) {
      r.index++;
      return this.send(a, r);
    }
    this.failed(a, what, after, r);
  }

  private failed(a: Account, what: string, retryAfterS?: number, r?: Round): void {
    mRegisters.inc({ result: "failed" });
    if (r?.expires === 0) return this.stopped(a, r);
    a.failures++;
    a.last = what;
    const backoff = Math.min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (a.failures - 1)) *
      (0.5 + this.o.random() / 2);
    let delayS = retryAfterS !== undefined
      ? Math.min(Math.max(retryAfterS, 1), RETRY_AFTER_MAX_S)
      : backoff;
    // A binding that still runs is worth a retry before it ends.
    const left = a.expiresAt === undefined ? 0 : (a.expiresAt - this.o.clock.now()) / 1000;
    if (left > 2) delayS = Math.min(delayS, left / 2);
    this.schedule(a, delayS * 1000);
    this.setState(a, "failed");
    this.o.log.warn("outbound-registration-failed", {
      name: a.cfg.name,
      aor: a.cfg.aor,
      reason: what,
      failures: a.failures,
      retryInS: Math.round(delayS),
    });
  }

  private schedule(a: Account, ms: number): void {
    a.timer?.cancel();
    a.nextAt = this.o.clock.now() + ms;
    a.timer = this.o.timers.set(ms, () => {
      a.timer = undefined;
      this.begin(a);
    });
  }

  /**
   * Keep-alives on `a`'s flow from now while its binding lives (a failed refresh included: the
   * carrier may still send calls to it); the interval is read at each one, so a reload changes it.
   * Never over WebSocket, whose connection has pings of its own.
   */
  private keepAlive(a: Account): void {
    const send = this.o.net.sendRaw;
    if (a.keepalive || !a.cfg.natKeepalive || !send) return;
    const next = () => {
      a.keepalive = undefined;
      const ms = a.cfg.natKeepalive;
      const live = a.expiresAt !== undefined && a.expiresAt > this.o.clock.now();
      const dest = a.dest;
      if (!ms || !live || !dest || (a.state !== "registered" && a.state !== "failed")) return;
      if (dest.protocol === "ws" || dest.protocol === "wss") return;
      send(PING, dest);
      a.keepalive = this.o.timers.set(ms, next);
    };
    a.keepalive = this.o.timers.set(a.cfg.natKeepalive, next);
  }

  /**
   * A connection Tandem opened (TCP, TLS, WebSocket) was closed by its far end or failed. An
   * account registered over it re-registers soon over a new one (RFC 5626 §4.4.1): behind NAT
   * the carrier's calls came in only through the old connection, and some registrars drop the
   * binding with it. Returns how many accounts it concerned.
   */
  flowLost(remote: Endpoint): number {
    const flowKey = (e: Endpoint) => endpointKey({ ...e, host: normalizeHost(e.host) });
    const key = flowKey(remote);
    const now = this.o.clock.now();
    let n = 0;
    for (const a of this.accounts.values()) {
      if (!a.dest || flowKey(a.dest) !== key) continue;
      if (a.state !== "registered" && a.state !== "failed") continue;
      if (a.expiresAt === undefined || a.expiresAt <= now) continue;
      n++;
      const again = a.flowLostAt !== undefined && now - a.flowLostAt < FLOW_AGAIN_MS;
      a.flowLostAt = now;
      const delay = again ? FLOW_BASE_MS : FLOW_RETRY_MS * (1 + this.o.random());
      // Only ever sooner than what is planned (a refresh, a retry).
      if (a.nextAt === undefined || a.nextAt > now + delay) this.schedule(a, delay);
      this.o.log.info("outbound-flow-lost", {
        name: a.cfg.name,
        server: endpointText(a.dest),
        registerInS: Math.round((a.nextAt! - now) / 1000),
      });
    }
    return n;
  }

  private setState(a: Account, s: OutboundState): void {
    if (a.state === s) return;
    a.state = s;
    a.since = this.o.clock.wallNow();
  }

  /** Unregister `a` if it may hold a binding; resolves once that is answered or given up. */
  private retire(a: Account): Promise<void> {
    a.timer?.cancel();
    a.timer = undefined;
    a.keepalive?.cancel();
    a.keepalive = undefined;
    a.nextAt = undefined;
    const n = ++a.round;
    // A binding granted and not run out, or a REGISTER still unanswered that may grant one.
    const holds = a.dest !== undefined &&
      (a.pending > 0 || (a.expiresAt !== undefined && a.expiresAt > this.o.clock.now()));
    if (!holds) {
      this.setState(a, "stopped");
      return Promise.resolve();
    }
    this.setState(a, "unregistering");
    return new Promise<void>((done) => {
      const r: Round = { n, servers: [a.dest!], index: 0, auths: 0, brief: 0, expires: 0, done };
      this.send(a, r);
    });
  }

  private stopped(a: Account, r: Round): void {
    a.expiresAt = undefined;
    this.setState(a, "stopped");
    this.o.log.info("outbound-unregistered", { name: a.cfg.name, aor: a.cfg.aor });
    r.done?.();
  }
}

/**
 * A reload that keeps these keeps the binding: refresh it rather than remove it first. Another
 * registrar is another binding: the old one is taken away there, the new one made here.
 */
function sameBinding(a: OutboundRegistrationConfig, b: OutboundRegistrationConfig): boolean {
  return a.aor === b.aor && a.contactUser === b.contactUser &&
    a.route.transport === b.route.transport && a.route.host === b.route.host &&
    a.route.port === b.route.port;
}

/** §19.1.4 in the main: scheme, user, host and port (our Contact carries no other parameter). */
function sameUri(a: Uri, b: Uri): boolean {
  return a.scheme === b.scheme && a.user === b.user &&
    a.host.toLowerCase() === b.host.toLowerCase() && (a.port ?? 5060) === (b.port ?? 5060);
}

/** Retry-After seconds (§20.33), if given. */
function retryAfter(res: SipResponse): number | undefined {
  const v = parseInt(res.get("retry-after") ?? "", 10);
  return Number.isFinite(v) && v >= 0 ? v : undefined;
}

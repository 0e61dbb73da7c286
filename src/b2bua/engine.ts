// The B2BUA core (RFC 3261 §16-free: a UAS and a UAC glued together, RFC 7092). It is the
// transaction user: new INVITEs become calls, in-dialog requests are relayed to the other leg
// with that leg's tags and CSeq, answers are relayed back, and the call timers and failover run
// on the injected clock.

import type { DigestAnswerInput } from "../aaa/mod.ts";
import {
  applyUserRewrite,
  isPrivateIp,
  matchRule,
  ruleIdentity,
  tableRoutes,
} from "../config/mod.ts";
import type { Config, DnsConfig, RouteConfig, RuleConfig, UserRewrite } from "../config/types.ts";
import { Dialog, dialogKey, DialogRequestError } from "../dialog/mod.ts";
import {
  asRequestUri,
  bareHost,
  callIdHash,
  copyRecordRoute,
  createResponse,
  detach,
  detachAll,
  escapeUser,
  type Header,
  headerList,
  identityOf,
  identityOfOwned,
  identityValues,
  isSupportedScheme,
  knownTags,
  NameAddr,
  optionTags,
  Params,
  parseNameAddr,
  parseUri,
  reasonPhrase,
  requestOfIdentity,
  type SipMessage,
  SipRequest,
  type SipResponse,
  telDigits,
  unknownTags,
  type Uri,
  Uri as UriClass,
  uriHost,
} from "../sip/mod.ts";
import type {
  ClientHandler,
  ClientTransaction,
  ServerTransaction,
  TransactionUser,
} from "../transaction/mod.ts";
import { SharedEndpoints } from "../transaction/mod.ts";
import type { Endpoint, Protocol, SendFailure } from "../transport/types.ts";
import type { LocateTarget } from "../transport/locate.ts";
import { enumNumber } from "../transport/enum.ts";
import { endpointKey, endpointText } from "../transport/address.ts";
import {
  defaultPort,
  isSecure,
  isStream,
  isWebSocket,
  protocolOfToken,
  sipsProtocol,
  transportParam,
} from "../transport/protocol.ts";
import type { Clock, Random, TimerHandle, Timers } from "../util/clock.ts";
import { Logger, silentLogger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import type { Attempt, Call, CallRoute, PendingRelay, RelayedReliable, Replacing } from "./call.ts";
import { parseReplaces, replacesFor } from "./replaces.ts";
import { decideFailover } from "./failover.ts";
import { applyHeaderPolicy } from "./header-policy.ts";
import { ANONYMOUS, applyPrivacy, privacyRequested } from "./privacy.ts";
import { type ProbedServer, RouteHealth } from "./route-health.ts";
import { type QualityFigures, RouteQuality } from "./route-quality.ts";
import { RouteOrder } from "./route-order.ts";
import { type Binding, Registrations } from "./registrations.ts";
import { viaFor } from "./via.ts";
import { routeRequestUri, routeUriHost, routeUriPort } from "./route-uri.ts";
import { OutboundRegistrations } from "./outbound-registrations.ts";
import { ENDED, type EndedLeg, EndedLegs } from "./ended-legs.ts";
import { token } from "../util/random.ts";
import type { CallRecord, EndedBy } from "./record.ts";
import { type LimitRefusal, LimitTable, type Slot } from "./limits.ts";

/** A route's record since start (GET /routes): what its quality metrics count. */
export interface RouteTotals {
  attempts: number;
  answered: number;
  talkSeconds: number;
}

/** What the B2BUA needs from the transport layer. */
export interface Network {
  localFor(dest: Endpoint): Endpoint;
  isLocal(host: string, port?: number): boolean;
  sendRequest(req: SipRequest, dest: Endpoint, fail?: SendFailure): void;
  sendResponse(res: SipResponse, source: Endpoint, fail?: SendFailure): void;
  /** Bytes as they are to exactly `dest` (keep-alives). */
  sendRaw?(data: Uint8Array, dest: Endpoint): void;
}

/** What the B2BUA needs from the transaction layer. */
export interface Transactions {
  sendRequest(req: SipRequest, dest: Endpoint, handler: ClientHandler): ClientTransaction;
  newBranch(): string;
}

/** Answer to a challenge from upstream (RFC 3261 §22.2), supplied by the aaa layer. */
export type DigestResponder = (args: DigestAnswerInput) => string;

/** Outcome of authorizing an incoming call (RADIUS), supplied by the aaa layer. */
export interface Authorization {
  outcome: "accept" | "reject" | "timeout" | "challenge";
  /** For "challenge": the Proxy-Authenticate value to send with 407. */
  challenge?: string;
  /** For "reject": the status to answer (default 403) and its reason phrase. */
  status?: number;
  reason?: string;
  creditTimeMs?: number;
  /** Routes "host:port[;transport=tcp]" replacing the configured ones. */
  routes?: string[];
  callerId?: string;
  display?: string;
  /** Who the caller proved to be (a digest user name, or its address), for the CDR. */
  user?: string;
}

/**
 * Media anchoring through a relay (RFC 3264 offers and answers rewritten by rtpengine or
 * rtpproxy). `from` is the side that produced the SDP. A rejected promise on an offer refuses
 * the call (503); on an answer, the SDP passes unchanged.
 */
export interface MediaHooks {
  /** Whether calls on this route anchor media. */
  uses(route: RouteConfig): boolean;
  /** `contentType` says where the SDP is: the whole body, or one part of a multipart body. */
  offer(
    call: Call,
    from: "caller" | "callee",
    body: Uint8Array,
    contentType?: string,
  ): Promise<Uint8Array>;
  answer(
    call: Call,
    from: "caller" | "callee",
    body: Uint8Array,
    contentType?: string,
  ): Promise<Uint8Array>;
  /** The call has ended: release its relay session. */
  end(call: Call): void;
}

/** What checking a caller's Identity headers found (RFC 8224 §6.2), supplied by the stir layer. */
export interface IdentityVerdict {
  verstat: "TN-Validation-Passed" | "TN-Validation-Failed" | "No-TN-Validation";
  attest?: string;
  origid?: string;
  /** For a failure: the answer RFC 8224 §6.2.2 gives it, and its reason phrase. */
  status?: number;
  reason?: string;
  detail?: string;
}

/** STIR/SHAKEN (RFC 8224, ATIS-1000074), supplied by the stir layer. */
export interface IdentityHooks {
  /** Check an incoming INVITE's Identity headers under the configuration in force. */
  verify(req: SipRequest, cfg: Config): Promise<IdentityVerdict>;
  /**
   * An Identity header value vouching for a call from `origUser` to `destUser` (URI user
   * parts); undefined when they are not telephone numbers or nothing signs.
   */
  sign(
    origUser: string | undefined,
    destUser: string | undefined,
    attest: "A" | "B" | "C",
    origid: string,
    cfg: Config,
  ): Promise<string | undefined>;
}

/** Optional services the wiring plugs in (AAA, CDR, media). */
export interface B2buaServices {
  identity?: IdentityHooks;
  media?: MediaHooks;
  digest?: DigestResponder;
  /** `cfg`: the configuration the call started under (a reload may have replaced it since). */
  authorize?: (
    call: Call,
    req: SipRequest,
    source: Endpoint,
    cfg: Config,
  ) => Promise<Authorization>;
  /** Called once per call when it has ended, with its complete record. */
  onCallEnded?: (rec: CallRecord, call: Call) => void;
  /** Called when a call is answered. */
  onCallAnswered?: (rec: CallRecord, call: Call) => void;
  /** Called for an INVITE refused before it became a call: no rule, or a rule's limits. */
  onCallRefused?: (rec: CallRecord) => void;
  /**
   * RFC 3263: the servers for a route by host name, best first, asked of the DNS servers the
   * configuration in force names. Absent: such routes fail.
   */
  locate?: (target: LocateTarget, dns?: DnsConfig) => Promise<Endpoint[]>;
  /**
   * RFC 6116: the SIP URIs an E.164 number ("+" and digits) maps to under an ENUM apex, best
   * first; empty when it has none; rejects when the lookup failed. Absent: ENUM routes fail.
   */
  enumLookup?: (e164: string, apex: string, dns?: DnsConfig) => Promise<string[]>;
}

export interface B2buaOptions {
  config: () => Config;
  /** True while the process is saturated: new INVITEs are then refused 503 (load shedding). */
  overloaded?: () => boolean;
  net: Network;
  clock: Clock;
  timers: Timers;
  random: Random;
  log?: Logger;
  services?: B2buaServices;
  /**
   * With several SIP workers, whether a Call-ID hashes to this worker: outgoing legs get one
   * that does, so the callee's answers reach the worker holding the call. Absent: any Call-ID.
   */
  ownsCallId?: (callId: string) => boolean;
}

const ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE";
/**
 * Option tags a call honours end to end (§8.2.2.3: any other one in a Require gets 420). 100rel
 * (RFC 3262): the callee's reliable provisionals reach the caller with our own RSeq, and the
 * caller's PRACKs go back with the callee's. timer (RFC 4028): session refreshes are relayed
 * like any re-INVITE or UPDATE, so the two ends run the timer between them.
 */
const CALL_TAGS: ReadonlySet<string> = new Set(["100rel", "timer", "replaces"]);
/** Inside a dialog: the session timer only (a re-INVITE's reliable provisionals are not mapped). */
const DIALOG_TAGS: ReadonlySet<string> = new Set(["timer"]);
const REQUIRE_100REL: readonly string[] = ["100rel"];
/** Reliable provisionals a call remembers for the caller's PRACKs (the newest). */
const MAX_RELIABLE = 8;
/** Early dialogs kept per attempt (forks of one INVITE); a provisional of one more is dropped. */
const MAX_FORKS = 16;
const NO_TAGS: readonly string[] = [];
/** What a relayed REGISTER carries besides its identity and Contacts. */
const REGISTER_PASS = ["Expires", "Authorization", "Proxy-Authorization", "User-Agent"];
/** What the registrar's answer carries back to the phone besides its Contacts. */
const REGISTER_ANSWER = [
  "WWW-Authenticate",
  "Proxy-Authenticate",
  "Expires",
  "Min-Expires",
  "Date",
  "Retry-After",
];
/** In-dialog methods relayed leg to leg as non-INVITE requests. */
const RELAYED = new Set(["BYE", "UPDATE", "INFO", "MESSAGE", "OPTIONS", "REFER", "NOTIFY"]);
/** A leg of a live call in the leg index. */
interface LiveLeg {
  call: Call;
  side: "a" | "b";
  attempt?: Attempt;
}

/** Headers of an in-dialog request or response that travel to the other leg. */
const PASS_IN_DIALOG = new Set([
  "content-type",
  "content-disposition",
  "content-encoding",
  "content-language",
  "reason",
  "event",
  "subscription-state",
  "refer-to",
  "referred-by",
  "replaces",
  "info-package",
  "recv-info",
  "accept",
  "allow-events",
  "session-expires",
  "min-se",
  "retry-after",
  "warning",
  "subject",
  "expires",
]);

const mCalls = metrics.counter("tandem_calls_total", "Calls by outcome.");
const mPriorityAdmitted = metrics.counter(
  "tandem_priority_calls_admitted_total",
  "Calls of a rule with `priority` let in while new calls were shed (overload or " +
    "limits.max_calls).",
);
const mServerUp = metrics.gauge(
  "tandem_route_server_up",
  "Probed route servers (routes with `probe`): 1 while answering, 0 while skipped as down.",
);
const mRegistered = metrics.gauge(
  "tandem_registrations",
  "Phones registered through Tandem at the registrar (granted, not run out).",
);
const mTablePrefixes = metrics.gauge(
  "tandem_route_table_prefixes",
  "Prefixes in each route table of the configuration in force (least-cost routing).",
);
const mTableLookups = metrics.counter(
  "tandem_route_table_lookups_total",
  "Called numbers looked up in route tables (least-cost routing), by table and result: matched " +
    "(a prefix gave routes) or unmatched (the rule's own routes, or 404).",
);
const mEnum = metrics.counter(
  "tandem_enum_lookups_total",
  "ENUM lookups of called numbers (RFC 6116) for enum routes, by outcome: found (SIP URIs), " +
    "none (no such number, or no E2U+sip record), failed (DNS did not answer).",
);
const mLocate = metrics.counter(
  "tandem_route_lookups_total",
  "DNS lookups of routes by host name (RFC 3263), by outcome: servers found, or none usable.",
);
const mActive = metrics.gauge("tandem_calls_active", "Calls in progress.");
const mNatKeepalives = metrics.counter(
  "tandem_registrar_nat_keepalives_total",
  "Keep-alives (a double CRLF) sent to phones registered over UDP (registrar.nat_keepalive).",
);
/** RFC 5626 §3.5.1: a keep-alive SIP parsers skip over. */
const CRLF_CRLF = new TextEncoder().encode("\r\n\r\n");

const mRouteDegraded = metrics.gauge(
  "tandem_route_degraded",
  "Routes with `quality`: 1 while their ASR or post-dial delay falls short (tried after the " +
    "others), 0 when not.",
);
const mRouteAttempts = metrics.counter(
  "tandem_route_attempts_total",
  "Call attempts per route by how they ended (answered, failover, failed, no-progress, " +
    "no-answer, cancel, redirect, unreachable, limit, down, held, media), counted at call end.",
);
const mRoutePdd = metrics.histogram(
  "tandem_route_post_dial_delay_seconds",
  "Per route, from each INVITE sent to the first provisional answer (PDD), counted at call end.",
  [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20],
);
const mRouteTalk = metrics.counter(
  "tandem_route_answered_seconds_total",
  "Talk time of the calls each route answered, in seconds (ACD: this over answered attempts).",
);
const mLegIndex = metrics.gauge(
  "tandem_leg_index_entries",
  "Call legs indexed for in-dialog requests: live ones, and for 32 s after a call ended what is " +
    "kept to answer its late requests.",
);
const mSetups = metrics.counter("tandem_call_attempts_total", "Outgoing call attempts.");
const mSetupRate = metrics.gauge(
  "tandem_call_setups_per_second",
  "New calls per second, averaged since the previous scrape.",
);
const mRuleCalls = metrics.gauge(
  "tandem_rule_calls_active",
  "Calls in progress by the rule they matched.",
);
const mRouteCalls = metrics.gauge(
  "tandem_route_calls_active",
  "Attempts ringing and calls answered by route name (routes made up per call, from RADIUS or " +
    "a Replaces, are not counted).",
);
const mLimitRefusals = metrics.counter(
  "tandem_limit_refusals_total",
  "New calls refused by a rule's limits, and attempts that skipped a route at its limits, by " +
    "scope (rule, route), name and limit (calls, cps).",
);

/**
 * RFC 3326 Reason for a limit refusal, with RFC 3398's ISUP mapping: no circuit available (34)
 * for calls at once, switching equipment congestion (42) for calls per second; both map to 503.
 */
const LIMIT_REASON: Record<LimitRefusal, { phrase: string; reason: string }> = {
  calls: {
    phrase: "Call Limit Reached",
    reason: 'Q.850;cause=34;text="No circuit/channel available"',
  },
  cps: {
    phrase: "Call Rate Limit Reached",
    reason: 'Q.850;cause=42;text="Switching equipment congestion"',
  },
};

/** The B2BUA engine. Attach the transaction layer before traffic flows. */
export class B2bua implements TransactionUser {
  /** Live calls by call id. */
  readonly calls = new Map<string, Call>();
  /**
   * Leg lookup by dialog key (Call-ID + our tag) for in-dialog requests and stray responses,
   * while the call is up; {@link endedLegs} after.
   */
  private legs = new Map<string, LiveLeg>();
  /**
   * What is left of ended calls' legs (see {@link EndedLeg}), kept 32 s (64*T1) for late
   * messages, out of the live map: at thousands of calls a second that is over a hundred
   * thousand entries, which only wait (see util/generations.ts).
   */
  private endedLegs: EndedLegs;
  /** One address object per UDP peer for what ended legs keep (see shared-endpoints.ts). */
  private readonly peers = new SharedEndpoints();
  /** Live calls of browser callers by their WebSocket connection (see {@link flowClosed}). */
  private byFlow = new Map<string, Set<Call>>();
  private txl!: Transactions;
  private log: Logger;
  draining = false;
  /** INVITEs that became calls since start (for the setup-rate gauge). */
  private newCalls = 0;
  /** Numbers the DNS lookups of routes by name, so a call tells one name's servers apart. */
  private dnsGroups = 0;
  /** Per route name (configured: bounded): when "route-unresolved" may be logged again. */
  private unresolvedLog = new Map<string, { until: number; suppressed: number }>();
  private svc: B2buaServices;
  /** Call counters of rules and routes, and the configuration they were last taken from. */
  readonly limits = new LimitTable();
  private limitsOf: Config | undefined;
  /** Which probed route servers answer (routes with `probe`). */
  readonly health: RouteHealth;
  private routeOrder = new RouteOrder();
  /** NAT keep-alives to phones registered over UDP: the next tick, and which turn it is. */
  private natTimer: TimerHandle | undefined;
  private natTick = 0;
  /** ASR and PDD of the routes with `quality`, which order their calls' routes. */
  readonly quality = new RouteQuality((route, f) => {
    mRouteDegraded.set(f.degraded ? 1 : 0, { route });
    this.log[f.degraded ? "warn" : "info"](f.degraded ? "route-degraded" : "route-restored", {
      route,
      calls: f.calls,
      asr: Math.round(f.asr * 1000) / 1000,
      pddMs: f.pddMs === undefined ? undefined : Math.round(f.pddMs),
    });
  });
  /** Phones registered through Tandem at `registrar`, by the token that stands for each. */
  readonly registrations: Registrations;
  /** The rule calls to registered phones come under, per registrar configuration. */
  private registeredRules = new WeakMap<RouteConfig, RuleConfig>();
  /** Where each dialog's next hop by host name was located (see {@link namedHop}). */
  private hops = new WeakMap<Dialog, { key: string; dest?: Endpoint }>();
  /** Per route name, since start: attempts counted at call end, answered ones, their talk time. */
  readonly routeTotals = new Map<string, RouteTotals>();
  /** Accounts Tandem registers at carriers (`outbound_registrations`). */
  readonly outbound: OutboundRegistrations;
  /**
   * While SIP capture is on (see {@link correlateLegs}): the caller's Call-ID by each outgoing
   * leg's, from the leg's first INVITE until 32 s after its call ended.
   */
  private correlations: Map<string, string> | undefined;

  constructor(private opts: B2buaOptions) {
    this.endedLegs = new EndedLegs(opts.timers, () => opts.clock.now());
    this.log = opts.log ?? silentLogger;
    this.svc = opts.services ?? {};
    this.registrations = new Registrations(opts.random);
    this.health = new RouteHealth({
      config: opts.config,
      clock: opts.clock,
      timers: opts.timers,
      probe: (server, done) => this.sendProbe(server, done),
      locate: (t) =>
        this.svc.locate?.(t, opts.config().sip.dns) ??
          Promise.reject(new Error("no DNS resolver")),
      log: this.log,
    });
    this.outbound = new OutboundRegistrations({
      config: opts.config,
      clock: opts.clock,
      timers: opts.timers,
      random: opts.random,
      log: this.log,
      net: {
        servers: (route) => this.routeServers(route),
        localFor: (dest) => this.opts.net.localFor(dest),
        newBranch: () => this.txl.newBranch(),
        newCallId: () => this.newCallId("@tandem"),
        send: (req, dest, handler) => void this.txl.sendRequest(req, dest, handler),
        sendRaw: opts.net.sendRaw && ((data, dest) => opts.net.sendRaw!(data, dest)),
        digest: () => this.svc.digest,
      },
    });
    let lastCount = 0;
    let lastAt = opts.clock.now();
    metrics.onCollect(() => {
      mActive.set(this.calls.size);
      mLegIndex.set(this.legs.size + this.endedLegs.size);
      const now = this.opts.clock.now();
      if (now > lastAt) mSetupRate.set(((this.newCalls - lastCount) * 1000) / (now - lastAt));
      lastCount = this.newCalls;
      lastAt = now;
      exportLimits(this.limits);
      mRegistered.set(
        this.registrations.size ? this.registrations.list(this.opts.clock.now()).length : 0,
      );
      mServerUp.values.clear();
      for (const sv of this.health.list()) {
        const target = endpointText(sv.dest);
        mServerUp.set(sv.state === "up" ? 1 : 0, { route: sv.route, target });
      }
      // The tables in force: a reload that dropped a deck's lines shows here at once.
      mTablePrefixes.values.clear();
      for (const t of this.opts.config().routeTables ?? []) {
        mTablePrefixes.set(t.prefixes.size, { table: t.name });
      }
    });
  }

  /** The counters, reconfigured when the configuration changed (a reload) since the last call. */
  private limitTable(cfg: Config): LimitTable {
    if (cfg !== this.limitsOf) {
      this.limits.configure(cfg.rules, cfg.routes);
      this.limitsOf = cfg;
    }
    return this.limits;
  }

  /** Start probing the route servers the configuration asks to (after {@link attach}). */
  startProbes(): void {
    this.health.start();
    this.natTimer ??= this.opts.timers.set(1000, () => this.natKeepalive());
  }

  stopProbes(): void {
    this.health.stop();
    this.natTimer?.cancel();
    this.natTimer = undefined;
  }

  /**
   * Once a second, a double CRLF to the phones registered over UDP whose turn it is: each flow
   * once per `registrar.nat_keepalive`, spread over the interval by a hash of its address, so
   * that a NAT in front of a phone keeps the mapping calls to it come in by (RFC 5626 §3.5.1's
   * keep-alive, which SIP ignores). 100,000 phones at 25 s are 4,000 small datagrams a second.
   */
  private natKeepalive(): void {
    this.natTimer = this.opts.timers.set(1000, () => this.natKeepalive());
    const every = this.opts.config().registrar?.natKeepalive;
    const send = this.opts.net.sendRaw;
    if (!every || !send || this.registrations.size === 0) return;
    const slots = Math.max(1, Math.round(every / 1000));
    const slot = this.natTick++ % slots;
    for (const { key, flow } of this.registrations.udpFlows(this.opts.clock.now())) {
      // FNV-1a, as for Call-IDs: any stable spread will do.
      if (callIdHash(key) % slots !== slot) continue;
      send(CRLF_CRLF, flow);
      mNatKeepalives.inc();
    }
  }

  /**
   * One OPTIONS to a probed server. Any final answer but 408 and 503 is alive: a server that
   * answers 404 or 405 to OPTIONS still takes calls. No answer within the probe's timeout is a
   * failure, though the transaction runs on to its Timer F.
   */
  private sendProbe(server: ProbedServer, done: (ok: boolean, what: string) => void): void {
    const dest = server.dest;
    let local: Endpoint;
    try {
      local = this.opts.net.localFor(dest);
    } catch (err) {
      return done(false, (err as Error).message);
    }
    const timer = this.opts.timers.set(server.settings.timeout, () => done(false, "timeout"));
    const finish = (ok: boolean, what: string) => {
      timer.cancel();
      done(ok, what);
    };
    const host = uriHost(local.host);
    const req = new SipRequest(
      "OPTIONS",
      server.ruri,
      headerList([
        ["Via", viaFor(local, this.txl.newBranch())],
        ["Max-Forwards", "70"],
        ["From", `<sip:tandem@${host}>;tag=${this.tag()}`],
        ["To", `<${server.ruri}>`],
        ["Call-ID", this.newCallId(`@${host}`)],
        ["CSeq", "1 OPTIONS"],
        ["Contact", contactFor(local)],
        ["Accept", "application/sdp"],
      ]),
    );
    this.txl.sendRequest(req, dest, {
      onResponse: (res) => {
        if (res.status >= 200) finish(res.status !== 408 && res.status !== 503, String(res.status));
      },
      onTimeout: () => finish(false, "timeout"),
      onTransportError: (_tx, err) => finish(false, err.message),
    });
  }

  /** Connect the transaction layer (it is created with this engine as its user). */
  attach(txl: Transactions): void {
    this.txl = txl;
  }

  /** Plug services in after construction (AAA, CDR). */
  setServices(s: B2buaServices): void {
    this.svc = { ...this.svc, ...s };
  }

  // ---------------------------------------------------------------- inbound requests

  onRequest(req: SipRequest, tx: ServerTransaction | undefined, source: Endpoint): void {
    try {
      if (!tx) return this.onAck(req);
      // §8.2.2.1: a Request-URI scheme we do not understand gets 416, whatever the method.
      if (!isSupportedScheme(req.ruri)) {
        return tx.respond(createResponse(req, 416, undefined, this.tag()));
      }
      if (req.to.tag !== undefined) return this.inDialog(req, tx, source);
      switch (req.method) {
        case "INVITE":
          return this.newCall(req, tx, source);
        case "OPTIONS":
          return this.answerOptions(req, tx);
        case "BYE":
        case "UPDATE":
        case "INFO":
        case "PRACK":
        case "NOTIFY":
          return tx.respond(createResponse(req, 481, undefined, this.tag()));
        case "REGISTER":
          if (this.opts.config().registrar) return this.relayRegister(req, tx, source);
          // falls through: not a registrar, nor relaying to one
        case "SUBSCRIBE":
        case "PUBLISH":
        case "MESSAGE":
        case "REFER": {
          const r = createResponse(req, 405, undefined, this.tag());
          r.add("Allow", ALLOW);
          return tx.respond(r);
        }
        default: {
          const r = createResponse(req, 501, undefined, this.tag());
          r.add("Allow", ALLOW);
          return tx.respond(r);
        }
      }
    } catch (err) {
      this.log.warn("request-failed", { method: req.method, callId: req.callId, err });
      try {
        tx?.respond(createResponse(req, 500, "Server Internal Error", this.tag()));
      } catch { /* nothing more to do */ }
    }
  }

  onStrayResponse(res: SipResponse, _source: Endpoint): void {
    // RFC 6026 §7.2: once our ACK for a 2xx is handed to the INVITE transaction, it re-ACKs
    // retransmissions of that 2xx itself; what arrives here is a 2xx of another fork (or one
    // after Timer M). A second dialog on an answered attempt is completed and ended at once.
    if (res.status < 200 || res.status >= 300 || res.cseq.method !== "INVITE") return;
    const tag = res.from.tag;
    if (!tag) return;
    const leg = this.leg(dialogKey(res.callId, tag));
    if (!leg || !res.to.tag) return;
    if ("ended" in leg) {
      if (leg.answered === undefined || leg.dest === undefined) return;
      if (res.to.tag === leg.remoteTag) return;
      const invite = requestOfIdentity("INVITE", leg.answered);
      return this.ackAndBye({ invite, dest: leg.dest }, res, "Call already answered");
    }
    const at = leg.attempt;
    if (!at || at.state !== "Answered" || res.to.tag === at.dialog?.remoteTag) return;
    this.ackAndBye(at, res, "Call already answered");
  }

  private answerOptions(req: SipRequest, tx: ServerTransaction): void {
    const r = createResponse(req, 200, undefined, this.tag());
    r.add("Allow", ALLOW);
    r.add("Accept", "application/sdp");
    r.add("Supported", [...CALL_TAGS].join(", "));
    tx.respond(r);
  }

  // ---------------------------------------------------------------- new calls

  private newCall(req: SipRequest, tx: ServerTransaction, source: Endpoint): void {
    const cfg = this.opts.config();
    const mf = req.maxForwards ?? 70;
    if (mf <= 1) return tx.respond(createResponse(req, 483, undefined, this.tag()));
    if (!isSupportedScheme(req.ruri)) {
      return tx.respond(createResponse(req, 416, undefined, this.tag()));
    }
    const require = optionTags(req, "require");
    const unsupported = unknownTags(require, CALL_TAGS);
    if (unsupported.length > 0) {
      mCalls.inc({ outcome: "bad-extension" });
      return tx.respond(badExtension(req, unsupported, this.tag()));
    }
    if (this.draining || this.calls.size >= cfg.limits.maxCalls || this.opts.overloaded?.()) {
      // Refusing a new call costs one response; accepting it past capacity would turn into
      // retransmissions on every call already up. Emergency calls (a `priority` rule) are the
      // exception: a few more calls cost less than one of them refused.
      const priority = !this.draining && hasPriorityRule(cfg) &&
        matchRule(cfg.rules, {
            ruriUser: decodeUser(req.ruri.user ?? ""),
            fromUser: decodeUser(req.from.uri.user ?? ""),
            sourceIp: source.host,
            headers: req,
            now: this.opts.clock.wallNow(),
          })?.priority === true;
      if (!priority) {
        const r = createResponse(req, 503, this.draining ? "Draining" : "Overloaded", this.tag());
        r.add("Retry-After", String(cfg.limits.retryAfter));
        mCalls.inc({ outcome: "shed" });
        return tx.respond(r);
      }
      mPriorityAdmitted.inc();
      this.log.info("priority-call-admitted", { callId: req.callId, ruri: req.uri });
    }
    const rh = req.get("replaces");
    const replacing = rh === undefined ? undefined : this.replacing(rh);
    if (typeof replacing === "number") {
      mCalls.inc({ outcome: "replaces-refused" });
      return tx.respond(createResponse(req, replacing, undefined, this.tag()));
    }
    const ruriUser = req.ruri.user ?? "";
    // A call the registrar sends to a phone registered through Tandem: to its connection.
    const bound = cfg.registrar && this.registrations.size > 0 && !replacing
      ? this.registrations.lookup(ruriUser, this.opts.clock.now())
      : undefined;
    // A replacing call goes where the replaced call's other leg goes, under that call's rule
    // (its auth, timers and media apply), whatever the Request-URI says.
    const rule = replacing?.rule ?? (bound ? this.registeredRule(cfg.registrar!) : undefined) ??
      matchRule(cfg.rules, {
        ruriUser: decodeUser(ruriUser),
        fromUser: decodeUser(req.from.uri.user ?? ""),
        sourceIp: source.host,
        headers: req,
        now: this.opts.clock.wallNow(),
      });
    if (!rule && cfg.registrar && this.registrations.wasGone(ruriUser, this.opts.clock.now())) {
      // The registrar still has a phone whose connection closed: away, not unknown.
      mCalls.inc({ outcome: "no-route" });
      const r = createResponse(req, 480, undefined, this.tag());
      return this.refuse(req, tx, source, r, "registered");
    }
    if (rule?.reject) {
      // A block-list rule: answered at once, before limits and authentication.
      mCalls.inc({ outcome: "rejected" });
      const { status, reason } = rule.reject;
      const r = createResponse(req, status, reason, this.tag());
      return this.refuse(req, tx, source, r, rule.name, "rejected");
    }
    // Least-cost routing: the routes of the longest prefix the rule's table has for the number.
    const tabled = rule?.routeTable && !replacing
      ? this.tableRoutesFor(rule.routeTable, decodeUser(ruriUser), cfg)
      : undefined;
    if (!rule || (rule.routes.length === 0 && !tabled)) {
      mCalls.inc({ outcome: "no-route" });
      return this.refuse(
        req,
        tx,
        source,
        createResponse(req, 404, "No Route", this.tag()),
        rule?.name ?? "",
      );
    }
    // A call replacing another (RFC 3891) takes that call's place: counted, never refused.
    const usage = this.limitTable(cfg).rule(rule.name);
    const slot = usage?.take(this.opts.clock, replacing !== undefined);
    if (typeof slot === "string") {
      mCalls.inc({ outcome: "limit" });
      this.log.debug("call-limit", { callId: req.callId, rule: rule.name, limit: slot });
      return this.refuse(req, tx, source, limitResponse(req, slot, this.tag()), rule.name);
    }
    const now = this.opts.clock.wallNow();
    const localTag = this.tag();
    const aLocal = this.opts.net.localFor(source);
    // Kept in the CDR for the call's whole life: copies that hold no slice of the datagram.
    const [callerCallId, callerFrom, callerTo, callerRuri, sourceText] = detachAll([
      req.callId,
      req.get("from") ?? "",
      req.get("to") ?? "",
      req.uri,
      endpointText(source),
    ]);
    const call: Call = {
      id: token(this.opts.random, 16),
      state: "Routing",
      rule,
      routes: replacing ? [replacing.route] : this.quality.order(
        tabled ?? this.routeOrder.next(rule, this.opts.random),
        this.opts.clock.now(),
      ),
      a: {
        invite: req,
        stx: tx,
        source,
        localTag,
        // §12.1.1: a dialog set up by a sips: request gets a sips: Contact.
        contact: contactFor(aLocal, req.ruri.scheme === "sips" && isSecure(aLocal.protocol)),
        dest: source,
        reliable: require.includes("100rel") || optionTags(req, "supported").includes("100rel"),
      },
      attempts: [],
      timers: {},
      record: {
        id: "",
        callerCallId,
        callerFrom,
        callerTo,
        callerRuri,
        source: sourceText,
        rule: rule.name,
        inviteAt: now,
        attempts: [],
      },
    };
    call.record.id = call.id;
    const recorded = recordedHeaders(req, this.opts.config().cdr?.sipHeaders, true);
    if (recorded) call.record.headers = recorded;
    if (bound) call.target = { uri: parseUri(bound.contact, "Contact"), dest: bound.flow };
    if (slot) call.slot = slot;
    if (replacing) call.replacing = replacing.aim;
    this.calls.set(call.id, call);
    if (isWebSocket(source.protocol)) {
      const key = endpointKey(source);
      const set = this.byFlow.get(key) ?? new Set<Call>();
      this.byFlow.set(key, set.add(call));
    }
    this.newCalls++;
    this.legs.set(dialogKey(req.callId, localTag), { call, side: "a" });
    tx.onCancel = (cancel) => this.onCallerCancel(call, cancel);
    tx.onNoAck = () => this.onCallerNoAck(call);
    tx.onTransportError = () => this.hangup(call, "tandem", "caller-unreachable");
    this.log.debug("call-new", { call: call.id, callId: req.callId, rule: rule.name });
    if (replacing) {
      // A transfer is worth a line: it ties two calls (and their CDRs) together.
      this.log.info("call-replaces", { call: call.id, replaces: replacing.aim.replaced });
    }
    // Without a stir_shaken section a call reads one field here, as before the feature.
    const verify = this.svc.identity && cfg.stirShaken ? ruleIdentity(rule, cfg).verify : "off";
    if (verify !== "off") {
      this.svc.identity!.verify(req, cfg).then(
        (v) => this.afterVerify(call, v, verify),
        (err) => {
          // A fault of ours is no verdict on the caller: the call goes on unchecked.
          this.log.warn("identity-verify-failed", { call: call.id, err });
          this.afterVerify(call, { verstat: "No-TN-Validation" }, "mark");
        },
      );
      return;
    }
    this.authorizeThenRoute(call);
  }

  /**
   * RFC 8224 §6.2.2: a rule that rejects answers a failed check with the status the failure
   * calls for (438, 437, 436, 403); otherwise the verdict travels to the callee (3GPP verstat)
   * and into the CDR.
   */
  private afterVerify(
    call: Call,
    v: IdentityVerdict,
    mode: "mark" | "reject" | "require",
  ): void {
    if (call.state !== "Routing") return; // cancelled meanwhile
    call.record.identity = {
      verstat: v.verstat,
      ...(v.attest ? { attest: v.attest } : {}),
      ...(v.origid ? { origid: v.origid } : {}),
      ...(v.status ? { status: v.status } : {}),
    };
    if (v.verstat === "TN-Validation-Failed") {
      this.log.info("identity-failed", { call: call.id, detail: v.detail });
      if (mode !== "mark") {
        const r = createResponse(call.a.invite, v.status ?? 438, v.reason, call.a.localTag);
        return this.failCall(call, r, "identity");
      }
    } else if (mode === "require" && !call.a.invite.has("identity")) {
      // RFC 8224 §6.2.2: a verifier that wants one answers its absence 428.
      call.record.identity.status = 428;
      const r = createResponse(call.a.invite, 428, "Use Identity Header", call.a.localTag);
      return this.failCall(call, r, "identity");
    }
    call.verstat = v.verstat;
    this.authorizeThenRoute(call);
  }

  private authorizeThenRoute(call: Call): void {
    if (call.rule.auth.mode !== "none" && this.svc.authorize) {
      this.svc.authorize(call, call.a.invite, call.a.source, this.opts.config()).then(
        (auth) => this.afterAuthorize(call, auth),
        (err) => {
          this.log.warn("authorize-failed", { call: call.id, err });
          this.afterAuthorize(call, { outcome: "timeout" });
        },
      );
      return;
    }
    this.startAttempt(call, 0);
  }

  /**
   * The routes a route table gives `number`, cheapest first; undefined when no prefix of it is
   * in the table (the rule's own routes then apply).
   */
  private tableRoutesFor(name: string, number: string, cfg: Config): RouteConfig[] | undefined {
    const table = cfg.routeTables?.find((t) => t.name === name);
    const hit = table && tableRoutes(table, number);
    mTableLookups.inc({ table: name, result: hit ? "matched" : "unmatched" });
    if (!hit) return undefined;
    const named = routesByName(cfg);
    const routes: RouteConfig[] = [];
    for (const n of hit.routes) {
      const r = named.get(n);
      if (r) routes.push(r);
    }
    return routes.length ? routes : undefined;
  }

  /**
   * RFC 3891 §3 at a B2BUA: the call an INVITE's Replaces names, through one of its legs, and
   * where the replacing call must go instead; or the status refusing it: 400 malformed, 481 no
   * such dialog (or one not yet answered: an early dialog is not picked up through Tandem), 486
   * early-only on an answered call, 603 a call already ended.
   */
  private replacing(
    value: string,
  ): { rule: Call["rule"]; route: RouteConfig; aim: Replacing } | number {
    const t = parseReplaces(value);
    if (!t) return 400;
    const leg = this.leg(dialogKey(t.callId, t.toTag));
    if (!leg) return 481;
    if ("ended" in leg) return 603;
    const { call, side } = leg;
    if (call.state === "Ended") return 603;
    const own = side === "a" ? call.a.dialog : leg.attempt?.dialog;
    if (!own || own.remoteTag !== t.fromTag) return 481;
    if (side === "b" && leg.attempt !== call.b) return 481;
    if (call.state !== "Confirmed" || !call.b) return 481;
    if (t.earlyOnly) return 486;
    const other = this.dialogOf(call, side === "a" ? "b" : "a");
    if (!other) return 481;
    const { dialog, dest } = other;
    const route: RouteConfig = {
      ...call.b.route,
      name: `replaces-${call.b.route.name}`,
      host: dest.host,
      port: dest.port,
      transport: dest.protocol,
    };
    if (dest.serverName) route.tlsServerName = dest.serverName;
    else delete route.tlsServerName;
    if (dest.wsPath) route.wsPath = dest.wsPath;
    else delete route.wsPath;
    return {
      rule: call.rule,
      route,
      aim: {
        target: dialog.remoteTarget,
        dest,
        routeSet: dialog.routeSet.map((r) => r.toString()),
        header: replacesFor(dialog.callId, dialog.remoteTag, dialog.localTag),
        replaced: call.id,
      },
    };
  }

  private afterAuthorize(call: Call, auth: Authorization): void {
    if (call.state !== "Routing") return; // cancelled meanwhile
    const req = call.a.invite;
    switch (auth.outcome) {
      case "challenge": {
        const r = createResponse(req, 407, undefined, call.a.localTag);
        if (auth.challenge) r.add("Proxy-Authenticate", auth.challenge);
        return this.failCall(call, r, "auth-challenge");
      }
      case "reject":
        return this.failCall(
          call,
          createResponse(req, auth.status ?? 403, auth.reason, call.a.localTag),
          "auth-reject",
        );
      case "timeout":
        if (call.rule.auth.onTimeout !== "allow") {
          const r = createResponse(req, 503, "AAA Unavailable", call.a.localTag);
          r.add("Retry-After", String(this.opts.config().limits.retryAfter));
          return this.failCall(call, r, "auth-timeout");
        }
        break;
      case "accept": {
        if (auth.user !== undefined) call.record.user = auth.user;
        // Anti-spoofing: a customer presents only the numbers it was given (`users[].numbers`).
        const orig = call.rule.auth.callingNumber === "enforce"
          ? assertedUser(req) ?? req.from.uri.user ?? ""
          : undefined;
        if (orig !== undefined && !ownsNumber(this.opts.config(), call.record.user, orig)) {
          this.log.info("calling-number-refused", { call: call.id, user: call.record.user, orig });
          const r = createResponse(req, 403, "Calling Number Not Allowed", call.a.localTag);
          r.add("Reason", 'Q.850;cause=21;text="Call rejected"');
          return this.failCall(call, r, "calling-number");
        }
        if (auth.creditTimeMs !== undefined) call.creditMs = auth.creditTimeMs;
        if (auth.routes?.length) {
          const base = call.routes[0];
          // h323-ivr-in Routing: entries name a configured route, or give host[:port].
          const named = routesByName(this.opts.config());
          call.routes = auth.routes.map((t, i) =>
            named.get(t) ?? routeFromTarget(t, base, `radius-${i + 1}`)
          );
        }
        if (auth.callerId !== undefined || auth.display !== undefined) {
          call.routes = call.routes.map((r) => ({
            ...r,
            callerId: {
              ...r.callerId,
              ...(auth.callerId !== undefined ? { user: auth.callerId } : {}),
              ...(auth.display !== undefined ? { display: auth.display } : {}),
            },
          }));
        }
        break;
      }
    }
    this.startAttempt(call, 0);
  }

  /**
   * Answer an INVITE refused before it became a call, and hand its record to the CDRs: a
   * refused call is still a call attempt an operator may be asked about.
   */
  private refuse(
    req: SipRequest,
    tx: ServerTransaction,
    source: Endpoint,
    res: SipResponse,
    rule: string,
    endReason = res.status === 503 ? "limit" : "no-route",
  ): void {
    tx.respond(res);
    const hook = this.svc.onCallRefused;
    if (!hook) return;
    const now = this.opts.clock.wallNow();
    try {
      // Handed over and written at once: no copies needed to let go of the datagram.
      hook({
        id: token(this.opts.random, 16),
        callerCallId: req.callId,
        callerFrom: req.get("from") ?? "",
        callerTo: req.get("to") ?? "",
        callerRuri: req.uri,
        source: endpointText(source),
        rule,
        inviteAt: now,
        endAt: now,
        finalStatus: res.status,
        endedBy: "tandem",
        endReason,
        reasonHeader: res.get("reason"),
        headers: recordedHeaders(req, this.opts.config().cdr?.sipHeaders, false),
        attempts: [],
      });
    } catch (err) {
      this.log.error("cdr-hook-failed", { callId: req.callId, err });
    }
  }

  /** A route's quality figures now (routes with `quality`), for GET /routes. */
  qualityOf(name: string): QualityFigures {
    return this.quality.figures(name, this.opts.clock.now()) ??
      { calls: 0, asr: 0, degraded: false };
  }

  /**
   * Counts a settled attempt in its route's ASR and PDD (routes with `quality`): once, when it
   * is answered or has failed. A relay failure (`media`) is ours, not the route's.
   */
  private settleQuality(at: Attempt): void {
    const r = at.record;
    if (!at.route.quality || at.qualityCounted || r.outcome === "media") return;
    at.qualityCounted = true;
    // The delay to its first sign of life; one that never came counts as the time waited.
    const first = r.firstProvisionalAt ?? r.answerAt ??
      (r.outcome === "no-progress" ? r.endAt : undefined);
    this.quality.record(at.route, this.opts.clock.now(), {
      answered: r.outcome === "answered",
      ...(first !== undefined ? { pddMs: Math.max(0, first - r.inviteAt) } : {}),
    });
  }

  /** An attempt that sent no INVITE (no Call-ID), in the CDR so that it shows what was skipped. */
  private recordSkipped(
    call: Call,
    index: number,
    ruri: string,
    target: string,
    outcome: "limit" | "unreachable" | "down" | "held",
  ): void {
    const now = this.opts.clock.wallNow();
    const [ruriText, targetText] = detachAll([ruri, target]);
    call.record.attempts.push({
      index,
      route: call.routes[index].name,
      callId: "",
      ruri: ruriText,
      from: "",
      to: "",
      target: targetText,
      inviteAt: now,
      endAt: now,
      outcome,
    });
  }

  /**
   * A route by host name: ask DNS for its servers (RFC 3263), put them in the route's place,
   * one entry each, and try the first. A name with no usable server is skipped as unreachable.
   */
  private locateRoute(call: Call, index: number): void {
    const route = call.routes[index];
    const done = (found: Endpoint[], err?: unknown) => {
      if (call.state === "Ended") return; // cancelled while DNS answered
      // Servers we have no socket for (an AAAA without IPv6, TLS without certificates) are left
      // out here rather than tried and skipped one by one.
      const usable = found.filter((e) => this.canReach(e));
      mLocate.inc({ outcome: usable.length ? "resolved" : "unresolved" });
      if (usable.length === 0) {
        // Once per route every 10 s: a DNS outage must not become a warning per call.
        const quiet = this.unresolvedLog.get(route.name);
        const nowMs = this.opts.clock.now();
        if (quiet && nowMs < quiet.until) quiet.suppressed++;
        else {
          this.unresolvedLog.set(route.name, { until: nowMs + 10_000, suppressed: 0 });
          this.log.warn("route-unresolved", {
            call: call.id,
            route: route.name,
            host: route.host,
            err: err ?? (found.length ? "no server over a transport we have" : "no DNS records"),
            ...(quiet?.suppressed ? { alsoUnresolved: quiet.suppressed } : {}),
          });
        }
        this.recordSkipped(call, index, "", `dns:${route.host}`, "unreachable");
        if (index + 1 < call.routes.length) return this.startAttempt(call, index + 1);
        return this.failCall(
          call,
          createResponse(call.a.invite, 503, undefined, call.a.localTag),
          "unreachable",
        );
      }
      const dnsGroup = ++this.dnsGroups;
      const servers: CallRoute[] = usable.map((e) => ({
        ...route,
        transport: e.protocol,
        resolved: e,
        dnsGroup,
      }));
      call.routes = [...call.routes.slice(0, index), ...servers, ...call.routes.slice(index + 1)];
      this.startAttempt(call, index);
    };
    const locate = this.svc.locate;
    if (!locate) return done([], "no DNS resolver");
    const target = { host: route.host, port: route.port, transport: route.transport };
    locate({ ...target, mode: route.dns! }, this.opts.config().sip.dns)
      .then((eps) => done(eps), (err) => done([], err))
      .catch((err) => this.log.error("route-locate-failed", { call: call.id, err }));
  }

  /**
   * An ENUM route (RFC 6116): the called number (after the route's user rewrite) looked up under
   * the route's apex; the URIs found take the route's place, one entry each, tried in their
   * order like a route's servers. A number with no URI skips the route (404 when it was the
   * last), a failed lookup too (503).
   */
  private enumRoute(call: Call, index: number): void {
    const route = call.routes[index];
    const user = decodeUser(userForUri(call.a.invite.ruri.user ?? "", route.ruriUser));
    const number = enumNumber(user);
    const done = (uris: string[], err?: unknown) => {
      if (call.state === "Ended") return; // cancelled while DNS answered
      const targets: Uri[] = [];
      for (const u of uris) {
        try {
          targets.push(parseUri(u, "ENUM URI"));
        } catch {
          // A record whose URI does not parse is one target less.
        }
      }
      mEnum.inc({ outcome: err ? "failed" : targets.length ? "found" : "none" });
      if (targets.length === 0) {
        this.log.debug("enum-none", { call: call.id, number: number ?? user, err });
        this.recordSkipped(call, index, "", `enum:${number ?? user}`, "unreachable");
        return this.nextOrFail(call, index, err ? 503 : 404, "unreachable");
      }
      const servers: CallRoute[] = targets.map((enumTarget) => ({ ...route, enumTarget }));
      call.routes = [...call.routes.slice(0, index), ...servers, ...call.routes.slice(index + 1)];
      this.startAttempt(call, index);
    };
    const lookup = this.svc.enumLookup;
    if (!number || !lookup) return done([], number ? "no DNS resolver" : undefined);
    lookup(number, route.enum!, this.opts.config().sip.dns)
      .then((uris) => done(uris), (err) => done([], err))
      .catch((err) => this.log.error("enum-route-failed", { call: call.id, err }));
  }

  /**
   * RFC 5806: a followed redirect is a diversion of the number the attempt called. The 3xx's
   * own Diversion headers say it best (the reason, who diverted); without them Tandem writes
   * one, naming the number at its own address (the first carrier's host stays hidden).
   */
  private noteDiversion(call: Call, at: Attempt, res: SipResponse): void {
    let values = res.getAll("diversion");
    if (values.length === 0) {
      const user = at.invite.ruri.user;
      if (!user) return;
      const host = at.route.fromDomain
        ? uriHost(at.route.fromDomain)
        : uriHost(this.opts.net.localFor(at.dest).host);
      const counter = (call.diversions?.length ?? 0) + 1;
      values = [`<${new UriClass("sip", user, host)}>;reason=unknown;counter=${counter}`];
    }
    call.diversions = [...values, ...(call.diversions ?? [])].slice(0, 10);
  }

  /** The next route after a skipped one, or the call refused with `status` when none is left. */
  private nextOrFail(call: Call, index: number, status: number, why: string): void {
    if (index + 1 < call.routes.length) return this.startAttempt(call, index + 1);
    return this.failCall(
      call,
      createResponse(call.a.invite, status, undefined, call.a.localTag),
      why,
    );
  }

  /**
   * A 3xx Contact by host name (RFC 3263, as for a route): the call follows it to the first
   * server DNS gives that Tandem can reach. When DNS gives none, the INVITE goes to the route's
   * own address, as before DNS, for that server to route the name.
   */
  private locateRedirect(call: Call, index: number, target: Uri): void {
    const host = bareHost(target.host);
    const transport = uriProtocol(target, "udp");
    const mode = target.port !== undefined || isWebSocket(transport)
      ? "a"
      : target.params.has("transport") || target.scheme === "sips"
      ? "srv"
      : "naptr";
    const done = (found: Endpoint[], err?: unknown) => {
      if (call.state === "Ended") return;
      const dest = found.find((e) => this.canReach(e));
      if (!dest) {
        this.log.debug("redirect-unresolved", { call: call.id, host, err: err ?? "no server" });
        // An ENUM URI whose host has no server is a target skipped, not a route's own server.
        if (call.routes[index].enumTarget) {
          this.recordSkipped(call, index, target.toString(), `dns:${host}`, "unreachable");
          return this.nextOrFail(call, index, 503, "unreachable");
        }
      }
      this.startAttempt(call, index, target, dest ?? routeEndpoint(call.routes[index]));
    };
    const port = target.port ?? defaultPort(transport);
    this.svc.locate!({ host, port, transport, mode }, this.opts.config().sip.dns)
      .then((eps) => done(eps), (err) => done([], err))
      .catch((err) => this.log.error("redirect-locate-failed", { call: call.id, err }));
  }

  /** The rule of calls to registered phones: the registrar's options, no limits of its own. */
  private registeredRule(reg: RouteConfig): RuleConfig {
    let rule = this.registeredRules.get(reg);
    if (!rule) {
      rule = {
        name: "registered",
        match: {},
        routes: [{ ...reg, name: "registered" }],
        auth: { mode: "none", realm: "tandem", onTimeout: "reject" },
        order: "listed",
      };
      this.registeredRules.set(reg, rule);
    }
    return rule;
  }

  /**
   * Relay a REGISTER to the registrar with each Contact replaced by one of Tandem's own (a token
   * standing for the phone's Contact and connection), and the registrar's answer back with the
   * phone's own Contacts, as far as the registrar kept them. Challenges pass both ways untouched:
   * the digest covers neither Contact nor Via.
   */
  private relayRegister(req: SipRequest, tx: ServerTransaction, source: Endpoint): void {
    const reg = this.opts.config().registrar!;
    if (!reg.dns || isIpLiteral(bareHost(reg.host))) {
      return this.sendRegister(req, tx, source, routeEndpoint(reg));
    }
    const fail = () => tx.respond(createResponse(req, 503, undefined, this.tag()));
    this.routeServers(reg).then((found) => {
      if (found.length) this.sendRegister(req, tx, source, found[0]);
      else fail();
    }, fail).catch((err) => this.log.error("register-relay-failed", { err }));
  }

  /**
   * The servers of a route used for other than calls (a registrar), in the order to try them:
   * its address, or what DNS locates for its name (RFC 3263) that some listener can reach.
   */
  private async routeServers(route: RouteConfig): Promise<Endpoint[]> {
    if (!route.dns || isIpLiteral(bareHost(route.host))) return [routeEndpoint(route)];
    if (!this.svc.locate) throw new Error("no DNS resolver");
    const target = {
      host: route.host,
      port: route.port,
      transport: route.transport,
      mode: route.dns,
    };
    const found = await this.svc.locate(target, this.opts.config().sip.dns);
    return found.filter((e) => this.canReach(e)).map((e) =>
      routeEndpoint({ ...route, resolved: e })
    );
  }

  private sendRegister(
    req: SipRequest,
    tx: ServerTransaction,
    source: Endpoint,
    dest: Endpoint,
  ): void {
    const local = this.localFor(dest, "b");
    if (!local) return tx.respond(createResponse(req, 503, undefined, this.tag()));
    const mf = (req.maxForwards ?? 70) - 1;
    if (mf < 0) return tx.respond(createResponse(req, 483, undefined, this.tag()));
    const now = this.opts.clock.now();
    const aor = req.to.uri.toString();
    const mine = `@${uriHost(local.host)}:${local.port}${transportParam(local.protocol)}`;
    const bound: Binding[] = [];
    const contacts: string[] = [];
    if (req.get("contact")?.trim() === "*") contacts.push("*");
    for (const c of req.contacts) {
      const b = this.registrations.bind(source, detach(c.uri.toString()), aor, now);
      if (!b) return tx.respond(createResponse(req, 503, "Too Many Registrations", this.tag()));
      bound.push(b);
      const exp = c.params.get("expires");
      contacts.push(`<sip:${b.token}${mine}>${typeof exp === "string" ? `;expires=${exp}` : ""}`);
    }
    const pairs: [string, string][] = [
      ["Via", viaFor(local, this.txl.newBranch())],
      ["Max-Forwards", String(mf)],
      ["From", req.get("from")!],
      ["To", req.get("to")!],
      ["Call-ID", req.callId],
      ["CSeq", req.get("cseq")!],
    ];
    for (const c of contacts) pairs.push(["Contact", c]);
    for (const h of REGISTER_PASS) for (const v of req.getAll(h)) pairs.push([h, v]);
    const out = new SipRequest("REGISTER", req.uri, headerList(pairs));
    this.txl.sendRequest(out, dest, {
      onResponse: (res) => {
        if (res.status < 200) return;
        const r = createResponse(req, res.status, res.reason, res.to.tag ?? this.tag());
        for (const h of REGISTER_ANSWER) for (const v of res.getAll(h)) r.add(h, v);
        if (res.status < 300) this.granted(res, bound, r);
        tx.respond(r);
      },
      onTimeout: () => tx.respond(createResponse(req, 408, undefined, this.tag())),
      onTransportError: () => tx.respond(createResponse(req, 503, undefined, this.tag())),
    });
  }

  /**
   * A registrar's 2xx: the phone's bindings it lists are granted for their expires, and given
   * back to the phone as its own Contacts; the ones it does not list are gone. Other devices'
   * bindings of the same address of record are not the phone's business and stay out.
   */
  private granted(res: SipResponse, bound: Binding[], r: SipResponse): void {
    const now = this.opts.clock.now();
    const dflt = parseInt(res.get("expires") ?? "3600", 10);
    const kept = new Set<Binding>();
    for (const c of res.contacts) {
      const b = this.registrations.get(c.uri.user ?? "");
      if (!b || !bound.includes(b)) continue;
      const e = c.params.get("expires");
      const exp = typeof e === "string" ? parseInt(e, 10) : dflt;
      if (!(exp > 0)) continue;
      this.registrations.grant(b, exp, now);
      kept.add(b);
      r.add("Contact", `<${b.contact}>;expires=${exp}`);
    }
    for (const b of bound) if (!kept.has(b)) this.registrations.remove(b);
  }

  /** Whether some listener can send to `dest` (quietly: the caller decides what to log). */
  private canReach(dest: Endpoint): boolean {
    try {
      this.opts.net.localFor(dest);
      return true;
    } catch {
      return false;
    }
  }

  /** Answer the caller with a final failure before any attempt and forget the call. */
  private failCall(call: Call, res: SipResponse, why: string): void {
    call.a.stx.respond(res);
    call.record.finalStatus = res.status;
    this.finish(call, "tandem", why);
  }

  // ---------------------------------------------------------------- attempts

  /** A fresh Call-ID for an outgoing leg; one this worker owns when there are several. */
  private newCallId(suffix: string): string {
    const owns = this.opts.ownsCallId;
    let id = token(this.opts.random, 20, suffix);
    // Each try lands on this worker with odds 1/workers: a few tries at most.
    while (owns && !owns(id)) id = token(this.opts.random, 20, suffix);
    return id;
  }

  private startAttempt(call: Call, index: number, redirect?: Uri, resolved?: Endpoint): void {
    const route = call.routes[index];
    const a = call.a.invite;
    const aim = call.replacing;
    if (route.enum && !redirect && !aim) {
      if (!route.enumTarget) return this.enumRoute(call, index);
      // An ENUM answer is followed like a redirect: its URI is the Request-URI.
      redirect = route.enumTarget;
    }
    const redirectTarget = aim?.target ?? redirect ?? call.target?.uri;
    if (route.dns && !route.resolved && !redirectTarget) return this.locateRoute(call, index);
    if (redirect && !aim && !resolved && !isIpLiteral(bareHost(redirect.host)) && this.svc.locate) {
      return this.locateRedirect(call, index, redirect);
    }
    const dest: Endpoint = resolved ??
      (aim
        ? aim.dest
        : redirect
        ? endpointOf(redirect, route)
        : call.target
        ? call.target.dest
        : routeEndpoint(route));
    const local = this.localFor(dest, "b", call);
    // A route at its limits is skipped like one that refused the call.
    // A probed server found down is skipped like an unreachable one, before it takes a place.
    const down = !!local && !aim && this.health.isDown(dest);
    const held = !!local && !aim && !down && this.health.isHeld(dest);
    const slot = local && !aim && !down && !held
      ? this.limits.route(route.name)?.take(this.opts.clock)
      : undefined;
    const full = typeof slot === "string" ? slot : undefined;
    if (!local || full || down || held) {
      // A 302 or RADIUS target over a transport we do not listen on, or a full route: like a
      // refused attempt, recorded (no INVITE went out, so no Call-ID) so that the CDR shows
      // what was skipped.
      this.recordSkipped(
        call,
        index,
        redirectTarget ? asRequestUri(redirectTarget).toString() : "",
        endpointText(dest),
        full ? "limit" : down ? "down" : held ? "held" : "unreachable",
      );
      if (index + 1 < call.routes.length) return this.startAttempt(call, index + 1);
      if (!full) {
        return this.failCall(
          call,
          createResponse(call.a.invite, 503, undefined, call.a.localTag),
          "unreachable",
        );
      }
      const r = limitResponse(call.a.invite, full, call.a.localTag);
      call.record.reasonHeader = LIMIT_REASON[full].reason;
      return this.failCall(call, r, "route-limit");
    }
    const callId = this.newCallId(`@${uriHost(local.host)}`);
    const fromTag = this.tag();
    const user = redirectTarget?.user ?? userForUri(a.ruri.user ?? "", route.ruriUser);
    const ruri = redirectTarget ? asRequestUri(redirectTarget) : routeRequestUri(route, user);
    const callerFrom = a.from;
    const cid = route.callerId;
    // Toward a next hop outside the trust domain Tandem carries out the caller's privacy.
    const privacy = route.trusted === false ? privacyRequested(a) : undefined;
    const anonymous = privacy?.has("user") === true;
    const fromUser = anonymous
      ? ANONYMOUS.user
      : cid?.user ?? userForUri(callerFrom.uri.user ?? "", cid?.rewrite);
    const fromDisplay = anonymous
      ? ANONYMOUS.display
      : cid?.display !== undefined
      ? quoteDisplay(cid.display)
      : callerFrom.display;
    // 3GPP TS 24.229 §7.2A.20: the verdict on the caller's number rides in that number.
    const fromUri = new UriClass(
      "sip",
      (call.verstat && isPhoneNumber(fromUser)
        ? `${fromUser};verstat=${call.verstat}`
        : fromUser) ||
        undefined,
      anonymous
        ? ANONYMOUS.host
        : route.fromDomain
        ? uriHost(route.fromDomain)
        : uriHost(local.host),
    );
    const from = new NameAddr(fromUri, fromDisplay, new Params([["tag", fromTag]]));
    // To names the callee where the call goes: an ENUM route has no host of its own.
    const to = new NameAddr(
      route.enumTarget
        ? new UriClass("sip", user || undefined, route.enumTarget.host, route.enumTarget.port)
        : new UriClass("sip", user || undefined, routeUriHost(route), routeUriPort(route)),
      undefined,
    );
    const contact = contactFor(local, ruri.scheme === "sips" && isSecure(local.protocol));
    const mf = Math.min(70, (a.maxForwards ?? 70) - 1);
    // Kept for the call's whole life (the attempt's record, the INVITE's identity): flat copies
    // that hold no slice of the caller's INVITE or of a 302.
    const [ruriText, fromText, toText, target, localUri] = detachAll([
      ruri.toString(),
      from.toString(),
      to.toString(),
      endpointText(dest),
      new NameAddr(fromUri, fromDisplay).toString(),
    ]);
    const pairs: [string, string][] = [
      ["Via", viaFor(local, this.txl.newBranch())],
      ["Max-Forwards", String(mf)],
      ["From", fromText],
      ["To", toText],
      ["Call-ID", callId],
      ["CSeq", "1 INVITE"],
      ["Contact", contact],
      ["Allow", ALLOW],
    ];
    if (aim) {
      for (const r of aim.routeSet) pairs.push(["Route", r]);
      pairs.push(["Replaces", aim.header]);
    }
    // What the caller asks of the call and we can carry end to end (CALL_TAGS).
    const supported = knownTags(optionTags(a, "supported"), CALL_TAGS);
    if (supported.length > 0) pairs.push(["Supported", supported.join(", ")]);
    const required = knownTags(optionTags(a, "require"), CALL_TAGS);
    if (required.length > 0) pairs.push(["Require", required.join(", ")]);
    // RFC 4028 §7.1: the interval and floor the caller asked for travel with its "timer".
    const se = a.get("session-expires");
    if (se !== undefined) pairs.push(["Session-Expires", se]);
    const minSe = a.get("min-se");
    if (minSe !== undefined) pairs.push(["Min-SE", minSe]);
    const ct = a.get("content-type");
    if (ct !== undefined) pairs.push(["Content-Type", ct]);
    const invite = new SipRequest("INVITE", ruriText, headerList(pairs), a.body);
    for (const h of applyHeaderPolicy(a.headers, route.headers)) invite.headers.push(h);
    if (privacy?.size) applyPrivacy(invite, privacy);
    if (call.verstat) markAssertedIdentity(invite, call.verstat);
    if (call.diversions && redirect && !aim && !route.enumTarget) {
      // Newest first, above any the caller's INVITE brought (RFC 5806 §3).
      for (let i = call.diversions.length - 1; i >= 0; i--) {
        invite.prepend("Diversion", call.diversions[i]);
      }
    }
    const now = this.opts.clock.wallNow();
    const attempt: Attempt = {
      index,
      route,
      slot: slot as Slot | undefined, // a refusal returned above
      state: "Calling",
      invite,
      ctx: undefined,
      dest,
      contact,
      authTried: false,
      own: { callId, localTag: fromTag, localUri, remoteUri: toText },
      record: {
        index,
        route: route.name,
        callId,
        ruri: invite.uri,
        from: fromText,
        to: toText,
        target,
        inviteAt: now,
      },
    };
    call.b = attempt;
    call.attempts.push(attempt);
    call.record.attempts.push(attempt.record);
    if (call.state === "Routing") call.state = "Proceeding";
    this.legs.set(dialogKey(callId, fromTag), { call, side: "b", attempt });
    this.correlations?.set(callId, call.a.invite.callId);
    mSetups.inc();
    call.media = !!this.svc.media?.uses(route);
    if (call.media) call.mediaUsed = true;
    const current = this.opts.config();
    let attest = this.svc.identity && current.stirShaken
      ? ruleIdentity(call.rule, current).attest
      : undefined;
    if (attest) {
      // RFC 8224 §5: this INVITE is vouched for anew (its numbers may have been rewritten); an
      // Identity the caller sent would not match it.
      invite.remove("identity");
      call.origid ??= call.rule.stirShaken?.origid ?? uuid(this.opts.random);
      const orig = assertedUser(invite) ?? fromUser;
      if (attest === "A" && !ownsNumber(this.opts.config(), call.record.user, orig)) {
        // ATIS-1000074 §5.2.3: full attestation vouches for the caller's right to the number.
        this.log.debug("identity-attest-b", { call: call.id, user: call.record.user, orig });
        attest = "B";
      }
      this.svc.identity!.sign(orig, user, attest, call.origid, this.opts.config()).then(
        (value) => {
          if (value) {
            invite.add("Identity", value);
            (call.record.identity ??= {}).signed = attest;
          }
        },
        (err) => this.log.warn("identity-sign-failed", { call: call.id, err }),
      ).then(() => {
        if (call.b !== attempt || attempt.state !== "Calling") return;
        this.offerAndSend(call, attempt);
      });
    } else this.offerAndSend(call, attempt);
    this.clearTimer(call, "noProgress");
    // Undefined means the operator turned it off: then only Timer B ends a silent attempt.
    const np = route.timers.noProgress;
    if (np !== undefined) {
      call.timers.noProgress = this.opts.timers.set(np, () => this.onNoProgress(call, attempt));
    }
  }

  /** The INVITE's offer through the media relay (when the route anchors media), then out. */
  private offerAndSend(call: Call, attempt: Attempt): void {
    const invite = attempt.invite;
    this.withMedia(call, "offer", "caller", invite, (body) => {
      if (call.b !== attempt || attempt.state !== "Calling") return;
      invite.body = body;
      this.sendInvite(call, attempt);
    }, (err) => {
      if (call.b !== attempt || call.state === "Ended") return;
      this.log.warn("media-offer-failed", { call: call.id, err });
      attempt.state = "Failed";
      attempt.slot?.release();
      attempt.record.outcome = "media";
      const r = createResponse(call.a.invite, 503, "Media Relay Unavailable", call.a.localTag);
      r.add("Retry-After", String(this.opts.config().limits.retryAfter));
      call.a.stx.respond(r);
      call.record.finalStatus = 503;
      this.finish(call, "tandem", "media");
    });
  }

  private sendInvite(call: Call, at: Attempt): void {
    at.ctx = this.txl.sendRequest(at.invite, at.dest, {
      onResponse: (res) => this.onAttemptResponse(call, at, res),
      onTimeout: () => this.onAttemptFailure(call, at, { kind: "timeout" }),
      onTransportError: (_tx, err) => {
        this.log.info("attempt-transport-error", { call: call.id, err });
        this.onAttemptFailure(call, at, { kind: "transport-error" });
      },
    });
  }

  private onAttemptResponse(call: Call, at: Attempt, res: SipResponse): void {
    const s = res.status;
    if (s < 200) {
      if (s === 100) return;
      if (at.state !== "Calling" && at.state !== "Early") return;
      const now = this.opts.clock.wallNow();
      at.record.firstProvisionalAt ??= now;
      if (res.to.tag) {
        if (!at.dialog) at.dialog = Dialog.asUac(at.invite, res, at.own);
        else if (at.dialog.remoteTag !== res.to.tag) {
          const d = this.earlyDialog(at, res);
          if (!d) return;
          at.dialog = d;
        }
      }
      const rseq = reliableSeq(res);
      let reliable: RelayedReliable | undefined;
      if (rseq !== undefined && res.to.tag) {
        // RFC 3262 §4: a retransmission (same RSeq) is not processed again, one that skips a
        // number not at all. Towards a caller that takes reliable provisionals the callee's
        // retransmissions are relayed again: they stand in for ours until the caller's PRACK.
        const tag = res.to.tag;
        const rseqs = at.rseqs ??= new Map();
        const seen = rseqs.get(tag);
        const again = seen === rseq;
        if (seen !== undefined && !again && rseq !== seen + 1) return;
        rseqs.set(tag, rseq);
        if (!call.a.reliable) {
          if (!again) this.prackLocally(call, at, rseq);
          if (again) return;
        } else if (call.b === at && (call.state === "Proceeding" || call.state === "Early")) {
          // Only what is relayed takes an RSeq: the caller's must have no gaps (§4).
          reliable = this.reliableFor(call, at, tag, rseq, res.body.length > 0);
          if (again) return this.relayProvisional(call, res, reliable);
        } else if (again) return;
      }
      at.state = "Early";
      if (call.b !== at || call.state === "Confirmed" || call.state === "Ended") return;
      this.clearTimer(call, "noProgress");
      const na = at.route.timers.noAnswer;
      if (na !== undefined && !call.timers.noAnswer) {
        call.timers.noAnswer = this.opts.timers.set(na, () => this.onNoAnswer(call, at));
      }
      call.record.firstProvisionalAt ??= now;
      call.state = "Early";
      this.relayProvisional(call, res, reliable);
      return;
    }
    if (s < 300) return this.onAttemptAnswered(call, at, res);
    // Final failure: the transaction has ACKed it hop by hop (§17.1.1.3).
    if (at.state === "Abandoned" || at.state === "Failed") return;
    if (at.state === "Cancelling") {
      at.state = "Failed";
      at.slot?.release();
      at.record.finalStatus = s;
      at.record.endAt = this.opts.clock.wallNow();
      return;
    }
    this.onAttemptFailure(call, at, { kind: "response", status: s }, res);
  }

  /**
   * The early dialog of a provisional whose tag is not the current one's (a forked INVITE): the
   * one made for that tag before, else a new one from this response. Undefined past MAX_FORKS
   * (a runaway proxy), so such provisionals are dropped rather than kept.
   */
  private earlyDialog(at: Attempt, res: SipResponse): Dialog | undefined {
    const tag = res.to.tag!;
    const forks = at.forks ??= new Map([[at.dialog!.remoteTag, at.dialog!]]);
    let d = forks.get(tag);
    if (!d && forks.size < MAX_FORKS) {
      d = Dialog.asUac(at.invite, res, at.own);
      forks.set(tag, d);
    }
    return d;
  }

  private relayProvisional(call: Call, res: SipResponse, reliable?: RelayedReliable): void {
    const a = call.a;
    const r = copyRecordRoute(
      a.invite,
      createResponse(a.invite, res.status, res.reason, a.localTag),
    );
    r.add("Contact", a.contact);
    copyHeaders(res.headers, r.headers);
    copyOptionTags(res, r, DIALOG_TAGS, reliable ? REQUIRE_100REL : NO_TAGS);
    if (reliable) r.add("RSeq", String(reliable.rseq));
    if (!a.dialog) this.createCallerDialog(call);
    // After a delayed offer (an INVITE without SDP) the callee's SDP is the offer.
    const kind = a.invite.body.length === 0 ? "offer" : "answer";
    this.withMedia(call, kind, "callee", res, (body) => {
      if (call.state !== "Early" || a.stx.state !== "Proceeding") return;
      r.body = body;
      a.stx.respond(r);
    });
  }

  /**
   * The caller-leg record of the callee's reliable provisional `rseq` on early dialog `tag`:
   * the one made for it before (a retransmission), else a new one with the next RSeq (§3: one
   * higher each time, from a random start below 2^31).
   */
  private reliableFor(
    call: Call,
    at: Attempt,
    tag: string,
    rseq: number,
    hasBody: boolean,
  ): RelayedReliable {
    const st = call.reliable ??= {
      rseq: Math.floor(this.opts.random() * 0x3fffffff),
      relayed: [],
    };
    for (const e of st.relayed) {
      if (e.attempt === at && e.calleeTag === tag && e.calleeRseq === rseq) return e;
    }
    const e: RelayedReliable = {
      rseq: ++st.rseq,
      attempt: at,
      calleeRseq: rseq,
      calleeTag: tag,
      offer: hasBody && call.a.invite.body.length === 0,
    };
    st.relayed.push(e);
    // A callee may send reliable provisionals without waiting for PRACKs (it should not, §3):
    // the PRACKs that matter are for the last few.
    if (st.relayed.length > MAX_RELIABLE) st.relayed.shift();
    return e;
  }

  /**
   * PRACK a callee's reliable provisional ourselves (RFC 3262 §4): the caller does not take
   * them, so it never sends one. The callee should not have sent it (our INVITE did not offer
   * 100rel); acknowledging it keeps the callee from failing the call.
   */
  private prackLocally(call: Call, at: Attempt, rseq: number): void {
    const d = at.dialog;
    if (!d) return;
    const dest = this.destOf(d, at.dest);
    const local = this.localFor(dest, "b", call);
    if (!local) return;
    const rack: Header = {
      key: "rack",
      name: "RAck",
      value: `${rseq} ${at.invite.cseq.seq} INVITE`,
    };
    const prack = d.createRequest("PRACK", [rack]);
    prack.prepend("Via", viaFor(local, this.txl.newBranch()));
    this.txl.sendRequest(prack, dest, {
      onResponse: () => {},
      onTimeout: () => this.log.info("prack-timeout", { call: call.id }),
      onTransportError: () => this.log.info("prack-transport-error", { call: call.id }),
    });
  }

  private createCallerDialog(call: Call): void {
    const a = call.a;
    a.dialog = Dialog.asUas(a.invite, a.localTag, Math.floor(this.opts.random() * 10000) + 1);
  }

  private onAttemptAnswered(call: Call, at: Attempt, res: SipResponse): void {
    if (at.state === "Answered") {
      // Another dialog's 2xx (RFC 6026 Accepted): retransmissions of the answer are re-ACKed
      // by the transaction, which has our ACK.
      if (res.to.tag !== at.dialog?.remoteTag) this.ackAndBye(at, res, "Call already answered");
      return;
    }
    if (at.record.outcome === "unreachable") return; // its 2xx again: nothing can reach it
    const now = this.opts.clock.wallNow();
    // The 2xx's early dialog, if it had one (its CSeq counts the PRACKs and UPDATEs sent on it).
    const early = at.forks?.get(res.to.tag ?? "") ?? at.dialog;
    if (!early || early.remoteTag !== res.to.tag) {
      at.dialog = Dialog.asUac(at.invite, res, at.own);
    } else {
      at.dialog = early;
      early.updateFromResponse(res, true);
    }
    at.forks = undefined;
    at.dialog.state = "Confirmed";
    if (
      call.b === at && (at.state === "Calling" || at.state === "Early") &&
      !this.localFor(this.destOf(at.dialog, at.dest), "b", call)
    ) {
      // Its Contact or Record-Route needs a transport we do not listen on: we could neither ACK
      // nor end the dialog, so the caller is not put through to it. Like a transport error: the
      // next route, else 503. The callee ends its dialog itself when no ACK comes (§13.3.1.4).
      at.record.outcome = "unreachable";
      return this.onAttemptFailure(call, at, { kind: "transport-error" });
    }
    at.record.answerAt = now;
    at.record.finalStatus = res.status;
    if (
      call.b !== at || at.state === "Abandoned" || at.state === "Cancelling" ||
      call.state === "Ended"
    ) {
      // §15 / issue: a 2xx after we gave up on the attempt (caller CANCEL, failover, timer):
      // complete the dialog and end it at once so the callee sees one consistent outcome.
      at.state = "Answered";
      this.ackAndBye(at, res, "Call completed elsewhere");
      return;
    }
    at.state = "Answered";
    // A delayed offer: the 2xx offers, the caller answers in its ACK, and ours carries that.
    const offered = at.invite.body.length === 0 && res.body.length > 0;
    if (offered) at.ackPending = true;
    else this.sendAck(at, undefined);
    this.clearTimer(call, "noProgress");
    this.clearTimer(call, "noAnswer");
    at.record.outcome = "answered";
    this.settleQuality(at);
    call.state = "Confirmed";
    call.record.answerAt = now;
    call.record.firstProvisionalAt ??= now;
    call.record.finalStatus = res.status;
    const a = call.a;
    if (!a.dialog) this.createCallerDialog(call);
    a.dialog!.state = "Confirmed";
    const r = copyRecordRoute(
      a.invite,
      createResponse(a.invite, res.status, res.reason, a.localTag),
    );
    r.add("Contact", a.contact);
    r.add("Allow", ALLOW);
    copyHeaders(res.headers, r.headers);
    copyOptionTags(res, r, DIALOG_TAGS);
    this.withMedia(call, offered ? "offer" : "answer", "callee", res, (body) => {
      r.body = body;
      a.stx.respond(r);
    });
    mCalls.inc({ outcome: "answered" });
    const max = call.creditMs ?? at.route.timers.maxDuration;
    if (max !== undefined) {
      call.timers.maxDuration = this.opts.timers.set(max, () => {
        this.log.info("call-max-duration", { call: call.id });
        this.hangup(
          call,
          "tandem",
          "max-duration",
          'SIP;cause=200;text="Maximum call duration reached"',
        );
      });
    }
    if (at.route.keepalive) this.scheduleKeepalive(call, at.route.keepalive.interval);
    this.svc.onCallAnswered?.(call.record, call);
  }

  /** ACK the attempt's 2xx, with `body` (of `contentType`) when it answers a delayed offer. */
  private sendAck(
    at: Attempt,
    body: Uint8Array | undefined,
    contentType?: string,
    ctx = at.ctx,
  ): void {
    at.ackPending = undefined;
    const d = at.dialog!;
    const dest = this.destOf(d, at.dest);
    // A callee whose Contact names a transport we do not listen on cannot be ACKed: it ends
    // the call itself when its 2xx goes unacknowledged (§13.3.1.4), and its BYE is relayed.
    const local = this.localFor(dest, "b");
    if (!local) return;
    const ack = d.createRequest("ACK", [], at.invite.cseq.seq);
    ack.prepend("Via", viaFor(local, this.txl.newBranch()));
    if (body?.length) {
      ack.body = body;
      ack.add("Content-Type", contentType ?? "application/sdp");
    }
    // The transaction resends this ACK for retransmissions of the 2xx (RFC 6026 §7.2).
    if (ctx) ctx.sendAck(ack, dest, d.remoteTag);
    else this.opts.net.sendRequest(ack, dest);
  }

  /** ACK then BYE a 2xx we do not want (late answer, second fork). */
  private ackAndBye(
    at: { invite: SipRequest; dest: Endpoint },
    res: SipResponse,
    why: string,
  ): void {
    const d = Dialog.asUac(at.invite, res);
    const dest = this.destOf(d, at.dest);
    const local = this.localFor(dest, "b");
    if (!local) return;
    const ack = d.createRequest("ACK", [], at.invite.cseq.seq);
    ack.prepend("Via", viaFor(local, this.txl.newBranch()));
    this.opts.net.sendRequest(ack, dest);
    const bye = d.createRequest("BYE", [{
      key: "reason",
      name: "Reason",
      value: `SIP;cause=200;text="${why}"`,
    }]);
    bye.prepend("Via", viaFor(local, this.txl.newBranch()));
    this.txl.sendRequest(bye, dest, NOOP_HANDLER);
  }

  private onAttemptFailure(
    call: Call,
    at: Attempt,
    f: { kind: "response"; status: number } | { kind: "timeout" } | { kind: "transport-error" },
    res?: SipResponse,
  ): void {
    if (at.state === "Abandoned" || at.state === "Failed" || at.state === "Answered") return;
    const now = this.opts.clock.wallNow();
    const wasCancelling = at.state === "Cancelling";
    at.state = "Failed";
    at.record.endAt = now;
    at.record.finalStatus = f.kind === "response" ? f.status : f.kind === "timeout" ? 408 : 503;
    if (res) at.record.reason = res.get("reason");
    if (f.kind !== "response") this.health.failed(at.dest, f.kind);
    else if (f.status === 503 && at.route.respectRetryAfter && res) {
      // RFC 3263 §4.3: not this server again for the Retry-After, as far as the route allows.
      const after = parseInt(res.get("retry-after") ?? "", 10);
      if (after > 0) this.health.hold(at.dest, Math.min(after * 1000, at.route.respectRetryAfter));
    }
    if (call.b !== at || call.state === "Ended" || wasCancelling) {
      at.slot?.release();
      return;
    }
    const next = nextRouteIndex(call.routes, at.index, f);
    const decision = decideFailover(f, at.route, at.authTried, next < call.routes.length);
    this.log.debug("attempt-failed", { call: call.id, attempt: at.index, failure: f, decision });
    // Answering a challenge, the same attempt goes on in its route's place; else it is over.
    if (decision === "authenticate" && res && this.retryWithAuth(call, at, res)) return;
    at.slot?.release();
    switch (decision) {
      case "authenticate":
        break;
      case "next-route":
        at.record.outcome ??= "failover";
        this.settleQuality(at);
        this.clearTimer(call, "noAnswer");
        return this.startAttempt(call, next);
      case "follow-redirect": {
        const target = res?.contacts[0]?.uri;
        if (target && call.attempts.length < 10) {
          at.record.outcome = "redirect";
          this.noteDiversion(call, at, res!);
          return this.startAttempt(call, at.index, target);
        }
        break;
      }
      case "relay":
        break;
    }
    at.record.outcome ??= "failed";
    this.settleQuality(at);
    const status = f.kind === "response" ? f.status : f.kind === "timeout" ? 408 : 503;
    const r = createResponse(
      call.a.invite,
      status,
      res?.reason ?? reasonPhrase(status),
      call.a.localTag,
    );
    if (res) {
      copyHeaders(res.headers, r.headers);
      if (status >= 300 && status < 400) {
        for (const c of res.getAll("contact")) r.add("Contact", c);
      }
      r.body = res.body;
    }
    call.a.stx.respond(r);
    call.record.finalStatus = status;
    mCalls.inc({ outcome: "failed" });
    this.finish(call, "callee", f.kind === "response" ? "rejected" : f.kind);
  }

  /** §22.2: answer a 401/407 with the route's credentials; same Call-ID, From tag, To; CSeq + 1. */
  private retryWithAuth(call: Call, at: Attempt, res: SipResponse): boolean {
    const creds = at.route.auth;
    const digest = this.svc.digest;
    if (!creds || !digest) return false;
    const isProxy = res.status === 407;
    const challenge = res.get(isProxy ? "proxy-authenticate" : "www-authenticate");
    if (!challenge) return false;
    let value: string;
    try {
      value = digest({
        method: "INVITE",
        uri: at.invite.uri,
        username: creds.username,
        password: creds.password,
        challenge,
        cnonce: token(this.opts.random, 16),
        nc: 1,
      });
    } catch (err) {
      this.log.warn("digest-failed", { call: call.id, err });
      return false;
    }
    const old = at.invite;
    const invite = new SipRequest(
      old.method,
      old.uri,
      old.headers.map((h) => ({ ...h })),
      old.body,
    );
    invite.set("CSeq", `${old.cseq.seq + 1} INVITE`);
    invite.set("Via", viaFor(this.opts.net.localFor(at.dest), this.txl.newBranch()));
    invite.remove("authorization");
    invite.remove("proxy-authorization");
    invite.add(isProxy ? "Proxy-Authorization" : "Authorization", value);
    at.invite = invite;
    at.authTried = true;
    at.state = "Calling";
    at.dialog = undefined;
    this.sendInvite(call, at);
    return true;
  }

  private onNoProgress(call: Call, at: Attempt): void {
    call.timers.noProgress = undefined;
    if (call.b !== at || (at.state !== "Calling")) return;
    this.log.info("attempt-no-progress", {
      call: call.id,
      attempt: at.index,
      route: at.route.name,
    });
    // Give the attempt up: CANCEL it (held until a provisional arrives, §9.1) and move on.
    at.state = "Abandoned";
    at.slot?.release();
    at.record.outcome = "no-progress";
    at.record.endAt = this.opts.clock.wallNow();
    this.settleQuality(at);
    at.record.finalStatus = 408;
    this.health.failed(at.dest, "no-progress");
    at.ctx?.cancel('SIP;cause=408;text="No progress"');
    const hasNext = at.index + 1 < call.routes.length;
    if (at.route.failoverOnTimeout && hasNext) return this.startAttempt(call, at.index + 1);
    const r = createResponse(call.a.invite, 408, "No Progress", call.a.localTag);
    r.add("Reason", 'SIP;cause=408;text="No progress"');
    call.a.stx.respond(r);
    call.record.finalStatus = 408;
    mCalls.inc({ outcome: "failed" });
    this.finish(call, "tandem", "no-progress");
  }

  private onNoAnswer(call: Call, at: Attempt): void {
    call.timers.noAnswer = undefined;
    if (call.b !== at || at.state !== "Early" || call.state !== "Early") return;
    this.log.info("call-no-answer", { call: call.id });
    const reason = 'SIP;cause=480;text="No answer"';
    at.state = "Cancelling";
    at.record.outcome = "no-answer";
    this.settleQuality(at);
    at.ctx?.cancel(reason);
    const r = createResponse(call.a.invite, 480, "No Answer", call.a.localTag);
    r.add("Reason", reason);
    call.a.stx.respond(r);
    call.record.finalStatus = 480;
    call.record.reasonHeader = reason;
    mCalls.inc({ outcome: "no-answer" });
    this.finish(call, "tandem", "no-answer");
  }

  private onCallerCancel(call: Call, cancel: SipRequest): void {
    if (call.state === "Confirmed" || call.state === "Ended") return;
    const reason = cancel.get("reason");
    const r = createResponse(call.a.invite, 487, undefined, call.a.localTag);
    call.a.stx.respond(r);
    call.record.finalStatus = 487;
    if (reason) call.record.reasonHeader = reason;
    const at = call.b;
    if (at && (at.state === "Calling" || at.state === "Early")) {
      at.state = "Cancelling";
      at.record.outcome = "cancel";
      at.ctx?.cancel(reason);
    }
    mCalls.inc({ outcome: "cancelled" });
    this.finish(call, "caller", "cancel");
  }

  private onCallerNoAck(call: Call): void {
    if (call.state !== "Confirmed") return;
    this.log.info("caller-no-ack", { call: call.id });
    this.hangup(call, "tandem", "no-ack", 'SIP;cause=408;text="ACK timeout"');
  }

  // ---------------------------------------------------------------- in-dialog

  private onAck(req: SipRequest): void {
    const leg = this.leg(dialogKey(req.callId, req.to.tag ?? ""));
    if (!leg) return;
    if ("ended" in leg) {
      // The call ended before the caller's ACK for its 2xx arrived: stop resending the 2xx.
      const w = leg.awaitingAck;
      if (w && req.cseq.seq === w.inviteSeq) w.stx.acked();
      return;
    }
    const call = leg.call;
    if (leg.side === "a") {
      if (req.cseq.seq === call.a.invite.cseq.seq) {
        call.a.stx.acked();
        const at = call.b;
        if (at?.ackPending) {
          // Taken now: slim() below lets go of the transaction that answers the callee's
          // retransmitted 2xx with this ACK.
          const ctx = at.ctx;
          const ct = req.get("content-type");
          at.ackPending = undefined; // sent below, once the relay has the answer
          this.withMedia(call, "answer", "caller", req, (b) => this.sendAck(at, b, ct, ctx));
        }
        this.slim(call);
        return;
      }
      // ACK for a relayed re-INVITE 2xx from the caller: pass it to the callee.
      this.relayAck(call, "a", req);
    } else {
      this.relayAck(call, "b", req);
    }
  }

  private relayAck(call: Call, from: "a" | "b", req: SipRequest): void {
    const p = call.reinvite;
    if (!p || p.from !== from) return;
    p.stx.acked();
    const to = from === "a" ? "b" : "a";
    const target = this.dialogOf(call, to);
    const local = target && this.localFor(target.dest, to, call);
    if (!target || !local) return void (call.reinvite = undefined);
    const { dialog, dest } = target;
    const ack = dialog.createRequest("ACK", inDialogHeaders(req), p.cseq ?? req.cseq.seq);
    ack.prepend("Via", viaFor(local, this.txl.newBranch()));
    const ctx = p.ctx;
    const send = (body: Uint8Array) => {
      ack.body = body;
      // The re-INVITE's transaction resends it for retransmissions of the 2xx.
      if (ctx) ctx.sendAck(ack, dest, dialog.remoteTag);
      else this.opts.net.sendRequest(ack, dest);
    };
    // After an offerless re-INVITE the ACK carries the answer to the 2xx's offer.
    if (p.offerless && req.body.length > 0) {
      this.withMedia(call, "answer", from === "a" ? "caller" : "callee", req, send);
    } else send(req.body);
    call.reinvite = undefined;
  }

  private inDialog(req: SipRequest, tx: ServerTransaction, _source: Endpoint): void {
    const leg = this.leg(dialogKey(req.callId, req.to.tag!));
    if (!leg || "ended" in leg) return tx.respond(createResponse(req, 481));
    const { call, side } = leg;
    const own = side === "a" ? call.a.dialog : leg.attempt?.dialog;
    if (!own || call.state === "Ended") return tx.respond(createResponse(req, 481));
    const unsupported = unknownTags(
      optionTags(req, "require"),
      req.method === "PRACK" ? CALL_TAGS : DIALOG_TAGS,
    );
    if (unsupported.length > 0) return tx.respond(badExtension(req, unsupported));
    if (side === "b" && leg.attempt !== call.b) {
      // A request on an attempt we abandoned: only BYE is expected; accept and forget.
      return tx.respond(createResponse(req, req.method === "BYE" ? 200 : 481));
    }
    try {
      own.receiveRequest(req);
    } catch (e) {
      if (e instanceof DialogRequestError) return tx.respond(createResponse(req, e.status));
      throw e;
    }
    const other = this.dialogOf(call, side === "a" ? "b" : "a");
    if (req.method === "BYE") {
      if (!other || call.state !== "Confirmed") {
        // BYE on an early dialog from the caller ends the call like a CANCEL would.
        tx.respond(createResponse(req, 200));
        if (side === "a" && call.b && (call.b.state === "Calling" || call.b.state === "Early")) {
          call.b.state = "Cancelling";
          call.b.ctx?.cancel(req.get("reason"));
          call.a.stx.respond(createResponse(call.a.invite, 487, undefined, call.a.localTag));
        }
        return this.finish(call, side === "a" ? "caller" : "callee", "bye");
      }
      call.record.reasonHeader = req.get("reason") ?? call.record.reasonHeader;
      this.relayRequest(call, side, req, tx);
      this.finish(call, side === "a" ? "caller" : "callee", "bye");
      return;
    }
    if (!other) return tx.respond(createResponse(req, 481));
    if (req.method === "INVITE") {
      if (call.reinvite || call.state !== "Confirmed") {
        // §14.1 glare: one INVITE at a time per dialog pair.
        const r = createResponse(req, 491);
        r.add("Retry-After", "1");
        return tx.respond(r);
      }
      return this.relayRequest(call, side, req, tx);
    }
    if (req.method === "PRACK") return this.relayPrack(call, side, req, tx);
    if (RELAYED.has(req.method)) return this.relayRequest(call, side, req, tx);
    const r = createResponse(req, 501);
    r.add("Allow", ALLOW);
    tx.respond(r);
  }

  /** The dialog of a side and where its next request goes (see destOf). */
  private dialogOf(call: Call, side: "a" | "b"): { dialog: Dialog; dest: Endpoint } | undefined {
    const d = side === "a" ? call.a.dialog : call.b?.dialog;
    if (!d) return undefined;
    return { dialog: d, dest: this.destOf(d, side === "a" ? call.a.dest : call.b!.dest) };
  }

  /**
   * Our address for a request to `dest`, or undefined when no listener serves its transport and
   * family: a Contact or Record-Route naming TCP while Tandem listens on UDP only (RFC 3263
   * §4.1: a transport the URI names must be used). The peer is unreachable from here, which the
   * caller handles as a failed request, not as an exception.
   */
  private localFor(dest: Endpoint, side: "a" | "b", call?: Call): Endpoint | undefined {
    try {
      return this.opts.net.localFor(dest);
    } catch (err) {
      this.log.warn("peer-unreachable", {
        call: call?.id,
        side: side === "a" ? "caller" : "callee",
        dest: endpointText(dest),
        err,
      });
      return undefined;
    }
  }

  /** Relay an in-dialog request to the other leg and its final answer back. */
  private relayRequest(call: Call, from: "a" | "b", req: SipRequest, stx: ServerTransaction): void {
    const to = from === "a" ? "b" : "a";
    const target = this.dialogOf(call, to)!;
    const { dialog, dest } = target;
    const local = this.localFor(dest, to, call);
    if (!local) return this.onRelayFailure(call, req, stx, req.method === "BYE", 503);
    const out = dialog.createRequest(req.method, inDialogHeaders(req));
    out.prepend("Via", viaFor(local, this.txl.newBranch()));
    copyOptionTags(req, out, DIALOG_TAGS);
    if (
      req.method === "INVITE" || req.method === "UPDATE" || req.method === "NOTIFY" ||
      req.method === "REFER" || req.method === "SUBSCRIBE"
    ) {
      out.add("Contact", to === "a" ? call.a.contact : call.b!.contact);
    }
    const isBye = req.method === "BYE";
    const sdpMethod = req.method === "INVITE" || req.method === "UPDATE";
    const fromSide = from === "a" ? "caller" : "callee";
    const toSide = from === "a" ? "callee" : "caller";
    const pending: PendingRelay = { from, stx, method: req.method };
    if (req.method === "INVITE") {
      if (req.body.length === 0) pending.offerless = true;
      call.reinvite = pending;
      stx.onNoAck = () => {
        if (call.reinvite === pending) call.reinvite = undefined;
        this.hangup(call, "tandem", "no-ack", 'SIP;cause=408;text="ACK timeout"');
      };
    }
    const send = (body: Uint8Array) => {
      if (call.state === "Ended" && !isBye) return;
      out.body = body;
      pending.cseq = out.cseq.seq;
      pending.ctx = this.txl.sendRequest(out, dest, {
        onResponse: (res) => {
          if (res.status === 100) return;
          if (req.method === "INVITE" && res.status >= 200 && res.status < 300) {
            dialog.updateFromResponse(res, true);
            if (pending.stx.state !== "Proceeding") {
              // 2xx retransmission: re-send the ACK we relayed, if any (handled by relayAck cache).
              return;
            }
          }
          if (res.status >= 200 && req.method === "INVITE" && res.status >= 300) {
            call.reinvite = undefined;
          }
          const r = createResponse(req, res.status, res.reason);
          copyHeaders(res.headers, r.headers);
          copyOptionTags(res, r, DIALOG_TAGS);
          if (
            res.status >= 200 && res.status < 300 &&
            (req.method === "INVITE" || req.method === "UPDATE")
          ) {
            r.add("Contact", from === "a" ? call.a.contact : call.b!.contact);
          }
          const deliver = (b: Uint8Array) => {
            r.body = b;
            if (stx.state === "Proceeding" || stx.state === "Trying") stx.respond(r);
          };
          if (sdpMethod && res.status < 300) {
            const kind = pending.offerless && res.status >= 200 ? "offer" : "answer";
            this.withMedia(call, kind, toSide, res, deliver);
          } else deliver(res.body);
          if (!isBye && (res.status === 481 || res.status === 408)) {
            this.hangup(
              call,
              "tandem",
              `${req.method.toLowerCase()}-${res.status}`,
              `SIP;cause=${res.status}`,
            );
          }
        },
        onTimeout: () => this.onRelayFailure(call, req, stx, isBye, 408),
        onTransportError: () => this.onRelayFailure(call, req, stx, isBye, 503),
      });
    };
    if (sdpMethod) {
      this.withMedia(call, "offer", fromSide, req, send, () => {
        if (call.reinvite === pending) call.reinvite = undefined;
        if (stx.state === "Proceeding" || stx.state === "Trying") {
          stx.respond(createResponse(req, 488, "Media Relay Refused Offer"));
        }
      });
    } else send(req.body);
  }

  /**
   * The caller's PRACK (RFC 3262 §3) for a reliable provisional we relayed: passed to the callee
   * with the callee's RSeq and INVITE CSeq in its RAck, and the callee's answer passed back. One
   * that acknowledges nothing we sent gets 481; one for an attempt given up since (failover),
   * 200 from us, as nobody is left to acknowledge.
   */
  private relayPrack(call: Call, side: "a" | "b", req: SipRequest, stx: ServerTransaction): void {
    const rack = parseRAck(req.get("rack"));
    let hit: RelayedReliable | undefined;
    if (side === "a" && rack && rack.method === "INVITE" && rack.cseq === call.a.invite.cseq.seq) {
      for (const e of call.reliable?.relayed ?? []) if (e.rseq === rack.rseq) hit = e;
    }
    if (!hit) return stx.respond(createResponse(req, 481));
    const at = hit.attempt;
    // The early dialog of the provisional it acknowledges: with forks, maybe not the last one.
    const d = at.forks?.get(hit.calleeTag) ?? at.dialog;
    if (
      at !== call.b || !d || d.remoteTag !== hit.calleeTag ||
      (at.state !== "Early" && at.state !== "Answered")
    ) {
      return stx.respond(createResponse(req, 200));
    }
    const dest = this.destOf(d, at.dest);
    const local = this.localFor(dest, "b", call);
    if (!local) return stx.respond(createResponse(req, 503));
    const headers = inDialogHeaders(req);
    headers.push({
      key: "rack",
      name: "RAck",
      value: `${hit.calleeRseq} ${at.invite.cseq.seq} INVITE`,
    });
    const out = d.createRequest("PRACK", headers);
    out.prepend("Via", viaFor(local, this.txl.newBranch()));
    const reply = (status: number, res?: SipResponse) => {
      if (stx.state !== "Trying" && stx.state !== "Proceeding") return;
      const r = createResponse(req, status, res?.reason);
      if (res) copyHeaders(res.headers, r.headers);
      if (!res || res.body.length === 0) return stx.respond(r);
      // A PRACK's answer carries SDP only when the PRACK made an offer.
      this.withMedia(call, "answer", "callee", res, (body) => {
        r.body = body;
        if (stx.state === "Trying" || stx.state === "Proceeding") stx.respond(r);
      });
    };
    const send = (body: Uint8Array) => {
      if (call.state === "Ended") return reply(481);
      out.body = body;
      this.txl.sendRequest(out, dest, {
        onResponse: (res) => {
          if (res.status >= 200) reply(res.status, res);
        },
        onTimeout: () => reply(408),
        onTransportError: () => reply(503),
      });
    };
    // An SDP in the PRACK answers the offer in the provisional, or makes a new offer.
    if (req.body.length === 0) send(req.body);
    else this.withMedia(call, hit.offer ? "answer" : "offer", "caller", req, send);
  }

  /**
   * Pass `body` through the media relay when the call anchors media, keeping every relayed
   * message of the call in order; synchronous when it does not.
   */
  private withMedia(
    call: Call,
    kind: "offer" | "answer",
    from: "caller" | "callee",
    msg: SipMessage,
    cont: (body: Uint8Array) => void,
    onFail?: (err: unknown) => void,
  ): void {
    const body = msg.body;
    const m = this.svc.media;
    if (!m || !call.media) return cont(body);
    const ct = msg.get("content-type");
    const step = () => {
      if (body.length === 0) return cont(body);
      return (kind === "offer" ? m.offer(call, from, body, ct) : m.answer(call, from, body, ct))
        .then(
          cont,
          (err) => {
            this.log.warn("media-failed", { call: call.id, kind, err });
            if (onFail) onFail(err);
            else cont(body);
          },
        );
    };
    call.mediaChain = (call.mediaChain ?? Promise.resolve()).then(step).catch((err) =>
      this.log.error("media-step-failed", { call: call.id, err })
    );
  }

  private onRelayFailure(
    call: Call,
    req: SipRequest,
    stx: ServerTransaction,
    isBye: boolean,
    status: number,
  ): void {
    if (call.reinvite?.stx === stx) call.reinvite = undefined;
    if (stx.state === "Proceeding" || stx.state === "Trying") {
      stx.respond(createResponse(req, isBye ? 200 : status));
    }
    if (!isBye) {
      this.hangup(call, "tandem", `${req.method.toLowerCase()}-timeout`, `SIP;cause=${status}`);
    }
  }

  // ---------------------------------------------------------------- ending calls

  /**
   * End an established or early call from Tandem's side: BYE both confirmed legs (with
   * `reason`), CANCEL an outstanding attempt, answer an unanswered caller.
   */
  hangup(call: Call, by: EndedBy, why: string, reason?: string, callerGone = false): void {
    if (call.state === "Ended") return;
    call.record.reasonHeader = reason ?? call.record.reasonHeader;
    const extra: Header[] = reason ? [{ key: "reason", name: "Reason", value: reason }] : [];
    if (call.state === "Confirmed") {
      if (!callerGone) this.sendBye(call, "a", extra);
      this.sendBye(call, "b", extra);
    } else {
      const at = call.b;
      if (at && (at.state === "Calling" || at.state === "Early")) {
        at.state = "Cancelling";
        at.record.outcome = "cancel";
        at.ctx?.cancel(reason);
      }
      if (call.a.stx.state === "Proceeding") {
        // To a caller that is gone too: it ends the INVITE transaction (the send fails).
        const r = createResponse(call.a.invite, 480, "Call Dropped", call.a.localTag);
        if (reason) r.add("Reason", reason);
        call.a.stx.respond(r);
        call.record.finalStatus = 480;
      }
    }
    this.finish(call, by, why);
  }

  /**
   * RFC 7118 §5: a browser's WebSocket closed (a tab closed, a network lost). It cannot be
   * reached again, so its calls end now rather than at a timer: the callee gets a BYE (or a
   * CANCEL while ringing) with a Reason, and nothing is sent to the browser. Returns how many.
   */
  flowClosed(flow: Endpoint): number {
    // A phone registered over the connection is gone with it: calls to its token now fail.
    if (this.registrations.size > 0) this.registrations.dropFlow(flow, this.opts.clock.now());
    const calls = this.byFlow.get(endpointKey(flow));
    if (!calls) return 0;
    const n = calls.size;
    for (const call of [...calls]) {
      this.log.info("caller-connection-closed", { call: call.id, state: call.state });
      this.hangup(call, "caller", "connection-closed", CALLER_GONE, true);
    }
    return n;
  }

  /** Drop a call by id (control API). Returns false when unknown. */
  drop(id: string, reason = 'SIP;cause=200;text="Dropped by operator"'): boolean {
    const call = this.calls.get(id);
    if (!call) return false;
    this.hangup(call, "tandem", "drop", reason);
    return true;
  }

  private sendBye(call: Call, side: "a" | "b", extra: Header[]): void {
    // A callee whose delayed offer still waits for the caller's answer gets its ACK first.
    if (side === "b" && call.b?.ackPending) this.sendAck(call.b, undefined);
    const t = this.dialogOf(call, side);
    const local = t && this.localFor(t.dest, side, call);
    if (!t || !local) return;
    const bye = t.dialog.createRequest("BYE", extra.map((h) => ({ ...h })));
    bye.prepend("Via", viaFor(local, this.txl.newBranch()));
    this.txl.sendRequest(bye, t.dest, NOOP_HANDLER);
  }

  private scheduleKeepalive(call: Call, interval: number): void {
    call.timers.keepalive = this.opts.timers.set(interval, () => {
      if (call.state !== "Confirmed") return;
      let pending = 2;
      const probe = (side: "a" | "b") => {
        const t = this.dialogOf(call, side);
        if (!t) return;
        const dead = (why: string) => {
          this.log.info("keepalive-dead", { call: call.id, side, why });
          this.hangup(call, "tandem", "keepalive", `SIP;cause=408;text="Keep-alive ${why}"`);
        };
        const local = this.localFor(t.dest, side, call);
        if (!local) return dead("unreachable");
        const req = t.dialog.createRequest("OPTIONS");
        req.prepend("Via", viaFor(local, this.txl.newBranch()));
        this.txl.sendRequest(req, t.dest, {
          onResponse: (res) => {
            if (res.status === 481 || res.status === 408) dead(String(res.status));
            else if (res.status >= 200 && --pending === 0 && call.state === "Confirmed") {
              this.scheduleKeepalive(call, interval);
            }
          },
          onTimeout: () => dead("timeout"),
          onTransportError: () => dead("unreachable"),
        });
      };
      probe("a");
      probe("b");
    });
  }

  /** Mark the call ended, stop its timers, record, and forget it once its legs settle. */
  private finish(call: Call, by: EndedBy, why: string): void {
    if (call.state === "Ended") return;
    const now = this.opts.clock.wallNow();
    call.state = "Ended";
    call.record.endAt = now;
    call.record.endedBy ??= by;
    call.record.endReason ??= why;
    call.slot?.release();
    for (const at of call.attempts) {
      at.record.endAt ??= now;
      at.slot?.release();
    }
    for (const k of Object.keys(call.timers) as (keyof Call["timers"])[]) this.clearTimer(call, k);
    if (call.mediaUsed) {
      // Any attempt that went through the relay has a session there, even if a later route
      // (failover) does not anchor media.
      try {
        this.svc.media?.end(call);
      } catch (err) {
        this.log.warn("media-end-failed", { call: call.id, err });
      }
    }
    this.calls.delete(call.id);
    if (isWebSocket(call.a.source.protocol)) {
      const key = endpointKey(call.a.source);
      const set = this.byFlow.get(key);
      if (set?.delete(call) && set.size === 0) this.byFlow.delete(key);
    }
    this.retireLegs(call);
    mCalls.inc({ outcome: "ended" });
    for (const rec of call.record.attempts) {
      let totals = this.routeTotals.get(rec.route);
      if (!totals) {
        this.routeTotals.set(rec.route, totals = { attempts: 0, answered: 0, talkSeconds: 0 });
      }
      totals.attempts++;
      mRouteAttempts.inc({ route: rec.route, outcome: rec.outcome ?? "other" });
      if (rec.firstProvisionalAt !== undefined) {
        mRoutePdd.observe(Math.max(0, rec.firstProvisionalAt - rec.inviteAt) / 1000, {
          route: rec.route,
        });
      }
      if (rec.outcome === "answered" && rec.answerAt !== undefined) {
        const talk = Math.max(0, now - rec.answerAt) / 1000;
        totals.answered++;
        totals.talkSeconds += talk;
        mRouteTalk.inc({ route: rec.route }, talk);
      }
    }
    this.log.debug("call-ended", { call: call.id, by, why });
    try {
      this.svc.onCallEnded?.(call.record, call);
    } catch (err) {
      this.log.error("cdr-hook-failed", { call: call.id, err });
    }
  }

  /** A leg by dialog key: a live call's, else an ended call's still kept. */
  private leg(key: string): LiveLeg | EndedLeg | undefined {
    return this.legs.get(key) ?? this.endedLegs.get(key);
  }

  /**
   * Keep the leg index 32 s (64*T1) longer so late messages still match: the caller's ACK for
   * a 2xx, and a 2xx from another fork, which is ACKed and BYEd. What stays is an
   * {@link EndedLeg}, not the call: at thousands of calls per second, ended calls held for 32 s
   * would be most of the heap.
   */
  private retireLegs(call: Call): void {
    const a = call.a;
    const aKey = dialogKey(a.invite.callId, a.localTag);
    this.legs.delete(aKey);
    this.endedLegs.set(
      aKey,
      a.stx.state === "Accepted"
        ? { ended: true, awaitingAck: { stx: a.stx, inviteSeq: a.invite.cseq.seq } }
        : ENDED,
    );
    for (const at of call.attempts) {
      const key = dialogKey(at.invite.callId, at.invite.from.tag!);
      this.legs.delete(key);
      // A fresh identity: at.invite may be the whole INVITE (ended before the caller's ACK)
      // and carries the grammar cached while the call ran. Its values are our own copies.
      this.endedLegs.set(
        key,
        at.state === "Answered" && at.dialog
          ? {
            ended: true,
            answered: identityValues(at.invite),
            remoteTag: at.dialog.remoteTag,
            dest: this.peers.of(at.dest),
          }
          : ENDED,
      );
    }
    const correlations = this.correlations;
    if (correlations) {
      const bCallIds = call.attempts.map((at) => at.invite.callId);
      this.opts.timers.set(32_000, () => {
        for (const id of bCallIds) correlations.delete(id);
      });
    }
  }

  /**
   * Keep, from now on, which call each outgoing leg's Call-ID belongs to, for SIP capture (HEP's
   * correlation id); off forgets it. Legs placed while off are not known.
   */
  correlateLegs(on: boolean): void {
    if (on) this.correlations ??= new Map();
    else this.correlations = undefined;
  }

  /** The caller's Call-ID for an outgoing leg's Call-ID while {@link correlateLegs} is on. */
  callerCallIdOf(callId: string): string | undefined {
    return this.correlations?.get(callId);
  }

  private clearTimer(call: Call, k: keyof Call["timers"]): void {
    call.timers[k]?.cancel();
    call.timers[k] = undefined;
  }

  /**
   * Both dialogs are confirmed: keep only what the rest of the call needs. The INVITEs shrink to
   * their identity, and the ended INVITE transactions are let go (their own timers still absorb
   * retransmissions until they terminate). A held call then costs its dialogs and records.
   */
  private slim(call: Call): void {
    if (call.state !== "Confirmed") return;
    const a = call.a;
    a.invite = identityOf(a.invite);
    a.stx = endedServerTransaction(a.invite, a.source);
    for (const at of call.attempts) {
      at.invite = identityOfOwned(at.invite); // built by startAttempt from copies
      at.ctx = undefined;
      at.own = undefined;
    }
    // Early-dialog PRACKs are over once the caller has ACKed.
    call.reliable = undefined;
    // No more attempts once confirmed: exact-size copies instead of arrays grown by push.
    call.attempts = call.attempts.slice();
    call.record.attempts = call.record.attempts.slice();
  }

  /** Number of legs indexed, live and ended (tests check nothing leaks). */
  get legCount(): number {
    return this.legs.size + this.endedLegs.size;
  }

  /**
   * Where a dialog's next request goes (§12.2.1.1, §18.1.1): the first Route's address, else the
   * remote target's, when it is an IP literal, over the transport its URI names or else `dflt`'s;
   * `dflt` itself when the host is a name. `dflt` is the leg's first hop: where the caller's
   * INVITE came from, or the attempt's destination. A caller over TCP keeps its connection.
   */
  private destOf(d: Dialog, dflt: Endpoint): Endpoint {
    const u = d.nextHop;
    const host = bareHost(u.host);
    // Reuse the caller's connection (TCP or TLS).
    if (d.role === "uas" && isStream(dflt.protocol)) return dflt;
    if (!isIpLiteral(host)) {
      // A WebSocket peer (a browser, RFC 7118) is reached over its connection only, and a
      // `.invalid` host (RFC 6761) is no name to look up.
      if (isWebSocket(dflt.protocol) || host.endsWith(".invalid")) return dflt;
      return this.namedHop(d, u, dflt);
    }
    // A peer behind NAT: its Contact names a private address while its packets come from a
    // public one, with no proxy between (no route set). Its requests go where its packets came
    // from, or they would go nowhere (Kamailio's nat_uac_test and fix_nated_contact).
    if (d.routeSet.length === 0 && isPrivateIp(host) && !isPrivateIp(bareHost(dflt.host))) {
      return dflt;
    }
    const proto = uriProtocol(u, dflt.protocol);
    const port = u.port ?? defaultPort(proto);
    // Mostly the peer's Contact is where the dialog began: no endpoint of its own to keep (a
    // BYE's transaction holds it for its last 5 s).
    if (port === dflt.port && proto === dflt.protocol && host === dflt.host) return dflt;
    const e: Endpoint = { host, port, protocol: proto };
    // The callee's certificate is checked against the route's name wherever its Contact is, and
    // a new WebSocket to it asks for the route's path.
    if (dflt.serverName && isSecure(proto)) e.serverName = dflt.serverName;
    if (dflt.wsPath && isWebSocket(proto)) e.wsPath = dflt.wsPath;
    return e;
  }

  /**
   * A dialog's next hop by host name (a Record-Route or Contact like `sip:edge.carrier.example`):
   * located as RFC 3263 says (§5: as for the first request) once per hop, in the background;
   * until the answer is in, and when nothing is found, requests go where the INVITE went, which
   * for a proxy by name that record-routes is the same place.
   */
  private namedHop(d: Dialog, u: Uri, dflt: Endpoint): Endpoint {
    const key = u.toString();
    const known = this.hops.get(d);
    if (known?.key === key) return known.dest ?? dflt;
    const entry: { key: string; dest?: Endpoint } = { key };
    this.hops.set(d, entry);
    const locate = this.svc.locate;
    if (!locate) return dflt;
    const proto = uriProtocol(u, dflt.protocol);
    const host = bareHost(u.host).toLowerCase();
    const target: LocateTarget = {
      host,
      port: u.port ?? defaultPort(proto),
      transport: proto,
      // §4.1-4.2: a port means addresses only; a transport (or sips:), SRV; neither, NAPTR.
      mode: u.port !== undefined || isWebSocket(proto)
        ? "a"
        : u.params.has("transport") || u.scheme === "sips"
        ? "srv"
        : "naptr",
    };
    locate(target, this.opts.config().sip.dns).then((found) => {
      const e = found.find((x) => this.canReach(x));
      if (!e) return;
      const dest: Endpoint = { host: e.host, port: e.port, protocol: e.protocol };
      // RFC 5922: the certificate must carry the name the URI gives.
      if (isSecure(dest.protocol)) dest.serverName = dflt.serverName ?? host;
      if (dflt.wsPath && isWebSocket(dest.protocol)) dest.wsPath = dflt.wsPath;
      entry.dest = dest;
    }, (err) => {
      this.log.debug("dialog-hop-unresolved", { host, err });
    });
    return dflt;
  }

  private tag(): string {
    return token(this.opts.random, 10);
  }
}

/** Stands in for a caller's INVITE transaction that has nothing more to do. */
function endedServerTransaction(request: SipRequest, source: Endpoint): ServerTransaction {
  return { request, source, state: "Terminated", respond() {}, acked() {} };
}

const NOOP_HANDLER: ClientHandler = {
  onResponse() {},
  onTimeout() {},
  onTransportError() {},
};

/** RFC 3326 Reason for the callee of a browser whose WebSocket closed: a normal clearing. */
const CALLER_GONE = 'Q.850;cause=16;text="Caller connection closed"';

// Our Contact per local address: the same few strings for every call, not one each.
const contacts = new Map<string, string>();

function contactFor(local: Endpoint, sips = false): string {
  const key = (sips ? "sips" : local.protocol) + local.host + "|" + local.port;
  let c = contacts.get(key);
  if (c === undefined) {
    c = detach(
      sips
        ? `<sips:${uriHost(local.host)}:${local.port}${
          local.protocol === "wss" ? ";transport=ws" : ""
        }>`
        : `<sip:${uriHost(local.host)}:${local.port}${transportParam(local.protocol)}>`,
    );
    if (contacts.size < 1024) contacts.set(key, c); // bounded: local addresses are few
  }
  return c;
}

function endpointOf(u: Uri, route: CallRoute): Endpoint {
  const host = bareHost(u.host);
  if (!isIpLiteral(host)) {
    return routeEndpoint(route);
  }
  const protocol = uriProtocol(u, "udp");
  return { host, port: u.port ?? defaultPort(protocol), protocol };
}

/**
 * The route to try after routes[i] failed with `f`. The next server of the same DNS name only
 * on a 503, a timeout or a transport error (RFC 3263 §4.3); any other answer speaks for all of
 * that name's servers, so the first route past them.
 */
function nextRouteIndex(
  routes: readonly CallRoute[],
  i: number,
  f: { kind: "response"; status: number } | { kind: "timeout" } | { kind: "transport-error" },
): number {
  const group = routes[i].dnsGroup;
  if (group === undefined || f.kind !== "response" || f.status === 503) return i + 1;
  let j = i + 1;
  while (j < routes.length && routes[j].dnsGroup === group) j++;
  return j;
}

/**
 * Where a route points, with its TLS server name and WebSocket path when it has them. A route by
 * name goes where DNS said; its certificate must carry the name (RFC 5922 §4), not the server's.
 */
function routeEndpoint(route: CallRoute): Endpoint {
  const r = route.resolved;
  const e: Endpoint = r
    ? { host: r.host, port: r.port, protocol: r.protocol }
    : { host: bareHost(route.host), port: route.port, protocol: route.transport };
  const serverName = route.tlsServerName ?? (r ? route.host : undefined);
  if (serverName && isSecure(e.protocol)) e.serverName = serverName;
  if (route.wsPath && isWebSocket(route.transport)) e.wsPath = route.wsPath;
  return e;
}

/**
 * The protocol a URI names (RFC 3263 §4.1): sips: is TLS (WSS with transport=ws, RFC 7118
 * §5.2), else its transport parameter (tcp, tls, ws, wss; anything else UDP), else `dflt`.
 */
function uriProtocol(u: Uri, dflt: Protocol): Protocol {
  const t = u.params.has("transport") ? u.transport : undefined;
  if (u.scheme === "sips") return sipsProtocol(t);
  if (t === undefined) return dflt;
  return protocolOfToken(t) ?? "udp";
}

/** A route built from a RADIUS "host:port[;transport=tcp|tls|ws|wss]" entry, inheriting the rest. */
function routeFromTarget(t: string, base: RouteConfig, name: string): RouteConfig {
  const m = /^(?:sip:)?(?:[^@]*@)?(\[[^\]]+\]|[^:;]+)(?::(\d+))?(.*)$/i.exec(t.trim());
  if (!m) return base;
  const host = bareHost(m[1]);
  const r: RouteConfig = {
    ...base,
    name,
    host,
    transport: targetTransport(m[3]),
  };
  r.port = m[2] ? Number(m[2]) : defaultPort(r.transport);
  // A name is located like a configured route's (RFC 3263 §4.1-4.2): by its port, else by its
  // transport, else NAPTR first.
  delete r.dns;
  if (!isIpLiteral(host)) {
    r.dns = m[2] || isWebSocket(r.transport) ? "a" : /transport=/i.test(m[3]) ? "srv" : "naptr";
  }
  // The route's certificate name and path are for its own host, not for another RADIUS hands out.
  if (host !== bareHost(base.host)) {
    delete r.tlsServerName;
    delete r.wsPath;
  }
  return r;
}

/** The transport a RADIUS route entry's parameters name; UDP when none (or another) does. */
function targetTransport(params: string): Protocol {
  return protocolOfToken(/transport=([a-z]+)/i.exec(params)?.[1] ?? "") ?? "udp";
}

function isIpLiteral(h: string): boolean {
  return /^[0-9.]+$/.test(h) || h.includes(":");
}

function decodeUser(u: string): string {
  if (!u.includes("%")) return u;
  try {
    return decodeURIComponent(u);
  } catch {
    return u;
  }
}

/**
 * The INVITE's values of the headers a CDR records (`cdr.sip_headers`), each header's values
 * joined by ", "; copied (`keep`) when the record outlives the datagram.
 */
function recordedHeaders(
  req: SipRequest,
  names: readonly string[] | undefined,
  keep: boolean,
): Record<string, string> | undefined {
  if (!names?.length) return undefined;
  let out: Record<string, string> | undefined;
  for (const name of names) {
    const values = req.getAll(name);
    if (!values.length) continue;
    const v = values.join(", ");
    (out ??= {})[name] = keep ? detach(v) : v;
  }
  return out;
}

function quoteDisplay(d: string): string {
  return `"${d.replace(/["\\]/g, (c) => "\\" + c)}"`;
}

/** Headers of an in-dialog request that are relayed to the other leg. */
function inDialogHeaders(req: SipRequest): Header[] {
  const out: Header[] = [];
  for (const h of req.headers) {
    if (PASS_IN_DIALOG.has(h.key) || h.key.startsWith("x-")) out.push({ ...h });
  }
  return out;
}

/**
 * Copy the option tags of `from`'s Require and Supported that are in `known` onto `to`, after
 * the tags in `require` (which we require ourselves).
 */
function copyOptionTags(
  from: SipMessage,
  to: SipMessage,
  known: ReadonlySet<string>,
  require: readonly string[] = NO_TAGS,
): void {
  const req = knownTags(optionTags(from, "require"), known);
  if (require.length + req.length > 0) to.add("Require", [...require, ...req].join(", "));
  const sup = knownTags(optionTags(from, "supported"), known);
  if (sup.length > 0) to.add("Supported", sup.join(", "));
}

/** §8.2.2.3: 420 Bad Extension, with the option tags we do not support in Unsupported. */
function badExtension(req: SipRequest, tags: readonly string[], toTag?: string): SipResponse {
  const r = createResponse(req, 420, undefined, toTag);
  r.add("Unsupported", tags.join(", "));
  return r;
}

/** RFC 3262 §7.1: the RSeq of a reliable provisional (Require: 100rel), else undefined. */
function reliableSeq(res: SipResponse): number | undefined {
  if (res.status <= 100 || res.status >= 200) return undefined;
  const v = res.get("rseq");
  if (v === undefined || !optionTags(res, "require").includes("100rel")) return undefined;
  const n = /^\d{1,10}$/.test(v.trim()) ? Number(v.trim()) : 0;
  return n >= 1 && n <= 0xffffffff ? n : undefined;
}

/** RFC 3262 §7.2: RAck = response-num CSeq-num Method, or undefined when malformed. */
function parseRAck(
  v: string | undefined,
): { rseq: number; cseq: number; method: string } | undefined {
  const m = v === undefined ? null : /^\s*(\d{1,10})\s+(\d{1,10})\s+([A-Za-z]+)\s*$/.exec(v);
  if (!m) return undefined;
  return { rseq: Number(m[1]), cseq: Number(m[2]), method: m[3] };
}

/** Copy relayable headers (Content-Type, Reason, ...) of a response onto another. */
function copyHeaders(from: Header[], to: Header[]): void {
  for (const h of from) {
    if (PASS_IN_DIALOG.has(h.key) || h.key.startsWith("x-")) to.push({ ...h });
  }
}

function rewriteUser(user: string, rw: UserRewrite | undefined): string {
  return rw ? applyUserRewrite(rw, user) : user;
}

/**
 * A received user part for a URI Tandem builds: unescaped to be rewritten, escaped again to be
 * written. One that does not unescape (escapes that are not UTF-8) is rewritten as received and
 * keeps its escapes, so they are not escaped twice.
 */
function userForUri(received: string, rw: UserRewrite | undefined): string {
  const plain = decodeUser(received);
  const undecodable = plain === received && received.includes("%");
  return escapeUser(rewriteUser(plain, rw), undecodable);
}

/** A version 4 UUID (RFC 9562 §5.4) from the injected random source. */
function uuid(random: Random): string {
  let hex = "";
  for (let i = 0; i < 32; i++) {
    let d = Math.floor(random() * 16);
    if (i === 12) d = 4;
    else if (i === 16) d = 8 | (d & 3);
    hex += d.toString(16);
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

const numbersOf = new WeakMap<Config, Map<string, string[] | undefined>>();

/**
 * Whether the caller authenticated as `user` may present `number` (its `numbers` prefixes); yes
 * when nobody authenticated locally or the user names no numbers: nothing says otherwise.
 */
function ownsNumber(cfg: Config, user: string | undefined, number: string): boolean {
  if (user === undefined || !cfg.users) return true;
  let m = numbersOf.get(cfg);
  if (!m) numbersOf.set(cfg, m = new Map(cfg.users.map((u) => [u.username, u.numbers])));
  const prefixes = m.get(user);
  if (!prefixes) return true;
  const digits = telDigits(number);
  return digits !== undefined && prefixes.some((p) => digits.startsWith(p));
}

/** A user part that is a telephone number (RFC 3966 digits and visual separators). */
function isPhoneNumber(user: string): boolean {
  return /^\+?[0-9][0-9().-]*$/.test(user);
}

/** The user of the INVITE's first P-Asserted-Identity, when it names one. */
function assertedUser(req: SipRequest): string | undefined {
  const v = req.get("p-asserted-identity");
  if (v === undefined) return undefined;
  try {
    return parseNameAddr(v, "P-Asserted-Identity").uri.user || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The verdict in each P-Asserted-Identity the callee gets, as in From: a tel: URI's parameter,
 * or a parameter of a SIP URI's number (3GPP TS 24.229 §7.2A.20).
 */
function markAssertedIdentity(req: SipRequest, verstat: string): void {
  const values = req.getAll("p-asserted-identity");
  if (values.length === 0) return;
  req.remove("p-asserted-identity");
  for (const v of values) {
    try {
      const na = parseNameAddr(v, "P-Asserted-Identity");
      const u = na.uri;
      if (u.scheme === "tel" && u.user) u.params.set("verstat", verstat);
      else if (u.user && isPhoneNumber(u.user)) u.user = `${u.user};verstat=${verstat}`;
      req.add("P-Asserted-Identity", na.toString());
    } catch {
      req.add("P-Asserted-Identity", v);
    }
  }
}

const priorityRules = new WeakMap<Config, boolean>();

/** Whether any rule of `cfg` lets its calls in past load shedding (`priority`). */
function hasPriorityRule(cfg: Config): boolean {
  let has = priorityRules.get(cfg);
  if (has === undefined) priorityRules.set(cfg, has = cfg.rules.some((r) => r.priority === true));
  return has;
}

// Configured routes by name, built once per loaded configuration (RADIUS names routes per call).
const routeIndex = new WeakMap<Config, Map<string, RouteConfig>>();

function routesByName(cfg: Config): Map<string, RouteConfig> {
  let m = routeIndex.get(cfg);
  if (m === undefined) {
    // Top-level routes first: a rule's route of the same name does not hide the trunk.
    m = new Map(cfg.rules.flatMap((r) => r.routes).map((r) => [r.name, r]));
    for (const r of cfg.routes ?? []) m.set(r.name, r);
    routeIndex.set(cfg, m);
  }
  return m;
}

/**
 * The limit counters as samples, rebuilt at each scrape: a rule or route a reload removed leaves
 * no stale sample behind.
 */
function exportLimits(t: LimitTable): void {
  mRuleCalls.values.clear();
  mRouteCalls.values.clear();
  mLimitRefusals.values.clear();
  for (const [rule, u] of t.rules) mRuleCalls.set(u.live, { rule });
  for (const [route, u] of t.routes) mRouteCalls.set(u.live, { route });
  for (const scope of ["rule", "route"] as const) {
    for (const [name, u] of scope === "rule" ? t.rules : t.routes) {
      for (const limit of ["calls", "cps"] as const) {
        if (u.refused[limit] > 0) mLimitRefusals.set(u.refused[limit], { scope, name, limit });
      }
    }
  }
}

/**
 * 503 for a call refused at a limit, without Retry-After: that would make a proxy in front avoid
 * all of Tandem for a while (RFC 3261 §21.5.4), not just the full rule or route.
 */
function limitResponse(req: SipRequest, why: LimitRefusal, tag: string): SipResponse {
  const r = createResponse(req, 503, LIMIT_REASON[why].phrase, tag);
  r.add("Reason", LIMIT_REASON[why].reason);
  return r;
}

// The contract between the HTTP API and the running B2BUA. The HTTP layer sits at the top beside
// mod.ts and must not import b2bua internals, so the wiring hands it one object implementing
// this interface. Every shape here is what the API returns as JSON, so fields are plain data:
// ISO-8601 strings for times, `null` (not a missing key) for "not yet".

/** Liveness of one listening SIP socket. */
export interface TransportHealth {
  /** Human label, e.g. "udp 127.0.0.1:5060". */
  name: string;
  ok: boolean;
  /** Why it is not ok (socket closed, bind lost...), for the operator. */
  detail?: string;
}

/** What GET /health reports: the process is alive and can still serve SIP. */
export interface HealthReport {
  /** False when the wiring knows the process is unhealthy for a reason not listed below. */
  ok: boolean;
  transports: TransportHealth[];
  /** Latest event-loop lag sample (see src/util/process-metrics.ts). */
  eventLoopLagMs: number;
}

/** What GET /ready reports: whether new calls should be sent here. */
export interface ReadyReport {
  ready: boolean;
  /** Why not, e.g. "draining" or "no routing rules loaded". */
  reason?: string;
}

/** Query filters of GET /calls; every given criterion must hold. */
export interface CallFilter {
  /** Exact call state, e.g. "ringing", "answered". */
  state?: string;
  /** Exact route name. */
  route?: string;
  /** Substring of the caller's From URI or user. */
  caller?: string;
  /** Substring of the callee's Request-URI or user. */
  callee?: string;
  /** At most this many calls (the API always passes a value, default 1000). */
  limit?: number;
}

/** The incoming (A) leg. */
export interface CallerLegSummary {
  callId: string;
  /** From header URI as received. */
  from: string;
  /** To header URI as received. */
  to: string;
  /** Request-URI as received. */
  ruri: string;
  /** Source address of the INVITE, "host:port" (IPv6 in brackets). */
  source: string;
  /** Dialog state of this leg, e.g. "early", "confirmed", "terminated". */
  state: string;
}

/** The outgoing (B) leg of the current attempt. */
export interface CalleeLegSummary {
  callId: string;
  /** Request-URI sent, after rewrites. */
  ruri: string;
  /** Next hop, "transport:host:port". */
  target: string;
  state: string;
}

/** One call as GET /calls and GET /calls/:id return it. */
export interface CallSummary {
  /** Tandem's call id (what DELETE /calls/:id takes). */
  id: string;
  state: string;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  /** Name of the matching rule, null before routing. */
  rule: string | null;
  /** Name of the route of the current attempt, null before the first attempt. */
  route: string | null;
  /** 1-based attempt number (failover increments it); 0 before the first attempt. */
  attempt: number;
  caller: CallerLegSummary;
  callee: CalleeLegSummary | null;
  /** Seconds since answer (to end, if ended); 0 when never answered. */
  durationSeconds: number;
  /** With several SIP workers (`sip.workers`), the one holding the call; absent otherwise. */
  worker?: number;
  /** The digest user name the caller authenticated with, when its rule asks for one. */
  user?: string;
  /** STIR/SHAKEN: the caller's Identity as checked (verstat), and the attestation Tandem signed. */
  identity?: { verstat?: string; attest?: string; signed?: string };
}

/** Outcome of POST /reload; on failure the running config is unchanged. */
export type ReloadResult =
  /** `restartNeeded`: changed keys that only a restart applies (sockets, CDRs, RADIUS...). */
  | { ok: true; rules: number; restartNeeded: string[] }
  | { ok: false; errors: string[] };

/** Outcome of POST /drain. */
export interface DrainResult {
  /** Calls still up when draining started. */
  activeCalls: number;
  /** ISO time after which remaining calls are dropped. */
  deadline: string;
}

/** Outcome of POST /gc. */
export interface GcResult {
  /** JavaScript heap in use before and after, summed over the SIP workers. */
  heapBeforeBytes: number;
  heapAfterBytes: number;
  /** Longest time one worker's thread was held by its collection, ms. */
  ms: number;
  /** How many heaps were collected (1 + extra SIP workers that answered). */
  heaps: number;
  /** Live objects after the collection, where the runtime counts them (the Bun binary). */
  objects?: number;
}

/** A configured route (all routes of one name: one trunk), for GET /routes. */
export interface RouteStatus {
  name: string;
  /** Where it points: "udp:192.0.2.10:5060", or a host name and its lookup ("dns:srv:..."). */
  target: string;
  /** The rules that use it. */
  rules: string[];
  /** Attempts ringing and calls answered on it now (what its limits count). */
  calls: number;
  /** Since start: attempts on it that have ended with their call, the answered ones among them,
   * and their talk time (ASR and ACD, as in /metrics). */
  attempts: number;
  answered: number;
  talkSeconds: number;
  maxCalls?: number;
  maxCps?: number;
  /** Its probed servers (routes with `probe`): empty when not probed. */
  servers: ServerStatus[];
  /**
   * Routes with `quality`: over their window, attempts settled, the answered share, the mean
   * post-dial delay, and whether that makes the route degraded (tried after the others).
   */
  quality?: { calls: number; asr: number; pddMs?: number; degraded: boolean };
}

/** One probed server of a route. */
export interface ServerStatus {
  target: string;
  state: "up" | "down";
  /** ISO time of its last change of state (or of the start of probing). */
  since: string;
  /** What the last probe or failed attempt found: a status code or why it failed. */
  last: string;
}

/** A phone registered through Tandem at the `registrar` (GET /registrations). */
export interface RegistrationStatus {
  /** Its address of record. */
  aor: string;
  /** Its Contact, as it registered it. */
  contact: string;
  /** The connection it registered over ("ws:192.0.2.7:50312"). */
  via: string;
  /** The user part of Tandem's Contact for it at the registrar. */
  token: string;
  /** ISO time the registrar's grant runs out. */
  expires: string;
}

/** An account Tandem registers at a carrier (GET /outbound-registrations). */
export interface OutboundRegistrationStatus {
  name: string;
  aor: string;
  /** registering, registered, failed, unregistering or stopped. */
  state: string;
  /** Tandem's Contact as last registered. */
  contact: string | null;
  /** The registrar's server last used ("udp:192.0.2.10:5060"). */
  server: string | null;
  /** ISO time the binding runs out, while registered. */
  expires: string | null;
  /** ISO time of the next REGISTER: a refresh, or a retry after a failure. */
  next: string | null;
  /** The last answer ("200") or what went wrong ("timeout", "401 ...: credentials refused"). */
  last: string;
  /** Failures in a row. */
  failures: number;
  /** ISO time of the last change of state. */
  since: string;
}

/** GET /config: what Tandem runs with now. */
export interface EffectiveConfig {
  /** The file it was loaded from ("<embedded>" for the built-in default). */
  source: string;
  config: Record<string, unknown>;
}

/** A source address whose new requests are dropped (`limits.per_source`). */
export interface BannedSource {
  address: string;
  /** ISO time the ban ends. */
  until: string;
}

/** A value now, or later when it has to be asked of other SIP worker processes. */
export type Awaitable<T> = T | Promise<T>;

/** What the HTTP API needs from the running Tandem; the lead implements it in the wiring. */
export interface ControlPlane {
  /** Cheap: called by every liveness probe. */
  health(): Awaitable<HealthReport>;
  ready(): Awaitable<ReadyReport>;
  listCalls(filter: CallFilter): Awaitable<CallSummary[]>;
  getCall(id: string): Awaitable<CallSummary | undefined>;
  /** Hang up both legs (BYE or CANCEL as the state needs); false when the id is unknown. */
  dropCall(id: string, reason?: string): Awaitable<boolean>;
  /** Re-read the config file and swap routing rules if it validates. */
  reload(): Promise<ReloadResult>;
  /** Stop taking new calls (503 + Retry-After); drop what is left after `deadlineMs`. */
  drain(deadlineMs?: number): Awaitable<DrainResult>;
  /** Flat counters for GET /stats (active calls, totals...). */
  stats(): Awaitable<Record<string, number>>;
  /** The configured routes: their calls, limits and probed servers. */
  routes(): Awaitable<RouteStatus[]>;
  /** Phones registered through Tandem now (none without a `registrar`). */
  registrations(): Awaitable<RegistrationStatus[]>;
  /** Accounts registered at carriers (`outbound_registrations`), each with its state. */
  outboundRegistrations(): Awaitable<OutboundRegistrationStatus[]>;
  /** Sources banned now by `limits.per_source` (none when it is off). */
  bannedSources(): Awaitable<BannedSource[]>;
  /**
   * The configuration running now (after any reload): the file it came from and its effective
   * document, defaults filled in and secrets masked, keyed as in the file.
   */
  effectiveConfig(): Awaitable<EffectiveConfig>;
  /** Lift a source's ban at once; false when it had none. */
  unbanSource(address: string): Awaitable<boolean>;
  /**
   * POST /gc: a full garbage collection now, in every SIP worker, and the heap before and after
   * summed over them; undefined when the runtime exposes no collector (Deno without
   * --v8-flags=--expose-gc).
   */
  collectGarbage(): Awaitable<GcResult | undefined>;
  /**
   * The Prometheus exposition when it is more than this process's registry (several SIP
   * workers); absent: the app exposes its registry.
   */
  metrics?(): Promise<string>;
}

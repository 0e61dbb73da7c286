// The effective configuration after loading, validation and defaults. Every duration is in
// milliseconds here, whatever unit the file used. This file is the contract between the config
// loader and the layers that read it.

import type { LocateMode } from "../transport/locate.ts";
import type { Protocol } from "../transport/types.ts";

/** One listen socket set: an address and port, over one or more transports. */
export interface ListenConfig {
  address: string; // bare IP literal, "0.0.0.0" or "::" for all
  port: number;
  transports: Protocol[];
}

export interface SipConfig {
  listen: ListenConfig[];
  /** Address written in Via/Contact when bound to a wildcard; undefined = pick per destination. */
  advertise?: string;
  /** RFC 3261 timers, ms. */
  t1: number;
  t2: number;
  t4: number;
  maxMessageSize: number;
  maxHeaders: number;
  /** SO_RCVBUF asked for each UDP socket, bytes; 0 leaves the OS default. */
  udpReceiveBuffer: number;
  /**
   * Send UDP from a thread beside the JavaScript thread where the runtime can (Bun, Linux).
   * Off by default: on a box without an idle core it costs more than it frees.
   */
  udpSendThread: boolean;
  tcpIdleTimeout: number;
  tcpConnectTimeout: number;
  /** Most connections each TCP or TLS listener holds; more inbound ones are closed at once. */
  tcpMaxConnections: number;
  /**
   * `sip.websocket.origins`: the web origins ("https://app.example.com") whose pages may open a
   * WebSocket; empty: any. A handshake without Origin (not from a browser) is always let in.
   */
  wsOrigins: string[];
  userAgent: string;
  /**
   * SIP worker processes sharing the UDP ports, each holding the calls whose Call-ID hashes
   * to it (1: everything in this process).
   */
  workers: number;
  /** Certificates for TLS listeners and connections; required when TLS is used. */
  tls?: TlsConfig;
  /** `sip.dns`: the DNS servers asked for routes by host name (RFC 3263). */
  dns: DnsConfig;
}

/** `sip.dns`. */
export interface DnsConfig {
  /** "ip:port" servers in order; empty: the nameservers of /etc/resolv.conf. */
  servers: { host: string; port: number }[];
  /** Per try, ms. */
  timeout: number;
  /** Rounds over the servers before a lookup fails. */
  attempts: number;
}

/** `sip.tls`: files as configured (absolute) and their PEM text, read at load. */
/** A certificate chain and its private key, as read from their files at load. */
export interface CertAndKey {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
  /** When the certificate (the first in `cert`) expires, ms since the epoch. */
  notAfter: number;
}

export interface TlsConfig extends CertAndKey {
  caFile?: string;
  ca?: string;
  /** Check callees' certificates (default true). */
  verifyServer: boolean;
  /** Require and check callers' certificates (default false). */
  verifyClient: boolean;
}

export interface HttpConfig {
  /** Disabled when undefined. */
  address: string;
  port: number;
  token?: string;
  /** HTTPS: the API's certificate and key (read again on reload). */
  tls?: CertAndKey;
  /** CIDR blocks requests may come from; undefined: any address. */
  allow?: string[];
}

export interface LogConfig {
  level: "debug" | "info" | "warn" | "error";
  format: "json" | "pretty";
}

/** What a routing rule matches on; every given criterion must hold. */
export interface MatchConfig {
  ruriUserPrefix?: string[];
  ruriUserRegex?: RegExp;
  fromUserPrefix?: string[];
  fromUserRegex?: RegExp;
  /** CIDR blocks, e.g. "10.0.0.0/8", "::1/128". */
  source?: string[];
  /**
   * Headers of the INVITE that must be present with a value matching (the first line's value):
   * what tells customers apart behind a proxy whose address they all share.
   */
  headers?: { name: string; regex: RegExp }[];
  /** When the rule holds: days, hours and dates excepted, in a time zone (time-of-day routing). */
  time?: TimeMatch;
}

/** `match.time`: the rule holds on these days, in these hours, except on these dates. */
export interface TimeMatch {
  /** IANA time zone the days, hours and dates are read in (default UTC). */
  timezone: string;
  /** Day numbers, Monday 0 to Sunday 6; absent: every day. */
  days?: number[];
  /** Windows as [from, to) minutes of the day; to < from crosses midnight; absent: all day. */
  hours?: [number, number][];
  /** Local dates (YYYY-MM-DD) the rule does not hold on: public holidays. */
  except?: string[];
}

/** Request-URI user rewrite (Sippy CLD-style): strip, then regex replace, then prefix. */
export interface UserRewrite {
  strip: number;
  prefix: string;
  regex?: RegExp;
  replace: string;
}

export interface CallerIdRewrite {
  /** Replace the From user. */
  user?: string;
  /** Replace the From display name (without quotes). */
  display?: string;
  /** Apply a rewrite to the From user. */
  rewrite?: UserRewrite;
}

export interface RouteTimers {
  /** No 1xx within this → next route (ms). Default 5000. */
  noProgress?: number;
  /** No 2xx within this after the first 1xx → CANCEL, caller gets 480/408 (ms). */
  noAnswer?: number;
  /** Maximum call duration after answer → BYE both sides (ms). */
  maxDuration?: number;
}

export interface HeaderPolicy {
  /** Headers added to the outgoing INVITE (name → value). */
  add: Record<string, string>;
  /** Header names (lowercase; "x-*" wildcard allowed) copied from the incoming INVITE. */
  pass: string[];
  /** Header names (lowercase) never copied, even if `pass` matches. */
  remove: string[];
}

/**
 * Calls a rule or route may carry: at once, and new ones per second. A route's limits belong to
 * its name: routes of one name (one trunk, used by several rules) share them.
 */
export interface CallLimits {
  maxCalls?: number;
  maxCps?: number;
}

export interface RouteConfig {
  /** Human name, for CDRs and logs; routes of one name share one set of call counters. */
  name: string;
  /** An IP literal, or a host name located by DNS at call time (RFC 3263, see `dns`). */
  host: string;
  /** The port given, or the transport's default when none was (then SRV may name another). */
  port: number;
  transport: Protocol;
  /**
   * For a host name only: "a" when the port was given (A/AAAA), "srv" when only the transport
   * was (SRV, then A/AAAA), "naptr" when neither was (NAPTR, SRV, then A/AAAA on UDP 5060).
   */
  dns?: LocateMode;
  /**
   * An ENUM route (RFC 6116): the apex (e164.arpa, or a private tree) under which each call's
   * called number is looked up; the call goes to the SIP URIs its NAPTR records give, in their
   * order, and a number with none skips the route. `host` is the apex then, for display.
   */
  enum?: string;
  /**
   * TLS only: the name the callee's certificate must carry (and the SNI sent), when it is
   * issued for a host name rather than the IP dialled.
   */
  tlsServerName?: string;
  /** WebSocket only: the path of the upgrade request (RFC 6455 §4.1), when not "/". */
  wsPath?: string;
  /**
   * The host the Request-URI and To carry instead of `host` (a carrier's SIP domain, when
   * `host` is the address of its proxy); no port goes with it.
   */
  domain?: string;
  /** The host of From instead of Tandem's address (a carrier that checks its calls' From). */
  fromDomain?: string;
  ruriUser?: UserRewrite;
  callerId?: CallerIdRewrite;
  timers: RouteTimers;
  /** Final codes that end the call instead of failing over. Default [486, 600, 603]. */
  stopCodes: number[];
  /** Fail over on a timeout / transport error. Default true. */
  failoverOnTimeout: boolean;
  /** Follow 3xx instead of relaying them. Default false. */
  followRedirects: boolean;
  /** Upstream digest credentials for 401/407. */
  auth?: { username: string; password: string };
  headers: HeaderPolicy;
  /** In-dialog OPTIONS every `interval` ms to both legs (re-INVITE probes are not offered: they
   * would need a fresh SDP offer per probe). */
  keepalive?: { method: "OPTIONS"; interval: number };
  media: "none" | "rtpengine" | "rtpproxy";
  /** Full (at max_calls or max_cps): the route is skipped like one that refused the call. */
  limits?: CallLimits;
  /** Health probing of the route's servers; a server found down is skipped. */
  probe?: RouteProbe;
  /** Its share of first attempts in a rule whose `order` is "weighted" (default 1). */
  weight: number;
  /**
   * A 503 with Retry-After from one of its servers holds that server back for that long, up to
   * this many ms (RFC 3263 §4.3); absent: not at all (one call's 503 must not shut a trunk).
   */
  respectRetryAfter?: number;
  /** Quality-based routing: below these figures the route is tried after the others. */
  quality?: RouteQualityConfig;
  /**
   * The `registrar` only: ms between keep-alives (a double CRLF) to each phone registered over
   * UDP, for the NAT in front of it; unset: none.
   */
  natKeepalive?: number;
  /**
   * `trusted: false`: the next hop is outside the trust domain (RFC 3325 §5), so the caller's
   * privacy requests (RFC 3323) are carried out before its INVITE leaves; absent: trusted.
   */
  trusted?: false;
}

/**
 * `quality`: over the last `window` ms, a route with at least `minCalls` attempts whose answer
 * share (ASR) is under `minAsr`, or whose mean post-dial delay is over `maxPdd`, is degraded:
 * its calls try it after every route that is not.
 */
export interface RouteQualityConfig {
  window: number;
  minCalls: number;
  /** 0..1. */
  minAsr?: number;
  /** ms. */
  maxPdd?: number;
}

/**
 * `probe`: an OPTIONS to each of the route's servers every `interval` ms. A server is down
 * after `downAfter` failures in a row (no final answer within `timeout`, a transport error,
 * 408 or 503; a call attempt to it timing out or failing to send counts too), up again after
 * `upAfter` answered probes.
 */
export interface RouteProbe {
  interval: number;
  timeout: number;
  downAfter: number;
  upAfter: number;
}

/** Authentication/authorization of incoming calls for a rule. */
export interface RuleAuth {
  /**
   * RADIUS by source address or digest, the operator's HTTP service (`http_authorization`), or
   * digest against the configuration's own `users` (local).
   */
  mode: "none" | "source" | "digest" | "http" | "local";
  realm: string;
  /** On RADIUS timeout: "reject" (503) or "allow". */
  onTimeout: "reject" | "allow";
  /** Mode http only: challenge the caller (407) and pass its credentials to the service. */
  digest?: boolean;
  /**
   * `calling_number: enforce`: a caller authenticated as a `users` entry with `numbers` may only
   * present those numbers (P-Asserted-Identity's, else From's); another gets 403.
   */
  callingNumber?: "enforce";
}

export interface RuleConfig {
  name: string;
  match: MatchConfig;
  routes: RouteConfig[];
  auth: RuleAuth;
  /** Beyond these, new calls matching the rule get 503 (Q.850 cause 34 or 42). */
  limits?: CallLimits;
  /**
   * The order each call tries the routes in: as listed; starting one further down the list
   * for each call ("round-robin"); or drawn by the routes' weights ("weighted"). A call fails
   * over through all of them whatever the order.
   */
  order: "listed" | "round-robin" | "weighted";
  /**
   * Emergency and priority calls: let in past load shedding and `limits.max_calls` (never past
   * a drain, nor the rule's and routes' own limits).
   */
  priority?: boolean;
  /** `reject`: calls matching the rule get this final answer and go nowhere (no routes). */
  reject?: { status: number; reason?: string };
  /** `stir_shaken`: this rule's signing and checking, over the section's defaults. */
  stirShaken?: RuleStirShaken;
  /** `record`: its calls' media is recorded by rtpengine (its routes anchor media there). */
  record?: boolean;
  /**
   * `route_table`: each call's routes come from this table, by the longest prefix of the called
   * number, cheapest first; `routes` then serve numbers the table has no prefix for.
   */
  routeTable?: string;
}

/**
 * `route_tables[]`: least-cost routing. A CSV file of `prefix,route,cost` lines read at load (and
 * on reload); routes are named routes of the configuration (top-level `routes` or rules').
 */
export interface RouteTable {
  name: string;
  file: string;
  /** Prefix (digits, no "+") → route names, cheapest first (ties in file order). */
  prefixes: Map<string, string[]>;
  /** The longest prefix's length, where a lookup starts. */
  longest: number;
}

/**
 * How a rule checks callers' Identity: not at all; mark the verdict (verstat) for the callee;
 * reject failures (RFC 8224 §6.2.2's 438/437/436/403); or also require one (428).
 */
export type VerifyMode = "off" | "mark" | "reject" | "require";

/** `users[]`: a caller's digest credentials; a password, or the MD5 HA1 for the rules' realm. */
export interface LocalUserConfig {
  username: string;
  password?: string;
  ha1?: string;
  /**
   * The number prefixes (digits, no "+") this caller may present: a signing rule's attestation
   * A (ATIS-1000074: the provider knows the caller and its right to the number) drops to B for a
   * calling number outside them. Absent: no such check.
   */
  numbers?: string[];
}

/** RFC 8588 attestation levels. */
export type Attestation = "A" | "B" | "C";

/** What a rule's calls get from STIR/SHAKEN. */
export interface RuleStirShaken {
  /** Sign the INVITEs placed for these calls with this attestation; "none": do not sign. */
  attest?: Attestation | "none";
  /** The PASSporT's origid (where calls enter the network); absent: a UUID per call. */
  origid?: string;
  /** Check the callers' Identity headers (see VerifyMode). */
  verify?: VerifyMode;
}

/**
 * `stir_shaken`: signing of the calls Tandem places (RFC 8224 authentication service) and
 * checking of the calls it receives (verification service), ATIS-1000074 SHAKEN profile.
 */
export interface StirShakenConfig {
  sign?: {
    keyFile: string;
    /** The PEM text of the EC P-256 private key, read at load. */
    key: string;
    /** The certificate's URL, for verifiers. */
    x5u: string;
    /** For rules that do not say; absent: only rules with `attest` sign. */
    attest?: Attestation;
  };
  verify?: {
    /** For rules that do not say. */
    mode: VerifyMode;
    caFile: string;
    /** The PEM text of the trusted STI-CA certificates, read at load. */
    ca: string;
    /** ms an iat may be off from now. */
    maxAge: number;
    /** ms a certificate fetch may take. */
    fetchTimeout: number;
    /** ms a fetched certificate is kept. */
    cacheTtl: number;
    /** Fetch http: x5u URLs too (ATIS-1000074 wants https). */
    allowHttp: boolean;
  };
}

export interface RadiusServer {
  address: string;
  authPort: number;
  acctPort: number;
  secret: string;
  timeout: number;
  retries: number;
}

export interface RadiusConfig {
  servers: RadiusServer[];
  nasIp?: string;
  /** Cisco h323-gw-id. */
  gatewayId: string;
  /** Interim-Update interval (ms); 0 = off. */
  interimInterval: number;
  /** "draft-sterman" (default) or "rfc5090". */
  digestStyle: "draft-sterman" | "rfc5090";
}

/**
 * `http_authorization`: the operator's HTTP service that authorizes and routes the calls of rules
 * with `auth.mode: http` (a JSON POST per new call; see src/aaa/http-authorize.ts).
 */
export interface HttpAuthorizationConfig {
  url: string;
  /** ms; past it the rule's `on_timeout` decides. */
  timeout: number;
  /** HTTP headers sent with each request (a bearer token). */
  headers: Record<string, string>;
  /** The INVITE's headers passed on to the service (lowercase names). */
  sipHeaders: string[];
}

/** `hep`: where SIP captures go (an IP literal and UDP port) and how they are labelled. */
export interface HepConfig {
  host: string;
  port: number;
  /** The capture agent id the server files Tandem's captures under. */
  agentId: number;
  password?: string;
}

export interface CdrConfig {
  dir: string;
  fsync: "every" | "batched";
  fsyncInterval: number;
  rotateBytes: number;
  file?: { path: string; format: "jsonl" | "csv"; rotate: "daily" | "size"; rotateBytes: number };
  radius: boolean;
  webhook?: { url: string; batch: number; timeout: number; headers: Record<string, string> };
  /** Also record calls refused before any route was tried: no rule (404), a rule's limits (503). */
  refused: boolean;
  /** The caller's INVITE headers recorded in each CDR (lowercase names). */
  sipHeaders: string[];
  /**
   * The answered-call ledger's checkpoint interval (ms): calls up when Tandem stops without
   * ending them get a CDR billed to the last checkpoint. 0: no ledger.
   */
  checkpoint: number;
}

export interface MediaRelayServer {
  address: string;
  port: number;
  weight: number;
}

export interface MediaConfig {
  rtpengine: MediaRelayServer[];
  rtpproxy: MediaRelayServer[];
  onFailure: "reject" | "pass";
  /** Payload type names or numbers allowed (codec mask); empty = all. */
  codecs: string[];
  ice: "strip" | "keep";
  timeout: number;
  retries: number;
}

export interface LimitsConfig {
  /** New INVITEs beyond this many live calls get 503. */
  maxCalls: number;
  /** Retry-After seconds sent with 503 when shedding load or draining. */
  retryAfter: number;
  /** Deadline for POST /drain before live calls are dropped (ms). */
  drainTimeout: number;
  /** Flood protection by source address; undefined: off. */
  perSource?: SourceLimits;
  /**
   * `drop_user_agents`: new requests whose User-Agent holds one of these (lower case) are
   * dropped unanswered: SIP scanners. Empty: none.
   */
  dropUserAgents: string[];
}

/** `limits.per_source`: a source sending new requests faster than this is ignored a while. */
export interface SourceLimits {
  /** New requests (outside a dialog) a second from one address; a burst of one second's worth. */
  maxRequests: number;
  /** How long a source past it is ignored (ms). */
  banMs: number;
  /** CIDR blocks never limited: a proxy in front, carriers. */
  trusted: string[];
  /** An IPv6 source is its network of this many bits (64: one host's /64; 128: the address). */
  ipv6Prefix: number;
}

export interface Config {
  /** File the config came from ("<embedded>" for the default). */
  source: string;
  sip: SipConfig;
  http?: HttpConfig;
  log: LogConfig;
  limits: LimitsConfig;
  rules: RuleConfig[];
  /** `users`: callers that rules with `auth.mode: local` authenticate by digest. */
  users?: LocalUserConfig[];
  /** Top-level `routes`: trunks named by route tables, RADIUS and the HTTP service. */
  routes?: RouteConfig[];
  routeTables?: RouteTable[];
  radius?: RadiusConfig;
  httpAuthorization?: HttpAuthorizationConfig;
  /** A HEPv3 copy of every SIP message in and out, to a capture server (Homer). */
  hep?: HepConfig;
  stirShaken?: StirShakenConfig;
  cdr?: CdrConfig;
  media?: MediaConfig;
  /**
   * `registrar`: where REGISTERs from phones over WebSocket are relayed, as a route (its target,
   * and the options of the calls the registrar then sends to those phones: media, timers...).
   * Absent: REGISTER gets 405.
   */
  registrar?: RouteConfig;
  /** Accounts Tandem keeps registered at carriers' registrars (RFC 3261 §10.2), as a UAC. */
  outboundRegistrations?: OutboundRegistrationConfig[];
}

/**
 * `outbound_registrations[]`: one address of record Tandem registers itself for, so that the
 * carrier sends its calls to Tandem's Contact (and accepts calls from it).
 */
export interface OutboundRegistrationConfig {
  name: string;
  /** Where the REGISTERs go (its target, transport, TLS name, WebSocket path; `dns` as routes). */
  route: RouteConfig;
  /** The address of record: From and To. */
  aor: string;
  /** Request-URI: the AOR's domain (§10.2), unless given. */
  registrarUri: string;
  /** User part of Tandem's Contact, and so of the Request-URI of the calls the carrier sends. */
  contactUser: string;
  /** Seconds asked for. */
  expires: number;
  /** `nat_keepalive`: ms between keep-alives (a double CRLF) on the binding's flow; unset: none. */
  natKeepalive?: number;
  auth?: { username: string; password: string };
}

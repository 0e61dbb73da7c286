// Optional services plugged into the B2BUA according to the configuration: upstream digest
// answers, CDRs (journal + sinks), RADIUS authorization and Cisco-style accounting.

import {
  accountingInterim,
  accountingStart,
  type AuthorizationResult,
  authorizeBySource,
  authorizeDigest,
  checkNonce,
  digestAuthorization,
  digestChallenge,
  type DigestCredentials,
  digestResponseMatches,
  httpAuthorize,
  type HttpAuthorizeRequest,
  type LocalUser,
  NonceCounts,
  parseProxyAuthorization,
  RadiusAccountingSink,
  RadiusClient,
  reasonToQ850,
  sipToQ850,
} from "../aaa/mod.ts";
import type { Authorization, B2buaServices, Call, CallRecord } from "../b2bua/mod.ts";
import {
  type AnsweredCall,
  CdrJournal,
  CdrPipeline,
  type CdrRecord,
  type EndReason,
  FileSink,
  LiveCallLedger,
  type MediaStats,
  WebhookSink,
  withDurations,
} from "../cdr/mod.ts";
import type { Config, DnsConfig, HttpAuthorizationConfig } from "../config/types.ts";
import type { SipRequest } from "../sip/mod.ts";
import type { Endpoint } from "../transport/types.ts";
import { locate, type LocateTarget } from "../transport/locate.ts";
import { lookupEnum } from "../transport/enum.ts";
import { DnsClient, serversFromResolvConf } from "../transport/dns/client.ts";
import { readFileSync } from "node:fs";
import type { Logger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import type { SessionStats } from "../media/mod.ts";
import { createMediaHooks } from "./media.ts";
import { createIdentityService } from "./stir.ts";

const mInterrupted = metrics.counter(
  "tandem_cdr_interrupted_total",
  "Calls up when Tandem stopped without ending them (crash, lost worker, exit without drain), billed from the answered-call ledger",
);

/** The services and how to shut them down. */
export interface Services {
  b2bua: B2buaServices;
  close(): Promise<void>;
}

/** Map the engine's end reasons onto the CDR vocabulary. */
export function endReasonOf(rec: CallRecord, credit: boolean): EndReason {
  switch (rec.endReason) {
    case "bye":
      return "bye";
    case "cancel":
      return "cancel";
    case "rejected":
    case "auth-reject":
    case "auth-challenge":
    case "identity": // the caller's Identity failed a rule that rejects failures
    case "calling-number": // a number the authenticated caller may not present
    case "no-route": // refused before any route: no rule matched
    case "limit": // refused before any route: the rule's limits
      return "rejected";
    case "no-answer":
      return "timeout:no-answer";
    case "no-progress":
      return "timeout:no-progress";
    case "max-duration":
      return credit ? "credit" : "max-duration";
    case "drop":
      return "drop";
    case "timeout":
    case "route-limit": // every route was at its limits
    case "unreachable": // every route skipped: no socket for it, no DNS answer, found down
      return "failover";
    case "keepalive":
      return "timeout:media";
    default:
      return "error";
  }
}

/** Relay counters in CDR form: "in" is what the caller sent, "out" what the callee sent. */
export function mediaStatsOf(stats: SessionStats): MediaStats {
  let packetsIn = 0, bytesIn = 0, packetsOut = 0, bytesOut = 0;
  for (const l of stats.legs) {
    if (l.side === "caller") {
      packetsIn += l.packets;
      bytesIn += l.bytes;
    } else {
      packetsOut += l.packets;
      bytesOut += l.bytes;
    }
  }
  return { packetsIn, bytesIn, packetsOut, bytesOut };
}

/** Identity and addressing of both legs (the last attempt's outgoing leg), for CDRs and RADIUS. */
function legsOf(rec: CallRecord, id: string) {
  const last = rec.attempts[rec.attempts.length - 1];
  return {
    id,
    callIdIn: rec.callerCallId,
    callIdOut: last?.callId || undefined, // "" for a target skipped as unreachable
    in: { from: rec.callerFrom, to: rec.callerTo, ruri: rec.callerRuri },
    out: last ? { from: last.from, to: last.to, ruri: last.ruri } : undefined,
    source: rec.source.replace(/^(udp|tcp):/, ""),
    destination: last?.target.replace(/^(udp|tcp):/, ""),
    // The account RADIUS Start, Interim and Stop all name (User-Name), and the CDR's user.
    ...(rec.user !== undefined ? { user: rec.user } : {}),
  };
}

/**
 * What a call's CDR holds whatever its end: both legs (the last attempt's outgoing one), its rule
 * and route, and its times up to the answer.
 */
function callPart(rec: CallRecord, cdrId: string, call: Call | undefined) {
  const last = rec.attempts[rec.attempts.length - 1];
  return {
    ...legsOf(rec, cdrId),
    rule: rec.rule,
    route: last?.route,
    attempt: rec.attempts.length,
    setupAt: rec.inviteAt,
    progressAt: rec.firstProvisionalAt,
    connectAt: rec.answerAt,
    ...(rec.headers ? { headers: rec.headers } : {}),
    ...(rec.identity ? { identity: rec.identity } : {}),
    ...(call?.recorded ? { recorded: true } : {}),
  };
}

/** The CDR of an ended call. */
export function cdrOf(rec: CallRecord, call: Call | undefined, cdrId: string): CdrRecord {
  const answered = rec.answerAt !== undefined;
  const finalCode = rec.finalStatus ?? (answered ? 200 : 500);
  const why = endReasonOf(rec, call?.creditMs !== undefined);
  let q850 = rec.reasonHeader ? reasonToQ850(rec.reasonHeader) : undefined;
  if (q850 === undefined) {
    q850 = why === "bye" || why === "cancel" || why === "max-duration" || why === "credit" ||
        why === "drop"
      ? 16
      : why === "timeout:no-answer"
      ? 19
      : sipToQ850(finalCode);
  }
  return withDurations({
    ...callPart(rec, cdrId, call),
    disconnectAt: rec.endAt ?? Date.now(),
    finalCode: answered ? 200 : finalCode,
    q850,
    reason: rec.reasonHeader,
    endedBy: rec.endedBy ?? "tandem",
    endReason: why,
  });
}

/** What an answered call's CDR will hold but for its end, for the answered-call ledger. */
export function answeredOf(rec: CallRecord, cdrId: string, call?: Call): AnsweredCall {
  return { ...callPart(rec, cdrId, call), connectAt: rec.answerAt ?? Date.now() };
}

/**
 * Opens the answered-call ledger and bills what an earlier run left up: each such call's CDR
 * (end reason `interrupted`) goes to the journal unless the journal has its CDR already (a power
 * cut can lose a ledger's last lines and keep the journal's), then the old files go.
 */
async function openLedger(
  c: NonNullable<Config["cdr"]>,
  journal: CdrJournal,
  write: (r: CdrRecord) => void,
  log: Logger,
): Promise<LiveCallLedger> {
  const { ledger, recovery } = await LiveCallLedger.open(c.dir, {
    checkpoint: c.checkpoint,
    rotateBytes: c.rotateBytes,
    log,
    beforeSync: () => journal.flush(),
  });
  if (recovery.interrupted.length) {
    // Ends lost with the ledger's unsynced lines happened after its last fsync, at most about
    // one checkpoint before its last line: only journal files written since then are read.
    const since = recovery.lastAlive - 2 * c.checkpoint - 60_000;
    const billed = await journal.idsIn(new Set(recovery.interrupted.map((r) => r.id)), since);
    const calls = recovery.interrupted.filter((r) => !billed.has(r.id));
    for (const r of calls) write(r);
    mInterrupted.inc(undefined, calls.length);
    log.warn("cdr.interrupted_calls", {
      calls: calls.length,
      billedAlready: billed.size,
      lastAlive: new Date(recovery.lastAlive).toISOString(),
    });
  }
  await journal.flush();
  await ledger.forget();
  return ledger;
}

/** Build the services the configuration asks for. */
export async function buildServices(cfg: Config, log: Logger): Promise<Services> {
  const closers: (() => Promise<void> | void)[] = [];
  const svc: B2buaServices = { digest: digestAuthorization };
  // Always present: a reload may add `stir_shaken`; without it a call only reads two fields.
  const identity = createIdentityService(log.child({ layer: "stir" }));
  await identity.ready(cfg);
  svc.identity = identity.hooks;
  const media = createMediaHooks(cfg, log.child({ layer: "media" }));
  if (media) {
    svc.media = media.hooks;
    closers.push(() => media.close());
  }
  // Routes by host name (RFC 3263) and ENUM routes (RFC 6116). The resolver starts on first use:
  // a reload may add the first such route, and a configuration without one sends no DNS query
  // at all. A reload that changes `sip.dns` gets a new resolver; the old one finishes its
  // lookups in flight, then closes.
  let dns: DnsClient | undefined;
  let dnsOf: DnsConfig | undefined;
  const retiring = new Map<DnsClient, ReturnType<typeof setTimeout>>();
  const resolver = (settings: DnsConfig): DnsClient => {
    if (!dns || (settings !== dnsOf && !sameDns(settings, dnsOf))) {
      const old = dns;
      if (old) {
        retiring.set(
          old,
          setTimeout(() => {
            retiring.delete(old);
            void old.close();
          }, 30_000),
        );
      }
      dns = new DnsClient({
        servers: settings.servers.length ? settings.servers : systemDnsServers(log),
        timeoutMs: settings.timeout,
        attempts: settings.attempts,
      });
      if (old) log.info("dns-resolver-replaced", { servers: settings.servers });
    }
    dnsOf = settings;
    return dns;
  };
  svc.locate = (t: LocateTarget, settings: DnsConfig = cfg.sip.dns) =>
    locate(t, resolver(settings), Math.random);
  svc.enumLookup = (e164, apex, settings: DnsConfig = cfg.sip.dns) =>
    lookupEnum(e164, apex, resolver(settings));
  closers.push(async () => {
    for (const [old, timer] of retiring) {
      clearTimeout(timer);
      await old.close();
    }
    await dns?.close();
  });
  const cdrIds = new WeakMap<Call, string>();
  const idOf = (call: Call) => {
    let id = cdrIds.get(call);
    if (!id) cdrIds.set(call, id = crypto.randomUUID());
    return id;
  };

  // Nonces are signed with a per-process secret: a restart makes old nonces stale, which a
  // caller answers by re-authenticating (RFC 3261 §22.4 stale=true).
  const secret = crypto.randomUUID();
  let radiusAuthorize = (
    _call: Call,
    _req: SipRequest,
    _source: Endpoint,
  ): Promise<Authorization> => Promise.resolve({ outcome: "timeout" });
  let radius: RadiusClient | undefined;
  const rc = cfg.radius;
  if (rc && rc.servers.length) {
    radius = new RadiusClient({ servers: rc.servers, log: log.child({ layer: "radius" }) });
    closers.push(() => radius!.close());
  }

  if (cfg.cdr) {
    const c = cfg.cdr;
    const journal = await CdrJournal.open(c.dir, {
      fsync: c.fsync,
      fsyncInterval: c.fsyncInterval,
      rotateBytes: c.rotateBytes,
      log: log.child({ layer: "cdr" }),
    });
    const pipeline = new CdrPipeline(journal, { log: log.child({ layer: "cdr" }) });
    if (c.file) pipeline.addSink(new FileSink({ ...c.file }));
    if (c.webhook) pipeline.addSink(new WebhookSink({ ...c.webhook }));
    if (c.radius && radius && rc) {
      pipeline.addSink(
        new RadiusAccountingSink(radius, { gatewayId: rc.gatewayId, nasIp: rc.nasIp }),
      );
    }
    await pipeline.start();
    let ledger: LiveCallLedger | undefined;
    const write = (r: CdrRecord) => {
      // "every" fsync policy: the journal makes each record durable before acknowledging it.
      if (c.fsync === "every") {
        journal.appendDurable(r).catch((err) => log.error("cdr-append-failed", { err }));
      } else journal.append(r);
      ledger?.ended(r.id); // after the CDR: an end in the ledger means a CDR in the journal
    };
    if (c.checkpoint > 0) {
      const l = ledger = await openLedger(c, journal, write, log.child({ layer: "cdr" }));
      svc.onCallAnswered = (rec, call) => l.answered(answeredOf(rec, idOf(call), call));
    }
    if (c.refused) svc.onCallRefused = (rec) => write(cdrOf(rec, undefined, crypto.randomUUID()));
    svc.onCallEnded = (rec, call) => {
      // A 407 challenge is a step of the caller's setup, not a call: the authenticated INVITE
      // that follows gets the CDR (and the RADIUS Stop). A 403 is recorded.
      if (rec.endReason === "auth-challenge") return;
      const cdr = cdrOf(rec, call, idOf(call));
      if (!media || !call.mediaUsed) return write(cdr);
      // The relay's counters arrive with its delete; wait for them a little (never for long:
      // the CDR must not wait on a relay that does not answer).
      let done = false;
      const once = (stats?: SessionStats) => {
        if (done) return;
        done = true;
        write(stats ? { ...cdr, media: mediaStatsOf(stats) } : cdr);
      };
      setTimeout(() => once(), 1000);
      media.stats(call).then(once, () => once());
    };
    closers.push(async () => {
      // Calls still up now (an exit without a drain) are billed to this moment.
      const up = await ledger?.close() ?? [];
      for (const r of up) write(r);
      if (up.length) log.warn("cdr.interrupted_calls", { calls: up.length, atExit: true });
      await journal.flush();
      await ledger?.forget();
      await pipeline.stop();
      await journal.close();
    });
  }

  if (radius && rc) {
    const client = radius;
    const ctx = () => ({ gatewayId: rc.gatewayId, nasIp: rc.nasIp, now: Date.now() });
    const acctCall = (rec: CallRecord, call: Call) => ({
      ...legsOf(rec, idOf(call)),
      setupAt: rec.inviteAt,
      connectAt: rec.answerAt,
    });
    const send = (attrs: Parameters<RadiusClient["accounting"]>[0]) =>
      client.accounting(attrs).catch((err) => log.warn("radius-accounting-failed", { err }));
    const interims = new WeakMap<Call, ReturnType<typeof setInterval>>();
    if (cfg.cdr?.radius) {
      const ledgerAnswered = svc.onCallAnswered;
      svc.onCallAnswered = (rec, call) => {
        ledgerAnswered?.(rec, call);
        const a = acctCall(rec, call);
        send(accountingStart(a, "answer", ctx()));
        send(accountingStart(a, "originate", ctx()));
        if (rc.interimInterval > 0) {
          interims.set(
            call,
            setInterval(() => {
              const x = acctCall(rec, call);
              send(accountingInterim(x, "answer", ctx()));
              send(accountingInterim(x, "originate", ctx()));
            }, rc.interimInterval),
          );
        }
      };
      const ended = svc.onCallEnded;
      svc.onCallEnded = (rec, call) => {
        clearInterval(interims.get(call));
        ended?.(rec, call);
      };
    }
    radiusAuthorize = (call: Call, req: SipRequest, source: Endpoint) =>
      authorize(client, call, req, source, secret, idOf(call), rc.nasIp, rc.digestStyle);
  }
  // RADIUS is set up at start; the HTTP service is read from the configuration the call started
  // under, so a reload can add, move or remove it.
  svc.authorize = (call, req, source, current) => {
    const auth = call.rule.auth;
    if (auth.mode === "local") return Promise.resolve(localAuthorize(req, auth.realm, current));
    if (auth.mode !== "http") return radiusAuthorize(call, req, source);
    const settings = current.httpAuthorization;
    if (!settings) return Promise.resolve({ outcome: "timeout" });
    const request = httpRequest(call, req, source, idOf(call), settings);
    if (auth.digest) {
      const d = digestOf(req, auth.realm, secret);
      if ("challenge" in d) return Promise.resolve(d);
      request.digest = { ...d, method: req.method };
      return httpAuthorize(settings, request).then((a) => ({ ...a, user: d.username }));
    }
    return httpAuthorize(settings, request);
  };

  return {
    b2bua: svc,
    close: async () => {
      for (const c of closers.reverse()) {
        try {
          await c();
        } catch (err) {
          log.warn("service-close-failed", { err });
        }
      }
    },
  };
}

function sameDns(a: DnsConfig, b: DnsConfig | undefined): boolean {
  return b !== undefined && a.timeout === b.timeout && a.attempts === b.attempts &&
    a.servers.length === b.servers.length &&
    a.servers.every((s, i) => s.host === b.servers[i].host && s.port === b.servers[i].port);
}

/** The nameservers of /etc/resolv.conf; the local resolver (127.0.0.1:53) when it names none. */
function systemDnsServers(log: Logger) {
  let text = "";
  try {
    text = readFileSync("/etc/resolv.conf", "utf8");
  } catch (err) {
    log.warn("dns-resolv-conf-unreadable", { err });
  }
  const servers = serversFromResolvConf(text);
  return servers.length ? servers : [{ host: "127.0.0.1", port: 53 }];
}

/** What the HTTP authorization service is told of a new call. */
function httpRequest(
  call: Call,
  req: SipRequest,
  source: Endpoint,
  id: string,
  settings: HttpAuthorizationConfig,
): HttpAuthorizeRequest {
  const headers: Record<string, string[]> = {};
  for (const name of settings.sipHeaders) {
    const values = req.getAll(name);
    if (values.length) headers[name] = values;
  }
  const from = req.from;
  return {
    call: id,
    callId: req.callId,
    rule: call.rule.name,
    source: { transport: source.protocol, address: source.host, port: source.port },
    from: { uri: from.uri.toString(), user: from.uri.user ?? null, display: from.display ?? null },
    to: req.to.uri.toString(),
    ruri: req.uri,
    ruriUser: req.ruri.user ?? null,
    headers,
  };
}

const usersOf = new WeakMap<Config, Map<string, LocalUser>>();

/**
 * `auth.mode: local`: the caller's digest answer checked against the configuration's `users`.
 * No answer, or one to a nonce that is not ours or too old: 407 (stale when old). A wrong one,
 * or an unknown user: 403, not another 407, so that a phone with a wrong password does not loop.
 */
function localAuthorize(req: SipRequest, realm: string, cfg: Config): Authorization {
  const d = digestOf(req, realm, localSecret);
  if ("challenge" in d) return d;
  let users = usersOf.get(cfg);
  if (!users) usersOf.set(cfg, users = new Map((cfg.users ?? []).map((u) => [u.username, u])));
  const user = users.get(d.username);
  if (!user || d.realm !== realm || !digestResponseMatches(d, req.method, user)) {
    return { outcome: "reject", status: 403, reason: "Forbidden" };
  }
  return { outcome: "accept", user: d.username };
}

/** Signs local nonces; a restart makes them stale, which callers answer by authenticating again. */
const localSecret = crypto.randomUUID();

/**
 * RFC 3261 §22.3: the caller's digest credentials for `realm` when it sent some with one of our
 * nonces, still fresh; else the 407 to send (with stale=true for an expired nonce of ours).
 */
function digestOf(
  req: SipRequest,
  realm: string,
  secret: string,
): DigestCredentials | { outcome: "challenge"; challenge: string } {
  const now = Date.now();
  const challenge = (stale = false) => ({
    outcome: "challenge" as const,
    challenge: digestChallenge({ realm, secret, now, stale }),
  });
  const h = req.get("proxy-authorization");
  if (!h) return challenge();
  let creds;
  try {
    creds = parseProxyAuthorization(h);
  } catch {
    return challenge();
  }
  const n = checkNonce(secret, creds.nonce, now);
  if (n !== "valid") return challenge(n === "stale");
  // A nonce count seen before is a replay (or a confused client): a fresh nonce, stale=true,
  // so a phone that holds the password answers again without asking its user.
  if (!nonceCounts.take(creds.nonce, creds.qop ? creds.nc ?? "" : undefined, now)) {
    mReplays.inc();
    return challenge(true);
  }
  return creds;
}

/** Nonce counts taken (replay protection), for every digest check of this process. */
const nonceCounts = new NonceCounts();
const mReplays = metrics.counter(
  "tandem_digest_replays_total",
  "Digest answers refused (and challenged afresh) because their nonce count was used before: " +
    "a replayed INVITE, or a client reusing a nonce without qop.",
);

async function authorize(
  client: RadiusClient,
  call: Call,
  req: SipRequest,
  source: Endpoint,
  secret: string,
  sessionId: string,
  nasIp: string | undefined,
  style: "draft-sterman" | "rfc5090",
): Promise<Authorization> {
  const auth = call.rule.auth;
  const common = {
    nasIp,
    callingStationId: req.from.uri.user ?? "",
    calledStationId: req.ruri.user ?? "",
    sessionId,
  };
  let result: AuthorizationResult;
  // By source, the account is the address (in the CDR's source already): RADIUS accounting
  // keeps naming the caller's number then, as it always has.
  let user: string | undefined;
  if (auth.mode === "source") {
    result = await authorizeBySource(client, source.host, common);
  } else {
    const creds = digestOf(req, auth.realm, secret);
    if ("challenge" in creds) return creds;
    result = await authorizeDigest(client, creds, req.method, { ...common, style });
    user = creds.username;
  }
  return {
    outcome: result.outcome,
    ...(user !== undefined ? { user } : {}),
    creditTimeMs: result.creditTimeMs,
    routes: result.routes,
    callerId: result.callerId,
    display: result.display,
  };
}

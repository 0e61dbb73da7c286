// The `defaults` and `rules` sections: routing rules, their routes, and the route options that
// `defaults` supplies to every route that does not set them.

import { readRuleStirShaken } from "./validate-stir.ts";
import type { LocateMode } from "../transport/locate.ts";
import type { Protocol } from "../transport/types.ts";
import { defaultPort, isSecure, isWebSocket, sipsProtocol } from "../transport/protocol.ts";
import { parseUri } from "../sip/uri.ts";
import type {
  CallerIdRewrite,
  CallLimits,
  HeaderPolicy,
  MatchConfig,
  OutboundRegistrationConfig,
  RouteConfig,
  RouteProbe,
  RouteQualityConfig,
  RouteTimers,
  RuleAuth,
  RuleConfig,
  TimeMatch,
  UserRewrite,
} from "./types.ts";
import { parseDate, parseDays, parseHours, parseZone, TimeGrammarError } from "./time-window.ts";
import { formatPath, type KeyPath } from "./locate.ts";
import type { RawMap, Reader } from "./reader.ts";
import { isIp } from "./cidr.ts";
import { splitHostPort } from "./validate-sip.ts";

/** Route options that `defaults` may set; timers and headers merge field by field. */
export interface RouteOptions {
  ruriUser?: UserRewrite;
  callerId?: CallerIdRewrite;
  timers?: RouteTimers;
  stopCodes?: number[];
  failoverOnTimeout?: boolean;
  followRedirects?: boolean;
  auth?: { username: string; password: string };
  headers?: Partial<HeaderPolicy>;
  /** `null` = explicitly off (overrides a default). */
  keepalive?: RouteConfig["keepalive"] | null;
  media?: RouteConfig["media"];
  limits?: CallLimits;
  /** `null` = explicitly off (overrides a default). */
  probe?: RouteProbe | null;
  fromDomain?: string;
  /** ms; 0 = explicitly off (overrides a default). */
  respectRetryAfter?: number;
  /** `null` = explicitly off (overrides a default). */
  quality?: RouteQualityConfig | null;
  trusted?: boolean;
}

/** A probe's values when `probe` leaves them out. */
export const PROBE_DEFAULTS: RouteProbe = {
  interval: 30_000,
  timeout: 5000,
  downAfter: 2,
  upAfter: 1,
};

/** Built-in route defaults. */
export const ROUTE_DEFAULTS = {
  noProgress: 5000,
  stopCodes: [486, 600, 603],
  pass: ["x-*"],
};

const OPTION_KEYS = [
  "ruri_user",
  "from_domain",
  "caller_id",
  "timers",
  "stop_codes",
  "failover_on_timeout",
  "follow_redirects",
  "auth",
  "headers",
  "keepalive",
  "media",
  "limits",
  "probe",
  "respect_retry_after",
  "quality",
  "trusted",
] as const;
/** Where a route (or a registrar) is: its target, and how it is reached. */
const TARGET_KEYS = [
  "target",
  "uri",
  "host",
  "port",
  "transport",
  "tls_server_name",
  "ws_path",
] as const;
export const ROUTE_KEYS = [
  "name",
  ...TARGET_KEYS,
  "enum",
  "domain",
  "weight",
  ...OPTION_KEYS,
];

const HOST_NAME =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
// Headers the B2BUA builds itself for each leg; adding them from config would corrupt the leg.
const OWNED = new Set(
  [
    "via",
    "v",
    "from",
    "f",
    "to",
    "t",
    "call-id",
    "i",
    "cseq",
    "contact",
    "m",
    "content-length",
    "l",
    "max-forwards",
    "route",
    "record-route",
  ],
);
// Characters that cannot appear unescaped in the user part of a SIP URI we build.
const USER_UNSAFE = /[\s<>@":\0]/;

function userText(r: Reader, v: unknown, path: KeyPath): string | undefined {
  const s = r.sipText(v, path);
  if (s !== undefined && USER_UNSAFE.test(s)) {
    return r.fail(path, 'URI user characters (no space, <, >, @, ", :)', s);
  }
  return s;
}

function rewrite(r: Reader, v: unknown, path: KeyPath): UserRewrite | undefined {
  const m = r.map(v, path, ["strip", "prefix", "regex", "replace"]);
  if (!m) return undefined;
  const out: UserRewrite = { strip: 0, prefix: "", replace: "" };
  if (m.strip !== undefined) out.strip = r.int(m.strip, [...path, "strip"], 0, 64) ?? 0;
  if (m.prefix !== undefined) out.prefix = userText(r, m.prefix, [...path, "prefix"]) ?? "";
  if (m.regex !== undefined) out.regex = r.regex(m.regex, [...path, "regex"]);
  if (m.replace !== undefined) {
    // The replacement may hold "$1"-style references, so it is not checked as a finished user.
    out.replace = r.sipText(m.replace, [...path, "replace"]) ?? "";
    if (m.regex === undefined) {
      r.fail([...path, "regex"], "a regex for replace to apply to", undefined);
    }
  }
  return out;
}

function timers(r: Reader, v: unknown, path: KeyPath): RouteTimers | undefined {
  const m = r.map(v, path, ["no_progress", "no_answer", "max_duration"]);
  if (!m) return undefined;
  const out: RouteTimers = {};
  // 0 means "off"; it is kept as 0 until the merge so that it can override a default.
  if (m.no_progress !== undefined) {
    out.noProgress = r.duration(m.no_progress, [...path, "no_progress"]);
  }
  if (m.no_answer !== undefined) out.noAnswer = r.duration(m.no_answer, [...path, "no_answer"]);
  if (m.max_duration !== undefined) {
    out.maxDuration = r.duration(m.max_duration, [...path, "max_duration"]);
  }
  return out;
}

function headerPatterns(r: Reader, v: unknown, path: KeyPath): string[] | undefined {
  const list = r.list(v, path, true);
  if (!list) return undefined;
  const out: string[] = [];
  list.forEach((item, i) => {
    const s = r.str(item, [...path, i]);
    if (s === undefined) return;
    if (s !== "*" && !/^[A-Za-z0-9\-.!%_+`'~]+\*?$/.test(s)) {
      r.fail([...path, i], 'a header name, optionally ending in "*" (like "x-*")', s);
    } else out.push(s.toLowerCase());
  });
  return out;
}

function headers(r: Reader, v: unknown, path: KeyPath): Partial<HeaderPolicy> | undefined {
  const m = r.map(v, path, ["add", "pass", "remove"]);
  if (!m) return undefined;
  const out: Partial<HeaderPolicy> = {};
  if (m.add !== undefined) {
    const add = r.map(
      m.add,
      [...path, "add"],
      m.add && typeof m.add === "object" ? Object.keys(m.add) : [],
    );
    if (add) {
      out.add = {};
      for (const [name, value] of Object.entries(add)) {
        const p = [...path, "add", name];
        if (!TOKEN.test(name)) r.fail(p, "a header name (token characters only)", name);
        else if (OWNED.has(name.toLowerCase())) {
          r.fail(p, "a header the B2BUA does not build itself", name);
        }
        const val = r.sipText(
          typeof value === "number" || typeof value === "boolean" ? String(value) : value,
          p,
        );
        if (val !== undefined) out.add[name] = val;
      }
    }
  }
  if (m.pass !== undefined) out.pass = headerPatterns(r, m.pass, [...path, "pass"]);
  if (m.remove !== undefined) out.remove = headerPatterns(r, m.remove, [...path, "remove"]);
  return out;
}

/** Read the route options present in `m` (a route or the `defaults` section). */
export function readRouteOptions(r: Reader, m: RawMap, path: KeyPath): RouteOptions {
  const o: RouteOptions = {};
  if (m.ruri_user !== undefined) o.ruriUser = rewrite(r, m.ruri_user, [...path, "ruri_user"]);
  if (m.from_domain !== undefined) {
    o.fromDomain = hostOrName(r, m.from_domain, [...path, "from_domain"]);
  }
  if (m.caller_id !== undefined) {
    const p = [...path, "caller_id"];
    const c = r.map(m.caller_id, p, ["user", "display", "rewrite"]);
    if (c) {
      o.callerId = {};
      if (c.user !== undefined) o.callerId.user = userText(r, c.user, [...p, "user"]);
      if (c.display !== undefined) o.callerId.display = r.sipText(c.display, [...p, "display"]);
      if (c.rewrite !== undefined) o.callerId.rewrite = rewrite(r, c.rewrite, [...p, "rewrite"]);
    }
  }
  if (m.timers !== undefined) o.timers = timers(r, m.timers, [...path, "timers"]);
  if (m.stop_codes !== undefined) {
    const list = r.list(m.stop_codes, [...path, "stop_codes"], true);
    o.stopCodes = list?.map((c, i) =>
      r.int(c, [...path, "stop_codes", i], 300, 699, "a SIP final status")!
    )
      .filter((c) => c !== undefined);
  }
  if (m.failover_on_timeout !== undefined) {
    o.failoverOnTimeout = r.bool(m.failover_on_timeout, [...path, "failover_on_timeout"]);
  }
  if (m.follow_redirects !== undefined) {
    o.followRedirects = r.bool(m.follow_redirects, [...path, "follow_redirects"]);
  }
  if (m.auth !== undefined) {
    const p = [...path, "auth"];
    const a = r.map(m.auth, p, ["username", "password"]);
    if (a) {
      const username = a.username === undefined
        ? r.fail([...p, "username"], "a user name", undefined)
        : r.sipText(a.username, [...p, "username"]);
      const password = a.password === undefined
        ? r.fail([...p, "password"], "a password", undefined)
        : r.sipText(a.password, [...p, "password"]);
      if (username !== undefined && password !== undefined) o.auth = { username, password };
    }
  }
  if (m.headers !== undefined) o.headers = headers(r, m.headers, [...path, "headers"]);
  if (m.keepalive === false) o.keepalive = null;
  else if (m.keepalive !== undefined) {
    const p = [...path, "keepalive"];
    const k = r.map(m.keepalive, p, ["method", "interval"]);
    if (k) {
      const method = k.method === undefined
        ? "OPTIONS"
        : r.oneOf(k.method, [...p, "method"], ["OPTIONS"] as const);
      const interval = k.interval === undefined
        ? r.fail([...p, "interval"], "a duration", undefined)
        : r.duration(k.interval, [...p, "interval"], 0);
      if (interval === 0) o.keepalive = null;
      else if (interval !== undefined && interval < 1000) {
        r.fail([...p, "interval"], "at least 1s (or 0 for off)", k.interval);
      } else if (method && interval !== undefined) o.keepalive = { method, interval };
    }
  }
  if (m.probe === false) o.probe = null;
  else if (m.probe !== undefined) o.probe = probe(r, m.probe, [...path, "probe"]);
  if (m.media !== undefined) {
    o.media = r.oneOf(m.media, [...path, "media"], ["none", "rtpengine", "rtpproxy"] as const);
  }
  if (m.limits !== undefined) o.limits = limits(r, m.limits, [...path, "limits"]);
  if (m.respect_retry_after !== undefined) {
    o.respectRetryAfter = r.duration(
      m.respect_retry_after,
      [...path, "respect_retry_after"],
      0,
      3_600_000,
    );
  }
  if (m.trusted !== undefined) o.trusted = r.bool(m.trusted, [...path, "trusted"]);
  if (m.quality === false) o.quality = null;
  else if (m.quality !== undefined) o.quality = quality(r, m.quality, [...path, "quality"]);
  return o;
}

/** `quality`: the window, the calls it needs, and at least one of min_asr and max_pdd. */
function quality(r: Reader, v: unknown, path: KeyPath): RouteQualityConfig | undefined {
  const m = r.map(v, path, ["window", "min_calls", "min_asr", "max_pdd"]);
  if (!m) return undefined;
  const window = m.window === undefined
    ? 600_000
    : r.duration(m.window, [...path, "window"], 10_000, 86_400_000);
  const minCalls = m.min_calls === undefined
    ? 20
    : r.int(m.min_calls, [...path, "min_calls"], 1, 1_000_000);
  const out: RouteQualityConfig = { window: window ?? 600_000, minCalls: minCalls ?? 20 };
  if (m.min_asr !== undefined) {
    // "30%" or 0.3.
    const raw = m.min_asr;
    const pct = typeof raw === "string" && /^\s*\d+(\.\d+)?\s*%\s*$/.test(raw)
      ? parseFloat(raw) / 100
      : typeof raw === "number"
      ? raw
      : NaN;
    if (pct >= 0 && pct <= 1) out.minAsr = pct;
    else r.fail([...path, "min_asr"], 'a share of calls answered, "30%" or 0.3', raw);
  }
  if (m.max_pdd !== undefined) {
    out.maxPdd = r.duration(m.max_pdd, [...path, "max_pdd"], 100, 600_000);
  }
  if (m.min_asr === undefined && m.max_pdd === undefined) {
    r.fail(path, "min_asr or max_pdd (or both)", v);
  }
  return out;
}

/** `limits` of a rule or route: calls at once and new calls per second. */
function limits(r: Reader, v: unknown, path: KeyPath): CallLimits | undefined {
  const m = r.map(v, path, ["max_calls", "max_cps"]);
  if (!m) return undefined;
  const out: CallLimits = {};
  if (m.max_calls !== undefined) {
    out.maxCalls = r.int(m.max_calls, [...path, "max_calls"], 1, 10_000_000);
  }
  if (m.max_cps !== undefined) out.maxCps = r.int(m.max_cps, [...path, "max_cps"], 1, 100_000);
  return out.maxCalls === undefined && out.maxCps === undefined ? undefined : out;
}

/** `probe`: OPTIONS to the route's servers every `interval`; see RouteProbe. */
function probe(r: Reader, v: unknown, path: KeyPath): RouteProbe | undefined {
  const m = r.map(v, path, ["interval", "timeout", "down_after", "up_after"]);
  if (!m) return undefined;
  const out: RouteProbe = { ...PROBE_DEFAULTS };
  if (m.interval !== undefined) {
    out.interval = r.duration(m.interval, [...path, "interval"], 1000, 3_600_000) ?? out.interval;
  }
  // Left out, the timeout is the default or the interval, whichever is shorter.
  out.timeout = Math.min(out.timeout, out.interval);
  if (m.timeout !== undefined) {
    out.timeout = r.duration(m.timeout, [...path, "timeout"], 100, 60_000) ?? out.timeout;
  }
  if (m.down_after !== undefined) {
    out.downAfter = r.int(m.down_after, [...path, "down_after"], 1, 100) ?? out.downAfter;
  }
  if (m.up_after !== undefined) {
    out.upAfter = r.int(m.up_after, [...path, "up_after"], 1, 100) ?? out.upAfter;
  }
  if (out.timeout > out.interval) {
    r.fail(
      [...path, "timeout"],
      `at most the interval (${out.interval}ms)`,
      `${out.timeout}ms`,
      true,
    );
  }
  return out;
}

/** Validate `defaults`. */
export function readDefaults(r: Reader, v: unknown): RouteOptions {
  if (v === undefined) return {};
  const m = r.map(v, ["defaults"], OPTION_KEYS);
  return m ? readRouteOptions(r, m, ["defaults"]) : {};
}

function parseSipUri(s: string): { host: string; port?: string; transport?: string } | undefined {
  const m = /^sip(s?):(?:[^@]+@)?(\[[^\]]+\]|[^:;?]+)(?::(\d+))?((?:;[^;?]*)*)$/i.exec(s);
  if (!m) return undefined;
  const t = /;transport=([^;]*)/i.exec(m[4])?.[1].toLowerCase();
  // RFC 3261 §26.2.2: a sips: URI is reached over TLS whatever its transport parameter says;
  // RFC 7118 §5.2: over secure WebSocket when that is ws.
  const transport = m[1] ? sipsProtocol(t) : t;
  return { host: m[2].replace(/^\[|\]$/g, ""), port: m[3], transport };
}

/** Where a route points: an IP literal, or a host name and how much DNS locates it. */
interface RouteTarget {
  host: string;
  port: number;
  transport: Protocol;
  dns?: LocateMode;
  /** An ENUM route's apex (then also `host`). */
  enum?: string;
}

/** An IP literal, or a host name (lowercased: DNS names are case-insensitive). */
function hostOrName(r: Reader, v: unknown, path: KeyPath): string | undefined {
  const s = r.str(v, path);
  if (s === undefined) return undefined;
  const bare = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
  if (isIp(bare)) return bare;
  if (HOST_NAME.test(s)) return s.toLowerCase();
  return r.fail(path, "an IP address or a host name like sip.carrier.example", s);
}

function target(
  r: Reader,
  m: RawMap,
  path: KeyPath,
  enumAllowed = false,
): RouteTarget | undefined {
  const keys = enumAllowed ? ["target", "uri", "host", "enum"] : ["target", "uri", "host"];
  const given = keys.filter((k) => m[k] !== undefined);
  if (given.length !== 1) {
    return r.fail(
      path,
      `exactly one of ${keys.join(", ")}`,
      given.length ? given.join(" and ") : "none",
      true,
    );
  }
  if (m.enum !== undefined) {
    // Each call's target is a URI from its ENUM answer, located as RFC 3263 says for it.
    const apex = hostOrName(r, m.enum, [...path, "enum"]);
    for (const k of ["port", "transport"]) {
      if (m[k] !== undefined) r.fail([...path, k], `no ${k} on an enum route (the URI says)`, m[k]);
    }
    if (apex !== undefined && isIp(apex)) {
      return r.fail([...path, "enum"], 'an ENUM domain like "e164.arpa"', apex);
    }
    return apex === undefined
      ? undefined
      : { host: apex, port: 5060, transport: "udp", enum: apex };
  }
  let host: string | undefined;
  let port: unknown = m.port;
  let portPath: KeyPath = [...path, "port"];
  let transport: unknown = m.transport;
  let transportPath: KeyPath = [...path, "transport"];
  if (m.target !== undefined) {
    const s = r.str(m.target, [...path, "target"]);
    if (s === undefined) return undefined;
    const hp = splitHostPort(s);
    host = hostOrName(r, hp?.host ?? s, [...path, "target"]);
    if (hp?.port !== undefined) {
      if (m.port !== undefined) {
        r.fail(portPath, "the port in one place only", "a port in target too", true);
      }
      port = /^\d+$/.test(hp.port) ? Number(hp.port) : hp.port;
      portPath = [...path, "target"];
    }
  } else if (m.uri !== undefined) {
    const s = r.str(m.uri, [...path, "uri"]);
    if (s === undefined) return undefined;
    const u = parseSipUri(s);
    if (!u) return r.fail([...path, "uri"], 'a SIP URI like "sip:192.0.2.1:5060;transport=tcp"', s);
    host = hostOrName(r, u.host, [...path, "uri"]);
    if (m.port !== undefined || m.transport !== undefined) {
      r.fail(
        [...path, m.port !== undefined ? "port" : "transport"],
        "port and transport inside the uri",
        "a separate key",
        true,
      );
    }
    port = u.port === undefined ? undefined : Number(u.port);
    portPath = transportPath = [...path, "uri"];
    transport = u.transport;
  } else host = hostOrName(r, m.host, [...path, "host"]);
  const t = transport === undefined ? "udp" : r.oneOf(
    typeof transport === "string" ? transport.toLowerCase() : transport,
    transportPath,
    ["udp", "tcp", "tls", "ws", "wss"] as const,
  );
  const p = port === undefined ? (t && defaultPort(t)) : r.port(port, portPath);
  if (host === undefined || p === undefined || t === undefined) return undefined;
  if (isIp(host)) return { host, port: p, transport: t };
  // RFC 3263 §4.1-4.2: a given port means addresses only; a given transport, SRV for it; neither,
  // NAPTR first. WebSocket has no SRV names (RFC 7118), and a sips: URI means TLS.
  const dns: LocateMode = port !== undefined || isWebSocket(t)
    ? "a"
    : transport !== undefined
    ? "srv"
    : "naptr";
  return { host, port: p, transport: t, dns };
}

/** A route key holding a string of one grammar that only makes sense over some transports. */
interface TransportBoundKey {
  grammar: RegExp;
  expected: string;
  applies(p: Protocol): boolean;
  transports: string;
}

/** `tls_server_name`: a host name, on a route over TLS. */
const TLS_SERVER_NAME: TransportBoundKey = {
  grammar: HOST_NAME,
  expected: "a host name like sip.carrier.example",
  applies: isSecure,
  transports: "tls or wss (or a sips: uri)",
};

/** `ws_path`: an absolute path (query allowed), on a route over WebSocket. */
const WS_PATH: TransportBoundKey = {
  grammar: /^\/[\x21-\x7e]*$/,
  expected: 'an absolute path like "/ws"',
  applies: isWebSocket,
  transports: "ws or wss",
};

function transportBound(
  r: Reader,
  v: unknown,
  path: KeyPath,
  transport: Protocol | undefined,
  k: TransportBoundKey,
): string | undefined {
  const s = r.str(v, path);
  if (s === undefined) return undefined;
  if (!k.grammar.test(s)) return r.fail(path, k.expected, s);
  if (transport !== undefined && !k.applies(transport)) {
    return r.fail(path, `a route with transport ${k.transports}`, `transport ${transport}`, true);
  }
  return s;
}

/** Merge defaults under a route's own options and apply built-in defaults. */
function merge(
  name: string,
  t: RouteTarget,
  own: RouteOptions,
  d: RouteOptions,
  weight: number,
): RouteConfig {
  const tm: RouteTimers = { noProgress: ROUTE_DEFAULTS.noProgress, ...d.timers, ...own.timers };
  for (const k of ["noProgress", "noAnswer", "maxDuration"] as const) if (!tm[k]) delete tm[k];
  const route: RouteConfig = {
    name,
    ...t,
    timers: tm,
    stopCodes: own.stopCodes ?? d.stopCodes ?? [...ROUTE_DEFAULTS.stopCodes],
    failoverOnTimeout: own.failoverOnTimeout ?? d.failoverOnTimeout ?? true,
    followRedirects: own.followRedirects ?? d.followRedirects ?? false,
    headers: {
      add: { ...d.headers?.add, ...own.headers?.add },
      pass: own.headers?.pass ?? d.headers?.pass ?? [...ROUTE_DEFAULTS.pass],
      remove: own.headers?.remove ?? d.headers?.remove ?? [],
    },
    media: own.media ?? d.media ?? "none",
    weight,
  };
  const ruriUser = own.ruriUser ?? d.ruriUser;
  if (ruriUser) route.ruriUser = ruriUser;
  const callerId = own.callerId ?? d.callerId;
  if (callerId) route.callerId = callerId;
  const auth = own.auth ?? d.auth;
  if (auth) route.auth = auth;
  const keepalive = own.keepalive !== undefined ? own.keepalive : d.keepalive;
  if (keepalive) route.keepalive = keepalive;
  const lim = own.limits ?? d.limits;
  if (lim) route.limits = lim;
  const pr = own.probe !== undefined ? own.probe : d.probe;
  if (pr) route.probe = pr;
  const fromDomain = own.fromDomain ?? d.fromDomain;
  if (fromDomain) route.fromDomain = fromDomain;
  const hold = own.respectRetryAfter ?? d.respectRetryAfter;
  if (hold) route.respectRetryAfter = hold;
  const q = own.quality !== undefined ? own.quality : d.quality;
  if (q) route.quality = q;
  if ((own.trusted ?? d.trusted) === false) route.trusted = false;
  return route;
}

function match(r: Reader, v: unknown, path: KeyPath): MatchConfig {
  const out: MatchConfig = {};
  if (v === undefined) return out;
  const m = r.map(v, path, [
    "ruri_user_prefix",
    "ruri_user_regex",
    "headers",
    "from_user_prefix",
    "from_user_regex",
    "source",
    "time",
  ]);
  if (!m) return out;
  if (m.time !== undefined) out.time = timeMatch(r, m.time, [...path, "time"]);
  const prefixes = (key: string) => {
    const list = r.list(m[key], [...path, key], true);
    return list?.map((p, i) => userText(r, p, [...path, key, i])).filter((p): p is string =>
      p !== undefined
    );
  };
  if (m.ruri_user_prefix !== undefined) out.ruriUserPrefix = prefixes("ruri_user_prefix");
  if (m.from_user_prefix !== undefined) out.fromUserPrefix = prefixes("from_user_prefix");
  if (m.ruri_user_regex !== undefined) {
    out.ruriUserRegex = r.regex(m.ruri_user_regex, [...path, "ruri_user_regex"]);
  }
  if (m.from_user_regex !== undefined) {
    out.fromUserRegex = r.regex(m.from_user_regex, [...path, "from_user_regex"]);
  }
  if (m.source !== undefined) {
    const list = r.list(m.source, [...path, "source"], true);
    out.source = list?.map((c, i) => r.cidr(c, [...path, "source", i])).filter((c): c is string =>
      c !== undefined
    );
  }
  if (m.headers !== undefined) {
    const p = [...path, "headers"];
    const hm = r.map(
      m.headers,
      p,
      m.headers && typeof m.headers === "object" ? Object.keys(m.headers) : [],
    );
    if (hm) {
      out.headers = [];
      for (const [name, re] of Object.entries(hm)) {
        if (!TOKEN.test(name)) r.fail([...p, name], "a header name (token characters only)", name);
        const regex = r.regex(re, [...p, name]);
        if (regex && TOKEN.test(name)) out.headers.push({ name, regex });
      }
    }
  }
  return out;
}

/** `match.time`: days, hours, dates excepted, time zone; at least days or hours. */
function timeMatch(r: Reader, v: unknown, path: KeyPath): TimeMatch | undefined {
  const m = r.map(v, path, ["timezone", "days", "hours", "except"]);
  if (!m) return undefined;
  const out: TimeMatch = { timezone: "UTC" };
  // Each entry through its grammar; a refusal names the entry's key path.
  const each = <T>(key: string, parse: (s: string) => T): T[] | undefined => {
    const list = r.list(m[key], [...path, key], true);
    if (!list) return undefined;
    const got: T[] = [];
    list.forEach((x, i) => {
      const p = [...path, key, i];
      const s = r.str(x, p);
      if (s === undefined) return;
      try {
        got.push(parse(s));
      } catch (e) {
        if (!(e instanceof TimeGrammarError)) throw e;
        r.fail(p, e.message, x);
      }
    });
    return got.length === list.length ? got : undefined;
  };
  if (m.timezone !== undefined) {
    const z = r.str(m.timezone, [...path, "timezone"]);
    if (z !== undefined) {
      try {
        out.timezone = parseZone(z);
      } catch (e) {
        r.fail([...path, "timezone"], (e as Error).message, z);
      }
    }
  }
  if (m.days !== undefined) {
    const days = each("days", parseDays);
    if (days) out.days = [...new Set(days.flat())].sort((a, b) => a - b);
  }
  if (m.hours !== undefined) out.hours = each("hours", parseHours);
  if (m.except !== undefined) out.except = each("except", parseDate);
  if (m.days === undefined && m.hours === undefined) {
    r.fail(path, "days or hours (or both)", v);
  }
  return out;
}

function ruleAuth(r: Reader, v: unknown, path: KeyPath): RuleAuth {
  const out: RuleAuth = { mode: "none", realm: "tandem", onTimeout: "reject" };
  if (v === undefined) return out;
  const m = r.map(v, path, ["mode", "realm", "on_timeout", "digest", "calling_number"]);
  if (m?.mode !== undefined) {
    out.mode = r.oneOf(
      m.mode,
      [...path, "mode"],
      ["none", "source", "digest", "http", "local"] as const,
    ) ?? out.mode;
  }
  if (m?.realm !== undefined) out.realm = r.sipText(m.realm, [...path, "realm"]) ?? out.realm;
  if (m?.on_timeout !== undefined) {
    out.onTimeout = r.oneOf(m.on_timeout, [...path, "on_timeout"], ["reject", "allow"] as const) ??
      out.onTimeout;
  }
  if (m?.digest !== undefined) {
    const d = r.bool(m.digest, [...path, "digest"]);
    // RADIUS modes say it by their name (source or digest); only the HTTP service's needs it.
    if (d && out.mode !== "http") {
      r.fail([...path, "digest"], "mode http", `mode ${out.mode}`, true);
    } else if (d) out.digest = true;
  }
  if (m?.calling_number !== undefined) {
    const c = r.oneOf(m.calling_number, [...path, "calling_number"], ["any", "enforce"] as const);
    if (c === "enforce") out.callingNumber = "enforce";
  }
  return out;
}

/** `reject`: a status (403) or `{ status, reason }`; a final answer of 400-699. */
function rejectAnswer(
  r: Reader,
  v: unknown,
  path: KeyPath,
): { status: number; reason?: string } | undefined {
  if (typeof v === "number" || typeof v === "string") {
    const status = r.int(v, path, 400, 699, "a final status");
    return status === undefined ? undefined : { status };
  }
  const m = r.map(v, path, ["status", "reason"]);
  if (!m) return undefined;
  const status = m.status === undefined
    ? r.fail([...path, "status"], "a final status (400-699)", undefined)
    : r.int(m.status, [...path, "status"], 400, 699, "a final status");
  const reason = m.reason === undefined ? undefined : r.sipText(m.reason, [...path, "reason"]);
  if (status === undefined) return undefined;
  return reason === undefined ? { status } : { status, reason };
}

/** Validate `rules`, merging `defaults` into every route. */
export function readRules(r: Reader, v: unknown, d: RouteOptions): RuleConfig[] {
  if (v === undefined) return [];
  const list = r.list(v, ["rules"]);
  if (!list) return [];
  const names = new Set<string>();
  const seen = new Map<string, { limits?: CallLimits; path: KeyPath }>();
  const rules: RuleConfig[] = [];
  list.forEach((raw, i) => {
    const path = ["rules", i];
    const m = r.map(raw, path, [
      "name",
      "match",
      "auth",
      "limits",
      "order",
      "priority",
      "reject",
      "stir_shaken",
      "route_table",
      "record",
      "routes",
    ]);
    if (!m) return;
    const name = m.name === undefined
      ? `rule-${i + 1}`
      : r.sipText(m.name, [...path, "name"]) ?? `rule-${i + 1}`;
    if (names.has(name)) r.fail([...path, "name"], "a rule name not used before", name);
    names.add(name);
    const rule: RuleConfig = {
      name,
      match: match(r, m.match, [...path, "match"]),
      auth: ruleAuth(r, m.auth, [...path, "auth"]),
      routes: [],
      order: m.order === undefined
        ? "listed"
        : r.oneOf(m.order, [...path, "order"], ["listed", "round-robin", "weighted"] as const) ??
          "listed",
    };
    const lim = m.limits === undefined ? undefined : limits(r, m.limits, [...path, "limits"]);
    if (lim) rule.limits = lim;
    if (m.priority !== undefined && r.bool(m.priority, [...path, "priority"])) rule.priority = true;
    if (m.stir_shaken !== undefined) {
      const ss = readRuleStirShaken(r, m.stir_shaken, [...path, "stir_shaken"]);
      if (ss) rule.stirShaken = ss;
    }
    if (m.reject !== undefined) {
      // A block list entry (premium-rate or fraud-prone destinations, a nuisance caller): the
      // answer is the whole rule, so routes would never be tried.
      const rej = rejectAnswer(r, m.reject, [...path, "reject"]);
      if (rej) rule.reject = rej;
      if (m.routes !== undefined) {
        r.fail([...path, "routes"], "no routes in a rule with reject", "a list of routes");
      }
      rules.push(rule);
      return;
    }
    if (m.route_table !== undefined) {
      const t = r.sipText(m.route_table, [...path, "route_table"]);
      if (t !== undefined) rule.routeTable = t;
    }
    // With a route table, routes are what numbers it lacks get; they may be left out (404).
    const routes = m.routes === undefined
      ? (m.route_table === undefined
        ? r.fail([...path, "routes"], "a list of routes (or reject, or route_table)", undefined)
        : [])
      : r.list(m.routes, [...path, "routes"]);
    if (routes?.length === 0 && m.route_table === undefined) {
      r.fail([...path, "routes"], "at least one route", routes);
    }
    routes?.forEach((rr, j) => {
      const rp = [...path, "routes", j];
      const rm = r.map(rr, rp, ROUTE_KEYS);
      if (!rm) return;
      const rname = rm.name === undefined
        ? `${name}-${j + 1}`
        : r.sipText(rm.name, [...rp, "name"]);
      const weight = rm.weight === undefined
        ? 1
        : r.int(rm.weight, [...rp, "weight"], 1, 10_000) ?? 1;
      if (rm.weight !== undefined && rule.order !== "weighted") {
        r.fail([...rp, "weight"], 'a rule with order "weighted"', `order ${rule.order}`, true);
      }
      const route = readRoute(r, rm, rp, rname, d, weight, true);
      if (route) {
        rule.routes.push(route);
        sameLimits(r, seen, route, rp);
      }
    });
    if (m.record !== undefined && r.bool(m.record, [...path, "record"])) {
      // The relay records: a route that leaves media between the parties has nothing to record.
      rule.record = true;
      rule.routes.forEach((rt, j) => {
        if (rt.media !== "rtpengine") {
          r.fail(
            [...path, "routes", j, "media"],
            "rtpengine in a rule with record (rtpengine records the calls)",
            rt.media,
          );
        }
      });
    }
    rules.push(rule);
  });
  return rules;
}

/** Validate `registrar`: a route (no name, weight or limits) where REGISTERs are relayed. */
export function readRegistrar(r: Reader, v: unknown, d: RouteOptions): RouteConfig | undefined {
  if (v === undefined) return undefined;
  const path = ["registrar"];
  // Its calls go to phones at their Contacts: no domain of its own to put in their URIs.
  const keys = ROUTE_KEYS.filter((k) =>
    !["name", "weight", "limits", "probe", "domain", "respect_retry_after", "enum", "quality"]
      .includes(k)
  );
  const m = r.map(v, path, [...keys, "nat_keepalive"]);
  if (!m) return undefined;
  const { nat_keepalive: nat, ...routeKeys } = m;
  const route = readRoute(r, routeKeys, path, "registrar", d, 1);
  delete route?.limits; // the registrar's routes are its phones: no trunk to count
  // Phones behind NAT over UDP: on by default (25 s), false or 0 turns it off.
  const every = nat === undefined
    ? 25_000
    : nat === false || nat === 0
    ? 0
    : r.duration(nat, [...path, "nat_keepalive"], 5000, 600_000);
  if (route && every) route.natKeepalive = every;
  return route;
}

const OUTBOUND_KEYS = [
  "name",
  ...TARGET_KEYS,
  "aor",
  "registrar_uri",
  "contact_user",
  "expires",
  "nat_keepalive",
  "auth",
];

/**
 * Validate `outbound_registrations`: accounts Tandem registers at carriers. Each has a unique
 * name, a registrar reached like a route (without the call options, which mean nothing here),
 * an address of record and optional credentials; `defaults` do not apply (a default `auth` is
 * some trunk's, not this account's).
 */
export function readOutboundRegistrations(
  r: Reader,
  v: unknown,
): OutboundRegistrationConfig[] {
  if (v === undefined) return [];
  const list = r.list(v, ["outbound_registrations"]);
  if (!list) return [];
  const out: OutboundRegistrationConfig[] = [];
  const names = new Map<string, number>();
  list.forEach((raw, i) => {
    const path: KeyPath = ["outbound_registrations", i];
    const m = r.map(raw, path, OUTBOUND_KEYS);
    if (!m) return;
    const name = m.name === undefined
      ? r.fail([...path, "name"], "a name", undefined)
      : r.sipText(m.name, [...path, "name"]);
    if (name !== undefined && names.has(name)) {
      r.fail([...path, "name"], "a name no other outbound registration has", name);
    } else if (name !== undefined) names.set(name, i);
    const aor = m.aor === undefined
      ? r.fail([...path, "aor"], 'a SIP URI like "sip:+15551230000@carrier.example"', undefined)
      : sipUri(r, m.aor, [...path, "aor"], true);
    const registrarUri = m.registrar_uri === undefined
      ? aor && `${aor.scheme}:${aor.hostPort}`
      : sipUri(r, m.registrar_uri, [...path, "registrar_uri"], false)?.text;
    const contactUser = m.contact_user === undefined
      ? aor?.user
      : userText(r, m.contact_user, [...path, "contact_user"]);
    // Below a minute a registrar answers 423; above a day nobody grants it.
    const expires = m.expires === undefined
      ? 3600_000
      : r.duration(m.expires, [...path, "expires"], 60_000, 86_400_000);
    // Below a second is a flood; above ten minutes no NAT keeps a UDP mapping that long anyway.
    const keepalive = m.nat_keepalive === undefined
      ? undefined
      : r.duration(m.nat_keepalive, [...path, "nat_keepalive"], 1000, 600_000);
    const route = readRoute(r, m, path, name ?? "", {}, 1);
    if (
      name === undefined || !aor || !registrarUri || contactUser === undefined ||
      expires === undefined || !route
    ) return;
    const reg: OutboundRegistrationConfig = {
      name,
      route,
      aor: aor.text,
      registrarUri,
      contactUser,
      expires: Math.round(expires / 1000),
    };
    if (keepalive !== undefined) reg.natKeepalive = keepalive;
    if (route.auth) reg.auth = route.auth;
    out.push(reg);
  });
  return out;
}

/** A sip: or sips: URI (with a user part when `needUser`), as the grammar of §25 has it. */
function sipUri(
  r: Reader,
  v: unknown,
  path: KeyPath,
  needUser: boolean,
): { text: string; scheme: string; user?: string; hostPort: string } | undefined {
  const s = r.sipText(v, path);
  if (s === undefined) return undefined;
  const expected = needUser
    ? 'a SIP URI with a user, like "sip:+15551230000@carrier.example"'
    : 'a SIP URI like "sip:carrier.example"';
  try {
    const u = parseUri(s, "config");
    if ((u.scheme !== "sip" && u.scheme !== "sips") || (needUser && !u.user)) {
      return r.fail(path, expected, s);
    }
    const host = u.host.includes(":") && !u.host.startsWith("[") ? `[${u.host}]` : u.host;
    const hostPort = u.port === undefined ? host : `${host}:${u.port}`;
    return { text: s, scheme: u.scheme, user: u.user, hostPort };
  } catch {
    return r.fail(path, expected, s);
  }
}

/** One route's keys (target, options, TLS name, WebSocket path) over `defaults`. */
export function readRoute(
  r: Reader,
  m: RawMap,
  path: KeyPath,
  name: string | undefined,
  d: RouteOptions,
  weight: number,
  enumAllowed = false,
): RouteConfig | undefined {
  const t = target(r, m, path, enumAllowed);
  const own = readRouteOptions(r, m, path);
  const sni = m.tls_server_name === undefined ? undefined : transportBound(
    r,
    m.tls_server_name,
    [...path, "tls_server_name"],
    t?.transport,
    TLS_SERVER_NAME,
  )?.toLowerCase();
  const upgradePath = m.ws_path === undefined
    ? undefined
    : transportBound(r, m.ws_path, [...path, "ws_path"], t?.transport, WS_PATH);
  const domain = m.domain === undefined ? undefined : hostOrName(r, m.domain, [...path, "domain"]);
  if (t?.enum) {
    // Each call's URIs come from DNS: no fixed server to probe, no domain to put in them.
    if (m.probe !== undefined && m.probe !== false) {
      r.fail([...path, "probe"], "no probe on an enum route", m.probe);
    }
    if (m.domain !== undefined) r.fail([...path, "domain"], "no domain on an enum route", m.domain);
  }
  if (!t || name === undefined) return undefined;
  const route = merge(name, t, own, d, weight);
  if (t.enum) {
    route.enum = t.enum;
    delete route.dns;
    delete route.probe;
  }
  if (domain) route.domain = domain;
  if (sni) route.tlsServerName = sni;
  if (upgradePath && upgradePath !== "/") route.wsPath = upgradePath;
  return route;
}

/**
 * Routes of one name share their call counters (one trunk reached from several rules), so they
 * must agree on the limits; `seen` holds the first route of each name and where it was.
 */
function sameLimits(
  r: Reader,
  seen: Map<string, { limits?: CallLimits; path: KeyPath }>,
  route: RouteConfig,
  path: KeyPath,
): void {
  const first = seen.get(route.name);
  if (!first) {
    seen.set(route.name, { limits: route.limits, path });
    return;
  }
  const a = first.limits;
  const b = route.limits;
  if (a?.maxCalls !== b?.maxCalls || a?.maxCps !== b?.maxCps) {
    r.fail(
      [...path, "limits"],
      `the limits of the route named "${route.name}" at ${formatPath(first.path)} ` +
        "(routes of one name share one counter)",
      describeLimits(b),
      true,
    );
  }
}

function describeLimits(l: CallLimits | undefined): string {
  if (!l) return "no limits";
  const parts = [];
  if (l.maxCalls !== undefined) parts.push(`max_calls ${l.maxCalls}`);
  if (l.maxCps !== undefined) parts.push(`max_cps ${l.maxCps}`);
  return parts.join(", ");
}

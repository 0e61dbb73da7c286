// The `sip`, `http`, `log` and `limits` sections.

import { availableParallelism } from "node:os";
import type { Protocol } from "../transport/types.ts";
import { defaultPort, isStream } from "../transport/protocol.ts";
import type {
  DnsConfig,
  HttpConfig,
  LimitsConfig,
  ListenConfig,
  LogConfig,
  SipConfig,
  SourceLimits,
} from "./types.ts";
import type { KeyPath } from "./locate.ts";
import { isIp } from "./cidr.ts";
import type { Reader } from "./reader.ts";
import { readHttpTls, readTls } from "./validate-tls.ts";

/** Version string used in the default User-Agent. */
export const TANDEM_VERSION = "0.1.0";

const PROTOCOLS: readonly Protocol[] = ["udp", "tcp", "tls", "ws", "wss"];

/** Built-in values for keys the file leaves out. */
export const SIP_DEFAULTS = {
  listen: [
    { address: "0.0.0.0", port: 5060, transports: ["udp", "tcp"] as Protocol[] },
    { address: "::", port: 5060, transports: ["udp", "tcp"] as Protocol[] },
  ],
  t1: 500,
  t2: 4000,
  t4: 5000,
  maxMessageSize: 65535,
  maxHeaders: 100,
  udpReceiveBuffer: 8 * 1024 * 1024,
  udpSendThread: false,
  tcpIdleTimeout: 120_000,
  tcpConnectTimeout: 3000,
  tcpMaxConnections: 20_000,
  wsOrigins: [] as string[],
  userAgent: `Tandem/${TANDEM_VERSION}`,
  workers: 1,
  dns: { servers: [] as { host: string; port: number }[], timeout: 1000, attempts: 2 },
};

/** More workers than this gain nothing on any box Tandem targets and cost file descriptors. */
export const MAX_WORKERS = 64;

const HOSTNAME =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function listen(r: Reader, v: unknown, path: KeyPath): ListenConfig | undefined {
  const m = r.map(v, path, ["address", "port", "transports"]);
  if (!m) return undefined;
  const address = m.address === undefined
    ? r.fail([...path, "address"], "an IP address", undefined)
    : r.ip(m.address, [...path, "address"]);
  let transports: Protocol[] | undefined = ["udp", "tcp"];
  if (m.transports !== undefined) {
    const list = r.list(m.transports, [...path, "transports"], true);
    transports = list?.map((t, i) =>
      r.oneOf(typeof t === "string" ? t.toLowerCase() : t, [...path, "transports", i], PROTOCOLS)
    ) as Protocol[] | undefined;
    if (list && list.length === 0) {
      r.fail([...path, "transports"], "at least one of udp, tcp, tls, ws, wss", list);
    }
  }
  // §19.1.2: 5061 is the TLS port; an entry listing only TLS means it (RFC 6455: 80 for WS
  // alone, 443 for WSS alone).
  const only = transports?.length === 1 ? transports[0] : undefined;
  const port = m.port === undefined
    ? (only ? defaultPort(only) : 5060)
    : r.port(m.port, [...path, "port"]);
  if (
    address === undefined || port === undefined || !transports ||
    transports.includes(undefined as never)
  ) return undefined;
  return { address, port, transports: [...new Set(transports)] };
}

/** A web origin (RFC 6454 §6.2): scheme, host and port only, as a browser's Origin names it. */
function origin(r: Reader, v: unknown, path: KeyPath): string | undefined {
  const s = r.str(v, path);
  if (s === undefined) return undefined;
  let u: URL | undefined;
  try {
    u = new URL(s);
  } catch { /* below */ }
  if (
    !u || (u.protocol !== "https:" && u.protocol !== "http:") || u.origin !== s.replace(/\/$/, "")
  ) {
    return r.fail(path, 'a web origin like "https://app.example.com"', s);
  }
  return u.origin;
}

/** Validate `sip`. */
export function readSip(r: Reader, v: unknown): SipConfig {
  const d = SIP_DEFAULTS;
  const out: SipConfig = {
    ...d,
    listen: d.listen.map((l) => ({ ...l, transports: [...l.transports] })),
    wsOrigins: [],
    dns: { ...d.dns, servers: [] },
  };
  if (v === undefined) return out;
  const m = r.map(v, ["sip"], [
    "listen",
    "advertise",
    "timers",
    "max_message_size",
    "max_headers",
    "udp_receive_buffer",
    "udp_send_thread",
    "tcp",
    "user_agent",
    "workers",
    "tls",
    "websocket",
    "dns",
  ]);
  if (!m) return out;
  if (m.dns !== undefined) out.dns = readDns(r, m.dns, out.dns);
  if (m.tls !== undefined) out.tls = readTls(r, m.tls);
  if (m.listen !== undefined) {
    const list = r.list(m.listen, ["sip", "listen"]);
    if (list) {
      if (list.length === 0) r.fail(["sip", "listen"], "at least one listen entry", list);
      const seen = new Set<string>();
      out.listen = [];
      list.forEach((item, i) => {
        const l = listen(r, item, ["sip", "listen", i]);
        if (!l) return;
        for (const t of l.transports) {
          // TCP, TLS, WS and WSS all listen on a TCP port: one of them per address and port.
          const key = `${isStream(t) ? "stream" : t} ${l.address} ${l.port}`;
          if (seen.has(key)) {
            r.fail(
              ["sip", "listen", i],
              isStream(t)
                ? "each TCP port once (tcp, tls, ws and wss need a port each)"
                : "each address, port and transport once",
              `${t} ${l.address}:${l.port} again`,
              true,
            );
          }
          seen.add(key);
        }
        out.listen.push(l);
      });
    }
  }
  if (m.advertise !== undefined) {
    const s = r.sipText(m.advertise, ["sip", "advertise"]);
    if (s !== undefined) {
      const bare = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
      if (isIp(bare) || HOSTNAME.test(bare)) out.advertise = bare;
      else r.fail(["sip", "advertise"], "an IP address or host name", s);
    }
  }
  if (m.timers !== undefined) {
    const t = r.map(m.timers, ["sip", "timers"], ["t1", "t2", "t4"]);
    if (t) {
      // RFC 3261 §17.1.1.1: T1 is an RTT estimate; values outside these bounds are typos.
      if (t.t1 !== undefined) {
        out.t1 = r.duration(t.t1, ["sip", "timers", "t1"], 10, 10_000) ?? out.t1;
      }
      if (t.t2 !== undefined) {
        out.t2 = r.duration(t.t2, ["sip", "timers", "t2"], 10, 60_000) ?? out.t2;
      }
      if (t.t4 !== undefined) {
        out.t4 = r.duration(t.t4, ["sip", "timers", "t4"], 10, 60_000) ?? out.t4;
      }
      if (out.t2 < out.t1) {
        r.fail(["sip", "timers", "t2"], `t2 at least t1 (${out.t1}ms)`, `${out.t2}ms`, true);
      }
    }
  }
  if (m.max_message_size !== undefined) {
    out.maxMessageSize =
      r.size(m.max_message_size, ["sip", "max_message_size"], 1500, 16 * 1024 * 1024) ??
        out.maxMessageSize;
  }
  if (m.udp_receive_buffer !== undefined) {
    out.udpReceiveBuffer =
      r.size(m.udp_receive_buffer, ["sip", "udp_receive_buffer"], 0, 1024 * 1024 * 1024) ??
        out.udpReceiveBuffer;
  }
  if (m.udp_send_thread !== undefined) {
    out.udpSendThread = r.bool(m.udp_send_thread, ["sip", "udp_send_thread"]) ?? out.udpSendThread;
  }
  if (m.workers !== undefined) {
    out.workers = m.workers === "auto"
      ? Math.min(MAX_WORKERS, Math.max(1, availableParallelism()))
      : typeof m.workers === "string"
      ? (r.fail(["sip", "workers"], `a number from 1 to ${MAX_WORKERS} or "auto"`, m.workers) ??
        out.workers)
      : r.int(m.workers, ["sip", "workers"], 1, MAX_WORKERS) ?? out.workers;
  }
  if (m.max_headers !== undefined) {
    out.maxHeaders = r.int(m.max_headers, ["sip", "max_headers"], 10, 10_000) ?? out.maxHeaders;
  }
  if (m.tcp !== undefined) {
    const t = r.map(m.tcp, ["sip", "tcp"], ["idle_timeout", "connect_timeout", "max_connections"]);
    if (t?.max_connections !== undefined) {
      out.tcpMaxConnections =
        r.int(t.max_connections, ["sip", "tcp", "max_connections"], 1, 1_000_000) ??
          out.tcpMaxConnections;
    }
    if (t?.idle_timeout !== undefined) {
      out.tcpIdleTimeout = r.duration(t.idle_timeout, ["sip", "tcp", "idle_timeout"], 1000) ??
        out.tcpIdleTimeout;
    }
    if (t?.connect_timeout !== undefined) {
      out.tcpConnectTimeout =
        r.duration(t.connect_timeout, ["sip", "tcp", "connect_timeout"], 100) ??
          out.tcpConnectTimeout;
    }
  }
  if (m.websocket !== undefined) {
    const w = r.map(m.websocket, ["sip", "websocket"], ["origins"]);
    const list = w?.origins === undefined
      ? undefined
      : r.list(w.origins, ["sip", "websocket", "origins"]);
    out.wsOrigins = (list ?? []).map((o, i) => origin(r, o, ["sip", "websocket", "origins", i]))
      .filter((o): o is string => o !== undefined);
  }
  if (m.user_agent !== undefined) {
    out.userAgent = r.sipText(m.user_agent, ["sip", "user_agent"]) ?? out.userAgent;
  }
  return out;
}

/** `sip.dns`: servers as "ip" or "ip:port" (53), a timeout per try and rounds of tries. */
function readDns(r: Reader, v: unknown, d: DnsConfig): DnsConfig {
  const m = r.map(v, ["sip", "dns"], ["servers", "timeout", "attempts"]);
  if (!m) return d;
  const out: DnsConfig = { ...d, servers: [] };
  if (m.servers !== undefined) {
    (r.list(m.servers, ["sip", "dns", "servers"]) ?? []).forEach((item, i) => {
      const path = ["sip", "dns", "servers", i];
      const s = r.str(item, path);
      if (s === undefined) return;
      const hp = splitHostPort(s);
      const port = hp?.port === undefined ? 53 : Number(hp.port);
      if (!hp || !isIp(hp.host) || !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
        r.fail(path, 'an IP address with an optional port, like "192.0.2.53" or "[::1]:5353"', s);
        return;
      }
      out.servers.push({ host: hp.host, port });
    });
  }
  if (m.timeout !== undefined) {
    out.timeout = r.duration(m.timeout, ["sip", "dns", "timeout"], 50, 10_000) ?? out.timeout;
  }
  if (m.attempts !== undefined) {
    out.attempts = r.int(m.attempts, ["sip", "dns", "attempts"], 1, 5) ?? out.attempts;
  }
  return out;
}

/** Split "127.0.0.1:8080" or "[::1]:8080". */
export function splitHostPort(s: string): { host: string; port?: string } | undefined {
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (v6) return { host: v6[1], port: v6[2] };
  const colons = s.split(":").length - 1;
  if (colons === 0) return { host: s };
  if (colons === 1) {
    const [host, port] = s.split(":");
    return { host, port };
  }
  return { host: s }; // bare IPv6, no port
}

/**
 * "IP:port" or "[IPv6]:port" (the port may be left out when there is a `dflt`), as one value:
 * its problems are reported against `path` with `example`.
 */
export function ipAndPort(
  r: Reader,
  v: unknown,
  path: KeyPath,
  example: string,
  dflt?: number,
): { host: string; port: number } | undefined {
  const s = r.str(v, path);
  if (s === undefined) return undefined;
  const hp = splitHostPort(s);
  const port = hp?.port === undefined ? dflt : /^\d+$/.test(hp.port) ? Number(hp.port) : NaN;
  if (!hp || !isIp(hp.host) || port === undefined || !(port >= 1 && port <= 65535)) {
    return r.fail(path, `an IP address and port like ${example}`, s);
  }
  return { host: hp.host, port };
}

/** Validate `http`; `false` disables the API. */
export function readHttp(r: Reader, v: unknown): HttpConfig | undefined {
  const out: HttpConfig = { address: "127.0.0.1", port: 8080 };
  if (v === undefined) return out;
  if (v === false) return undefined;
  const m = r.map(v, ["http"], ["listen", "token", "tls", "allow"]);
  if (!m) return out;
  if (m.allow !== undefined) {
    const list = r.list(m.allow, ["http", "allow"], true);
    const blocks = list?.map((c, i) => r.cidr(c, ["http", "allow", i]));
    if (blocks?.length === 0) r.fail(["http", "allow"], "at least one address block", list);
    else if (blocks?.every((b) => b !== undefined)) out.allow = blocks as string[];
  }
  if (m.tls !== undefined) {
    const tls = readHttpTls(r, m.tls);
    if (tls) out.tls = tls;
  }
  if (m.listen !== undefined) {
    const a = ipAndPort(r, m.listen, ["http", "listen"], '"127.0.0.1:8080" or "[::1]:8080"');
    if (a) {
      out.address = a.host;
      out.port = a.port;
    }
  }
  if (m.token !== undefined) {
    const t = r.sipText(m.token, ["http", "token"]);
    // An empty token (e.g. from an empty variable) would silently mean "no auth": refuse it.
    if (t === "") {
      r.fail(["http", "token"], "a non-empty token (leave the key out for no token)", t);
    } else if (t !== undefined) out.token = t;
  }
  return out;
}

/** Validate `log`. */
export function readLog(r: Reader, v: unknown): LogConfig {
  const out: LogConfig = { level: "info", format: "json" };
  if (v === undefined) return out;
  const m = r.map(v, ["log"], ["level", "format"]);
  if (m?.level !== undefined) {
    out.level = r.oneOf(m.level, ["log", "level"], ["debug", "info", "warn", "error"] as const) ??
      out.level;
  }
  if (m?.format !== undefined) {
    out.format = r.oneOf(m.format, ["log", "format"], ["json", "pretty"] as const) ?? out.format;
  }
  return out;
}

/** Validate `limits`. */
export function readLimits(r: Reader, v: unknown): LimitsConfig {
  const out: LimitsConfig = {
    maxCalls: 150_000,
    retryAfter: 5,
    drainTimeout: 60_000,
    dropUserAgents: [],
  };
  if (v === undefined) return out;
  const m = r.map(v, ["limits"], [
    "max_calls",
    "retry_after",
    "drain_timeout",
    "per_source",
    "drop_user_agents",
  ]);
  if (m?.max_calls !== undefined) {
    out.maxCalls = r.int(m.max_calls, ["limits", "max_calls"], 1, 10_000_000) ?? out.maxCalls;
  }
  if (m?.retry_after !== undefined) {
    out.retryAfter = r.int(m.retry_after, ["limits", "retry_after"], 0, 86_400, "seconds") ??
      out.retryAfter;
  }
  if (m?.drain_timeout !== undefined) {
    out.drainTimeout = r.duration(m.drain_timeout, ["limits", "drain_timeout"]) ?? out.drainTimeout;
  }
  if (m?.per_source !== undefined) out.perSource = readPerSource(r, m.per_source);
  if (m?.drop_user_agents !== undefined) {
    const path = ["limits", "drop_user_agents"];
    const list = r.list(m.drop_user_agents, path, true) ?? [];
    out.dropUserAgents = list.map((u, i) => {
      const t = r.sipText(u, [...path, i]);
      // An empty pattern would match every User-Agent and drop every caller.
      if (t !== undefined && !t.trim()) return r.fail([...path, i], "a User-Agent fragment", t);
      return t?.trim().toLowerCase();
    }).filter((t): t is string => t !== undefined);
  }
  return out;
}

/** `limits.per_source`: flood protection by source address. */
function readPerSource(r: Reader, v: unknown): SourceLimits | undefined {
  const path = ["limits", "per_source"];
  const m = r.map(v, path, ["max_requests", "ban", "trusted", "ipv6_prefix"]);
  if (!m) return undefined;
  const maxRequests = m.max_requests === undefined
    ? r.fail([...path, "max_requests"], "new requests a second allowed from one address", undefined)
    : r.int(m.max_requests, [...path, "max_requests"], 1, 1_000_000);
  const banMs = m.ban === undefined
    ? 60_000
    : r.duration(m.ban, [...path, "ban"], 1000, 86_400_000);
  const list = m.trusted === undefined ? [] : r.list(m.trusted, [...path, "trusted"], true) ?? [];
  const trusted = list.map((c, i) => r.cidr(c, [...path, "trusted", i]))
    .filter((c): c is string => c !== undefined);
  const ipv6Prefix = m.ipv6_prefix === undefined
    ? 64
    : r.int(m.ipv6_prefix, [...path, "ipv6_prefix"], 32, 128);
  return maxRequests === undefined || banMs === undefined || ipv6Prefix === undefined
    ? undefined
    : { maxRequests, banMs, trusted, ipv6Prefix };
}

// The `radius`, `http_authorization`, `cdr` and `media` sections: the services the B2BUA talks
// to besides SIP peers.

import { ipAndPort } from "./validate-sip.ts";
import type {
  CdrConfig,
  HepConfig,
  HttpAuthorizationConfig,
  MediaConfig,
  MediaRelayServer,
  RadiusConfig,
  RadiusServer,
} from "./types.ts";
import type { KeyPath } from "./locate.ts";
import type { RawMap, Reader } from "./reader.ts";

function radiusServer(r: Reader, v: unknown, path: KeyPath): RadiusServer | undefined {
  const m = r.map(v, path, ["address", "auth_port", "acct_port", "secret", "timeout", "retries"]);
  if (!m) return undefined;
  const address = m.address === undefined
    ? r.fail([...path, "address"], "an IP address", undefined)
    : r.ip(m.address, [...path, "address"]);
  const secret = m.secret === undefined
    ? r.fail([...path, "secret"], "a shared secret", undefined)
    : r.str(m.secret, [...path, "secret"]);
  if (secret === "") r.fail([...path, "secret"], "a non-empty shared secret", secret);
  const authPort = m.auth_port === undefined ? 1812 : r.port(m.auth_port, [...path, "auth_port"]);
  const acctPort = m.acct_port === undefined ? 1813 : r.port(m.acct_port, [...path, "acct_port"]);
  const timeout = m.timeout === undefined
    ? 2000
    : r.duration(m.timeout, [...path, "timeout"], 10, 60_000);
  const retries = m.retries === undefined ? 2 : r.int(m.retries, [...path, "retries"], 0, 10);
  if (
    [address, secret, authPort, acctPort, timeout, retries].includes(undefined) || secret === ""
  ) return undefined;
  return {
    address: address!,
    authPort: authPort!,
    acctPort: acctPort!,
    secret: secret!,
    timeout: timeout!,
    retries: retries!,
  };
}

/** Validate `radius`; absent means no RADIUS. */
export function readRadius(r: Reader, v: unknown): RadiusConfig | undefined {
  if (v === undefined) return undefined;
  const m = r.map(v, ["radius"], [
    "servers",
    "nas_ip",
    "gateway_id",
    "interim_interval",
    "digest_style",
  ]);
  if (!m) return undefined;
  const out: RadiusConfig = {
    servers: [],
    gatewayId: "tandem",
    interimInterval: 0,
    digestStyle: "draft-sterman",
  };
  const list = m.servers === undefined
    ? r.fail(["radius", "servers"], "a list of servers", undefined)
    : r.list(m.servers, ["radius", "servers"]);
  if (list?.length === 0) r.fail(["radius", "servers"], "at least one server", list);
  list?.forEach((s, i) => {
    const srv = radiusServer(r, s, ["radius", "servers", i]);
    if (srv) out.servers.push(srv);
  });
  if (m.nas_ip !== undefined) out.nasIp = r.ip(m.nas_ip, ["radius", "nas_ip"]);
  if (m.gateway_id !== undefined) {
    out.gatewayId = r.sipText(m.gateway_id, ["radius", "gateway_id"]) ?? out.gatewayId;
  }
  if (m.interim_interval !== undefined) {
    const ms = r.duration(m.interim_interval, ["radius", "interim_interval"]);
    if (ms !== undefined && ms !== 0 && ms < 10_000) {
      r.fail(["radius", "interim_interval"], "0 (off) or at least 10s", m.interim_interval);
    } else if (ms !== undefined) out.interimInterval = ms;
  }
  if (m.digest_style !== undefined) {
    out.digestStyle =
      r.oneOf(m.digest_style, ["radius", "digest_style"], ["draft-sterman", "rfc5090"] as const) ??
        out.digestStyle;
  }
  return out;
}

/** Validate `cdr`; absent means no CDRs. `radiusOn` is the default for `cdr.radius`. */
export function readCdr(r: Reader, v: unknown, radiusOn: boolean): CdrConfig | undefined {
  if (v === undefined) return undefined;
  const m = r.map(v, ["cdr"], [
    "dir",
    "fsync",
    "fsync_interval",
    "rotate_bytes",
    "file",
    "radius",
    "webhook",
    "refused",
    "sip_headers",
    "checkpoint",
  ]);
  if (!m) return undefined;
  const out: CdrConfig = {
    dir: "/var/lib/tandem/cdr",
    fsync: "batched",
    fsyncInterval: 100,
    rotateBytes: 64 * 1024 * 1024,
    radius: radiusOn,
    refused: true,
    sipHeaders: [],
    checkpoint: 1000,
  };
  if (m.checkpoint !== undefined) {
    // false or 0 turns the ledger off; else at least 100 ms (it writes a line per checkpoint).
    const off = m.checkpoint === false || m.checkpoint === 0 || m.checkpoint === "0";
    out.checkpoint = off
      ? 0
      : r.duration(m.checkpoint, ["cdr", "checkpoint"], 100, 3_600_000) ?? out.checkpoint;
  }
  if (m.refused !== undefined) out.refused = r.bool(m.refused, ["cdr", "refused"]) ?? true;
  if (m.sip_headers !== undefined) {
    out.sipHeaders = headerNames(r, m.sip_headers, ["cdr", "sip_headers"]);
  }
  if (m.dir !== undefined) out.dir = r.str(m.dir, ["cdr", "dir"]) ?? out.dir;
  if (m.fsync !== undefined) {
    out.fsync = r.oneOf(m.fsync, ["cdr", "fsync"], ["every", "batched"] as const) ?? out.fsync;
  }
  if (m.fsync_interval !== undefined) {
    out.fsyncInterval = r.duration(m.fsync_interval, ["cdr", "fsync_interval"], 1, 60_000) ??
      out.fsyncInterval;
  }
  if (m.rotate_bytes !== undefined) {
    out.rotateBytes = r.size(m.rotate_bytes, ["cdr", "rotate_bytes"], 4096) ?? out.rotateBytes;
  }
  if (m.file !== undefined) {
    const p = ["cdr", "file"];
    const f = r.map(m.file, p, ["path", "format", "rotate", "rotate_bytes"]);
    if (f) {
      const path = f.path === undefined
        ? r.fail([...p, "path"], "a file path", undefined)
        : r.str(f.path, [...p, "path"]);
      const format = f.format === undefined
        ? "jsonl"
        : r.oneOf(f.format, [...p, "format"], ["jsonl", "csv"] as const);
      const rotate = f.rotate === undefined
        ? "daily"
        : r.oneOf(f.rotate, [...p, "rotate"], ["daily", "size"] as const);
      const rotateBytes = f.rotate_bytes === undefined
        ? out.rotateBytes
        : r.size(f.rotate_bytes, [...p, "rotate_bytes"], 4096);
      if (path && format && rotate && rotateBytes !== undefined) {
        out.file = { path, format, rotate, rotateBytes };
      }
    }
  }
  if (m.radius !== undefined) {
    out.radius = r.bool(m.radius, ["cdr", "radius"]) ?? out.radius;
    if (out.radius && !radiusOn) {
      r.fail(["cdr", "radius"], "a radius section with servers for RADIUS accounting", true);
    }
  }
  if (m.webhook !== undefined) {
    const p = ["cdr", "webhook"];
    const w = r.map(m.webhook, p, ["url", "batch", "timeout", "headers"]);
    if (w) {
      const e = httpEndpoint(r, w, p, 5000, 60_000);
      const batch = w.batch === undefined ? 100 : r.int(w.batch, [...p, "batch"], 1, 100_000);
      if (e && batch !== undefined) out.webhook = { ...e, batch };
    }
  }
  return out;
}

/** `url`, `timeout` and `headers` of an HTTP service Tandem calls (CDR webhook, authorization). */
function httpEndpoint(
  r: Reader,
  w: RawMap,
  p: KeyPath,
  defaultTimeout: number,
  maxTimeout: number,
): { url: string; timeout: number; headers: Record<string, string> } | undefined {
  let url = w.url === undefined
    ? r.fail([...p, "url"], "an http(s) URL", undefined)
    : r.str(w.url, [...p, "url"]);
  if (url !== undefined && !/^https?:\/\/[^\s/]+/.test(url)) {
    url = r.fail([...p, "url"], "an http(s) URL", url);
  }
  const timeout = w.timeout === undefined
    ? defaultTimeout
    : r.duration(w.timeout, [...p, "timeout"], 100, maxTimeout);
  const headers: Record<string, string> = {};
  if (w.headers !== undefined) {
    const h = r.map(
      w.headers,
      [...p, "headers"],
      w.headers && typeof w.headers === "object" ? Object.keys(w.headers) : [],
    );
    for (const [k, val] of Object.entries(h ?? {})) {
      const s = r.sipText(val, [...p, "headers", k]); // HTTP headers: same injection concern
      if (s !== undefined) headers[k] = s;
    }
  }
  return url && timeout !== undefined ? { url, timeout, headers } : undefined;
}

/** Validate `http_authorization`: the operator's service that authorizes and routes calls. */
export function readHttpAuthorization(r: Reader, v: unknown): HttpAuthorizationConfig | undefined {
  if (v === undefined) return undefined;
  const p = ["http_authorization"];
  const m = r.map(v, p, ["url", "timeout", "headers", "sip_headers"]);
  if (!m) return undefined;
  const e = httpEndpoint(r, m, p, 2000, 30_000);
  const sipHeaders = m.sip_headers === undefined
    ? []
    : headerNames(r, m.sip_headers, [...p, "sip_headers"]);
  return e && { ...e, sipHeaders };
}

/** A list of SIP header names (token characters), lowercased: what a message is looked up by. */
function headerNames(r: Reader, v: unknown, path: KeyPath): string[] {
  const out: string[] = [];
  r.list(v, path, true)?.forEach((h, i) => {
    const s = r.str(h, [...path, i]);
    if (s !== undefined && !/^[A-Za-z0-9\-.!%*_+`'~]+$/.test(s)) {
      r.fail([...path, i], "a header name (token characters only)", s);
    } else if (s !== undefined && !out.includes(s.toLowerCase())) out.push(s.toLowerCase());
  });
  return out;
}

function relay(
  r: Reader,
  v: unknown,
  path: KeyPath,
  defPort: number,
): MediaRelayServer | undefined {
  const m = r.map(v, path, ["address", "port", "weight"]);
  if (!m) return undefined;
  const address = m.address === undefined
    ? r.fail([...path, "address"], "an IP address", undefined)
    : r.ip(m.address, [...path, "address"]);
  const port = m.port === undefined ? defPort : r.port(m.port, [...path, "port"]);
  const weight = m.weight === undefined ? 1 : r.int(m.weight, [...path, "weight"], 0, 1000);
  return address !== undefined && port !== undefined && weight !== undefined
    ? { address, port, weight }
    : undefined;
}

/** Validate `media`; absent means no media relay. */
export function readMedia(r: Reader, v: unknown): MediaConfig | undefined {
  if (v === undefined) return undefined;
  const m = r.map(v, ["media"], [
    "rtpengine",
    "rtpproxy",
    "on_failure",
    "codecs",
    "ice",
    "timeout",
    "retries",
  ]);
  if (!m) return undefined;
  const out: MediaConfig = {
    rtpengine: [],
    rtpproxy: [],
    onFailure: "reject",
    codecs: [],
    ice: "keep",
    timeout: 1000,
    retries: 2,
  };
  for (const [key, port] of [["rtpengine", 22222], ["rtpproxy", 7722]] as const) {
    if (m[key] === undefined) continue;
    r.list(m[key], ["media", key])?.forEach((s, i) => {
      const srv = relay(r, s, ["media", key, i], port);
      if (srv) out[key].push(srv);
    });
  }
  if (m.on_failure !== undefined) {
    out.onFailure = r.oneOf(m.on_failure, ["media", "on_failure"], ["reject", "pass"] as const) ??
      out.onFailure;
  }
  if (m.codecs !== undefined) {
    r.list(m.codecs, ["media", "codecs"], true)?.forEach((c, i) => {
      if (typeof c === "number" && Number.isInteger(c) && c >= 0 && c <= 127) {
        out.codecs.push(String(c));
      } else if (typeof c === "string" && /^[A-Za-z0-9\-._/]+$/.test(c)) out.codecs.push(c);
      else r.fail(["media", "codecs", i], 'a codec name like "PCMU" or a payload type 0-127', c);
    });
  }
  if (m.ice !== undefined) {
    out.ice = r.oneOf(m.ice, ["media", "ice"], ["strip", "keep"] as const) ?? out.ice;
  }
  if (m.timeout !== undefined) {
    out.timeout = r.duration(m.timeout, ["media", "timeout"], 10, 60_000) ?? out.timeout;
  }
  if (m.retries !== undefined) {
    out.retries = r.int(m.retries, ["media", "retries"], 0, 10) ?? out.retries;
  }
  return out;
}

/** Validate `hep`: a capture server's IP address and UDP port, the agent id, a password. */
export function readHep(r: Reader, v: unknown): HepConfig | undefined {
  if (v === undefined) return undefined;
  const p = ["hep"];
  const m = r.map(v, p, ["target", "agent_id", "password"]);
  if (!m) return undefined;
  const target = m.target === undefined
    ? r.fail([...p, "target"], 'an IP address and port like "192.0.2.9:9060"', undefined)
    : ipAndPort(r, m.target, [...p, "target"], '"192.0.2.9:9060"', 9060);
  const agentId = m.agent_id === undefined
    ? 2001
    : r.int(m.agent_id, [...p, "agent_id"], 0, 0xffffffff);
  const password = m.password === undefined ? undefined : r.sipText(m.password, [...p, "password"]);
  if (!target || agentId === undefined) return undefined;
  return { ...target, agentId, ...(password ? { password } : {}) };
}

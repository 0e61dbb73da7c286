// `--print-config`: the effective configuration written back in the file format (YAML, snake_case,
// units), with defaults applied and secrets masked. Without secrets it loads back to the same
// Config, so an operator can start from it.

import { DAY_NAMES, formatHours } from "./time-window.ts";
import { stringify } from "yaml";
import type { CallLimits, Config, RouteConfig, TimeMatch, UserRewrite } from "./types.ts";
import { formatDuration, formatSize } from "./duration.ts";

/** What replaces a secret in printed output. */
export const MASK = "********";
const SECRET_HEADER = /auth|token|key|secret|password|cookie/i;

function rewrite(rw: UserRewrite) {
  return {
    strip: rw.strip,
    prefix: rw.prefix,
    // replace goes with a regex only: on its own it does not load back.
    ...(rw.regex ? { regex: rw.regex.source, replace: rw.replace } : {}),
  };
}

function route(r: RouteConfig, mask: boolean) {
  const timers: Record<string, string> = {};
  // Always written: left out, it would load back as the 5s default rather than off.
  timers.no_progress = formatDuration(r.timers.noProgress ?? 0);
  if (r.timers.noAnswer) timers.no_answer = formatDuration(r.timers.noAnswer);
  if (r.timers.maxDuration) timers.max_duration = formatDuration(r.timers.maxDuration);
  const host = r.host.includes(":") ? `[${r.host}]` : r.host;
  // A name located by SRV or NAPTR has no port of its own; by NAPTR, no transport either. An
  // ENUM route has its apex instead of a target.
  const where: { target?: string; enum?: string } = r.enum
    ? { enum: r.enum }
    : { target: r.dns === "srv" || r.dns === "naptr" ? host : `${host}:${r.port}` };
  return {
    name: r.name,
    ...where,
    ...(r.dns === "naptr" || r.enum ? {} : { transport: r.transport }),
    ...(r.tlsServerName ? { tls_server_name: r.tlsServerName } : {}),
    ...(r.domain ? { domain: r.domain } : {}),
    ...(r.fromDomain ? { from_domain: r.fromDomain } : {}),
    ...(r.respectRetryAfter ? { respect_retry_after: formatDuration(r.respectRetryAfter) } : {}),
    ...(r.trusted === false ? { trusted: false } : {}),
    ...(r.quality
      ? {
        quality: {
          window: formatDuration(r.quality.window),
          min_calls: r.quality.minCalls,
          ...(r.quality.minAsr !== undefined ? { min_asr: r.quality.minAsr } : {}),
          ...(r.quality.maxPdd !== undefined ? { max_pdd: formatDuration(r.quality.maxPdd) } : {}),
        },
      }
      : {}),
    ...(r.probe
      ? {
        probe: {
          interval: formatDuration(r.probe.interval),
          timeout: formatDuration(r.probe.timeout),
          down_after: r.probe.downAfter,
          up_after: r.probe.upAfter,
        },
      }
      : {}),
    ...(r.wsPath ? { ws_path: r.wsPath } : {}),
    ...(r.ruriUser ? { ruri_user: rewrite(r.ruriUser) } : {}),
    ...(r.callerId
      ? {
        caller_id: {
          ...(r.callerId.user !== undefined ? { user: r.callerId.user } : {}),
          ...(r.callerId.display !== undefined ? { display: r.callerId.display } : {}),
          ...(r.callerId.rewrite ? { rewrite: rewrite(r.callerId.rewrite) } : {}),
        },
      }
      : {}),
    timers: timers,
    stop_codes: r.stopCodes,
    failover_on_timeout: r.failoverOnTimeout,
    follow_redirects: r.followRedirects,
    ...(r.auth
      ? { auth: { username: r.auth.username, password: mask ? MASK : r.auth.password } }
      : {}),
    headers: { add: r.headers.add, pass: r.headers.pass, remove: r.headers.remove },
    ...(r.keepalive
      ? {
        keepalive: { method: r.keepalive.method, interval: formatDuration(r.keepalive.interval) },
      }
      : {}),
    media: r.media,
    ...limitsDoc(r.limits),
  };
}

function limitsDoc(l: CallLimits | undefined) {
  if (!l) return {};
  return {
    limits: {
      ...(l.maxCalls !== undefined ? { max_calls: l.maxCalls } : {}),
      ...(l.maxCps !== undefined ? { max_cps: l.maxCps } : {}),
    },
  };
}

/** The file-format document for a Config (secrets masked unless `mask` is false). */
export function effectiveDocument(cfg: Config, mask = true): Record<string, unknown> {
  const s = cfg.sip;
  const hidden = (v: string) => (mask ? MASK : v);
  const doc: Record<string, unknown> = {
    sip: {
      listen: s.listen.map((l) => ({ address: l.address, port: l.port, transports: l.transports })),
      ...(s.advertise ? { advertise: s.advertise } : {}),
      timers: { t1: formatDuration(s.t1), t2: formatDuration(s.t2), t4: formatDuration(s.t4) },
      max_message_size: s.maxMessageSize,
      max_headers: s.maxHeaders,
      udp_receive_buffer: s.udpReceiveBuffer,
      udp_send_thread: s.udpSendThread,
      tcp: {
        idle_timeout: formatDuration(s.tcpIdleTimeout),
        connect_timeout: formatDuration(s.tcpConnectTimeout),
        max_connections: s.tcpMaxConnections,
      },
      user_agent: s.userAgent,
      workers: s.workers,
      ...(s.wsOrigins.length ? { websocket: { origins: s.wsOrigins } } : {}),
      dns: {
        servers: s.dns.servers.map((d) =>
          `${d.host.includes(":") ? `[${d.host}]` : d.host}:${d.port}`
        ),
        timeout: formatDuration(s.dns.timeout),
        attempts: s.dns.attempts,
      },
      // Paths, not the PEM text: the key stays in its file.
      ...(s.tls
        ? {
          tls: {
            cert: s.tls.certFile,
            key: s.tls.keyFile,
            ...(s.tls.caFile ? { ca: s.tls.caFile } : {}),
            verify_server: s.tls.verifyServer,
            verify_client: s.tls.verifyClient,
          },
        }
        : {}),
    },
    http: cfg.http
      ? {
        listen: cfg.http.address.includes(":")
          ? `[${cfg.http.address}]:${cfg.http.port}`
          : `${cfg.http.address}:${cfg.http.port}`,
        ...(cfg.http.token !== undefined ? { token: hidden(cfg.http.token) } : {}),
        ...(cfg.http.tls
          ? { tls: { cert: cfg.http.tls.certFile, key: cfg.http.tls.keyFile } }
          : {}),
        ...(cfg.http.allow ? { allow: cfg.http.allow } : {}),
      }
      : false,
    log: { level: cfg.log.level, format: cfg.log.format },
    limits: {
      max_calls: cfg.limits.maxCalls,
      retry_after: cfg.limits.retryAfter,
      drain_timeout: formatDuration(cfg.limits.drainTimeout),
      ...(cfg.limits.perSource
        ? {
          per_source: {
            max_requests: cfg.limits.perSource.maxRequests,
            ban: formatDuration(cfg.limits.perSource.banMs),
            trusted: cfg.limits.perSource.trusted,
            ipv6_prefix: cfg.limits.perSource.ipv6Prefix,
          },
        }
        : {}),
      ...(cfg.limits.dropUserAgents.length ? { drop_user_agents: cfg.limits.dropUserAgents } : {}),
    },
    rules: cfg.rules.map((rule) => ({
      name: rule.name,
      match: {
        ...(rule.match.ruriUserPrefix ? { ruri_user_prefix: rule.match.ruriUserPrefix } : {}),
        ...(rule.match.ruriUserRegex ? { ruri_user_regex: rule.match.ruriUserRegex.source } : {}),
        ...(rule.match.fromUserPrefix ? { from_user_prefix: rule.match.fromUserPrefix } : {}),
        ...(rule.match.fromUserRegex ? { from_user_regex: rule.match.fromUserRegex.source } : {}),
        ...(rule.match.source ? { source: rule.match.source } : {}),
        ...(rule.match.headers
          ? {
            headers: Object.fromEntries(rule.match.headers.map((h) => [h.name, h.regex.source])),
          }
          : {}),
        ...(rule.match.time ? { time: timeText(rule.match.time) } : {}),
      },
      auth: {
        mode: rule.auth.mode,
        realm: rule.auth.realm,
        on_timeout: rule.auth.onTimeout,
        ...(rule.auth.digest ? { digest: true } : {}),
        ...(rule.auth.callingNumber ? { calling_number: rule.auth.callingNumber } : {}),
      },
      ...limitsDoc(rule.limits),
      ...(rule.order !== "listed" ? { order: rule.order } : {}),
      ...(rule.priority ? { priority: true } : {}),
      ...(rule.stirShaken ? { stir_shaken: { ...rule.stirShaken } } : {}),
      ...(rule.routeTable !== undefined ? { route_table: rule.routeTable } : {}),
      ...(rule.record ? { record: true } : {}),
      ...(rule.reject ? { reject: rule.reject } : {
        routes: rule.routes.map((r) => ({
          ...route(r, mask),
          ...(rule.order === "weighted" ? { weight: r.weight } : {}),
        })),
      }),
    })),
  };
  if (cfg.routes) doc.routes = cfg.routes.map((r) => route(r, mask));
  if (cfg.users) {
    doc.users = cfg.users.map((u) => ({
      username: u.username,
      ...(u.password !== undefined ? { password: hidden(u.password) } : {}),
      ...(u.ha1 !== undefined ? { ha1: hidden(u.ha1) } : {}),
      ...(u.numbers ? { numbers: u.numbers } : {}),
    }));
  }
  if (cfg.routeTables) {
    doc.route_tables = cfg.routeTables.map((t) => ({ name: t.name, file: t.file }));
  }
  if (cfg.registrar) {
    const { name: _name, ...registrar } = route(cfg.registrar, mask);
    const every = cfg.registrar.natKeepalive;
    doc.registrar = { ...registrar, nat_keepalive: every ? formatDuration(every) : false };
  }
  if (cfg.outboundRegistrations) {
    doc.outbound_registrations = cfg.outboundRegistrations.map((o) => {
      // Only the registrar's address and credentials of the route shape mean anything here.
      const { target, transport, tls_server_name, ws_path, auth } = route(o.route, mask);
      return {
        name: o.name,
        target,
        ...(transport !== undefined ? { transport } : {}),
        ...(tls_server_name !== undefined ? { tls_server_name } : {}),
        ...(ws_path !== undefined ? { ws_path } : {}),
        aor: o.aor,
        registrar_uri: o.registrarUri,
        contact_user: o.contactUser,
        expires: formatDuration(o.expires * 1000),
        ...(o.natKeepalive !== undefined ? { nat_keepalive: formatDuration(o.natKeepalive) } : {}),
        ...(auth !== undefined ? { auth } : {}),
      };
    });
  }
  if (cfg.radius) {
    const r = cfg.radius;
    doc.radius = {
      servers: r.servers.map((v) => ({
        address: v.address,
        auth_port: v.authPort,
        acct_port: v.acctPort,
        secret: hidden(v.secret),
        timeout: formatDuration(v.timeout),
        retries: v.retries,
      })),
      ...(r.nasIp ? { nas_ip: r.nasIp } : {}),
      gateway_id: r.gatewayId,
      interim_interval: r.interimInterval ? formatDuration(r.interimInterval) : 0,
      digest_style: r.digestStyle,
    };
  }
  if (cfg.hep) {
    const h = cfg.hep;
    doc.hep = {
      target: `${h.host.includes(":") ? `[${h.host}]` : h.host}:${h.port}`,
      agent_id: h.agentId,
      ...(h.password !== undefined ? { password: hidden(h.password) } : {}),
    };
  }
  if (cfg.stirShaken) {
    // File paths only: the key's and the CAs' PEM text stay out of what is printed.
    const { sign, verify } = cfg.stirShaken;
    doc.stir_shaken = {
      ...(sign
        ? {
          sign: {
            key: sign.keyFile,
            x5u: sign.x5u,
            ...(sign.attest ? { attest: sign.attest } : {}),
          },
        }
        : {}),
      ...(verify
        ? {
          verify: {
            mode: verify.mode,
            ca: verify.caFile,
            max_age: formatDuration(verify.maxAge),
            fetch_timeout: formatDuration(verify.fetchTimeout),
            cache: formatDuration(verify.cacheTtl),
            allow_http: verify.allowHttp,
          },
        }
        : {}),
    };
  }
  if (cfg.httpAuthorization) {
    const h = cfg.httpAuthorization;
    doc.http_authorization = {
      url: h.url,
      timeout: formatDuration(h.timeout),
      headers: Object.fromEntries(
        Object.entries(h.headers).map(([k, v]) => [k, SECRET_HEADER.test(k) ? hidden(v) : v]),
      ),
      sip_headers: h.sipHeaders,
    };
  }
  if (cfg.cdr) {
    const c = cfg.cdr;
    doc.cdr = {
      dir: c.dir,
      fsync: c.fsync,
      fsync_interval: formatDuration(c.fsyncInterval),
      rotate_bytes: formatSize(c.rotateBytes),
      ...(c.file
        ? {
          file: {
            path: c.file.path,
            format: c.file.format,
            rotate: c.file.rotate,
            rotate_bytes: formatSize(c.file.rotateBytes),
          },
        }
        : {}),
      radius: c.radius,
      refused: c.refused,
      checkpoint: c.checkpoint ? formatDuration(c.checkpoint) : false,
      ...(c.sipHeaders.length ? { sip_headers: c.sipHeaders } : {}),
      ...(c.webhook
        ? {
          webhook: {
            url: c.webhook.url,
            batch: c.webhook.batch,
            timeout: formatDuration(c.webhook.timeout),
            headers: Object.fromEntries(
              Object.entries(c.webhook.headers).map((
                [k, v],
              ) => [k, SECRET_HEADER.test(k) ? hidden(v) : v]),
            ),
          },
        }
        : {}),
    };
  }
  if (cfg.media) {
    const m = cfg.media;
    doc.media = {
      rtpengine: m.rtpengine,
      rtpproxy: m.rtpproxy,
      on_failure: m.onFailure,
      codecs: m.codecs,
      ice: m.ice,
      timeout: formatDuration(m.timeout),
      retries: m.retries,
    };
  }
  return doc;
}

/** YAML text of the effective configuration, for `tandem --print-config`; secrets masked. */
export function effectiveConfigText(cfg: Config, opts: { mask?: boolean } = {}): string {
  const body = stringify(effectiveDocument(cfg, opts.mask ?? true), { lineWidth: 0 });
  return `# Effective configuration from ${cfg.source}; defaults applied, secrets masked.\n${body}`;
}

/** `match.time` as written: day names, "HH:MM-HH:MM" windows. */
function timeText(t: TimeMatch): Record<string, unknown> {
  return {
    timezone: t.timezone,
    ...(t.days ? { days: t.days.map((d) => DAY_NAMES[d]) } : {}),
    ...(t.hours ? { hours: t.hours.map(formatHours) } : {}),
    ...(t.except ? { except: t.except } : {}),
  };
}

// The whole document: top-level keys, each section, then checks that span sections.

import { isSecure } from "../transport/protocol.ts";
import type { KeyPath } from "./locate.ts";
import type { Config, RouteConfig, RuleStirShaken, StirShakenConfig } from "./types.ts";
import type { Reader } from "./reader.ts";
import { readHttp, readLimits, readLog, readSip } from "./validate-sip.ts";
import {
  readDefaults,
  readOutboundRegistrations,
  readRegistrar,
  readRules,
} from "./validate-rules.ts";
import {
  readCdr,
  readHep,
  readHttpAuthorization,
  readMedia,
  readRadius,
} from "./validate-services.ts";
import { readStirShaken } from "./validate-stir.ts";
import { checkRouteNames, readNamedRoutes, readRouteTables, readUsers } from "./validate-tables.ts";

const TOP_KEYS = [
  "sip",
  "http",
  "log",
  "limits",
  "defaults",
  "rules",
  "routes",
  "route_tables",
  "users",
  "registrar",
  "outbound_registrations",
  "radius",
  "http_authorization",
  "hep",
  "stir_shaken",
  "cdr",
  "media",
];

/** Validate a parsed document into a Config; problems are left in `r.issues`. */
export function validateDocument(r: Reader, doc: unknown, source: string): Config {
  const m = r.map(doc ?? {}, [], TOP_KEYS) ?? {};
  const radius = readRadius(r, m.radius);
  const media = readMedia(r, m.media);
  const cfg: Config = {
    source,
    sip: readSip(r, m.sip),
    http: readHttp(r, m.http),
    log: readLog(r, m.log),
    limits: readLimits(r, m.limits),
    rules: [],
    radius,
    cdr: readCdr(r, m.cdr, radius !== undefined),
    media,
  };
  const hep = readHep(r, m.hep);
  if (hep) cfg.hep = hep;
  const stirShaken = readStirShaken(r, m.stir_shaken);
  if (stirShaken) cfg.stirShaken = stirShaken;
  const httpAuthorization = readHttpAuthorization(r, m.http_authorization);
  if (httpAuthorization) cfg.httpAuthorization = httpAuthorization;
  const defaults = readDefaults(r, m.defaults);
  cfg.rules = readRules(r, m.rules, defaults);
  const named = readNamedRoutes(r, m.routes, defaults);
  if (named.length) cfg.routes = named;
  const tables = readRouteTables(r, m.route_tables);
  if (tables.tables.length) cfg.routeTables = tables.tables;
  checkRouteNames(r, cfg, tables.names);
  const users = readUsers(r, m.users);
  if (users.length) cfg.users = users;
  cfg.registrar = readRegistrar(r, m.registrar, defaults);
  const outbound = readOutboundRegistrations(r, m.outbound_registrations);
  if (outbound.length) cfg.outboundRegistrations = outbound;
  for (const k of ["http", "radius", "cdr", "media", "registrar"] as const) {
    if (cfg[k] === undefined) delete cfg[k];
  }
  if (cfg.sip.workers > 1) tcpNeedsOneWorker(r, cfg);
  if (cfg.sip.workers > 1 && cfg.registrar) {
    // A call to a phone is dispatched by its Call-ID, not by the token its registration is under.
    r.fail(
      ["registrar"],
      "sip.workers 1 (registrations live in one process)",
      `workers ${cfg.sip.workers}`,
      true,
    );
  }
  tlsNeedsCertificates(r, cfg, m.sip);
  cfg.rules.forEach((rule, i) => {
    stirNeedsSection(r, rule.stirShaken, ["rules", i, "stir_shaken"], m.stir_shaken, stirShaken);
    if (rule.auth.mode === "http") {
      // A section given but broken has its own errors.
      if (!httpAuthorization && m.http_authorization === undefined) {
        r.fail(
          ["rules", i, "auth", "mode"],
          "an http_authorization section with a url for auth mode http",
          "none",
          true,
        );
      }
    } else if (rule.auth.mode === "local") {
      if (!users.length && m.users === undefined) {
        r.fail(["rules", i, "auth", "mode"], "a users section for auth mode local", "none", true);
      }
    } else if (rule.auth.mode !== "none" && !radius) {
      r.fail(
        ["rules", i, "auth", "mode"],
        `a radius section with servers for auth mode ${rule.auth.mode}`,
        "none",
        true,
      );
    }
  });
  for (const [route, path] of everyRoute(cfg)) {
    if (route.media === "none") continue;
    if (!media || media[route.media].length === 0) {
      r.fail(path, `media.${route.media} servers for media ${route.media}`, "none", true);
    }
  }
  const reg = cfg.registrar;
  if (reg && reg.media !== "none" && (!media || media[reg.media].length === 0)) {
    r.fail(
      ["registrar", "media"],
      `media.${reg.media} servers for media ${reg.media}`,
      "none",
      true,
    );
  }
  return cfg;
}

/**
 * A rule that signs needs `stir_shaken.sign` (the key), one that checks `stir_shaken.verify`
 * (the trusted CAs). When the section is present but broken, its own issues say why.
 */
function stirNeedsSection(
  r: Reader,
  rule: RuleStirShaken | undefined,
  path: (string | number)[],
  raw: unknown,
  section: StirShakenConfig | undefined,
): void {
  if (!rule || (raw !== undefined && !section)) return;
  if (rule.attest && rule.attest !== "none" && !section?.sign) {
    r.fail([...path, "attest"], "a stir_shaken.sign section (key, x5u) to sign with", "none", true);
  }
  if (rule.verify && rule.verify !== "off" && !section?.verify) {
    r.fail([...path, "verify"], "a stir_shaken.verify section (ca) to check with", "none", true);
  }
}

/**
 * A TLS listener or a route over TLS needs `sip.tls`. When that section is present but broken,
 * its own issues say why; only its absence is reported here.
 */
function tlsNeedsCertificates(r: Reader, cfg: Config, rawSip: unknown): void {
  const given = typeof rawSip === "object" && rawSip !== null && "tls" in rawSip;
  if (cfg.sip.tls || given) return;
  const why = "a sip.tls section with cert and key for transport tls or wss";
  cfg.sip.listen.forEach((l, i) => {
    if (l.transports.some(isSecure)) {
      r.fail(["sip", "listen", i, "transports"], why, l.transports.join(", "), true);
    }
  });
  for (const [route, path] of everyRoute(cfg)) {
    if (isSecure(route.transport)) r.fail(path, why, "none", true);
  }
  cfg.outboundRegistrations?.forEach((o, i) => {
    if (isSecure(o.route.transport)) r.fail(["outbound_registrations", i], why, "none", true);
  });
}

/**
 * Several workers share UDP ports only: a TCP or TLS connection carries many calls and is held
 * by the one process that accepted or opened it, so SIP over TCP or TLS needs `sip.workers: 1`.
 */
function tcpNeedsOneWorker(r: Reader, cfg: Config): void {
  const why = `udp only with sip.workers ${cfg.sip.workers} (TCP, TLS and WebSocket need ` +
    "workers: 1)";
  cfg.sip.listen.forEach((l, i) => {
    if (l.transports.some((t) => t !== "udp")) {
      r.fail(["sip", "listen", i, "transports"], why, l.transports.join(", "), true);
    }
  });
  for (const [route, path] of everyRoute(cfg)) {
    if (route.transport !== "udp") r.fail([...path, "transport"], why, route.transport);
  }
  cfg.outboundRegistrations?.forEach((o, i) => {
    if (o.route.transport !== "udp") {
      r.fail(["outbound_registrations", i, "transport"], why, o.route.transport);
    }
  });
}

/** Every route of the rules and the top-level `routes`, with where it was configured. */
function* everyRoute(cfg: Config): Generator<[RouteConfig, KeyPath]> {
  for (const [i, rule] of cfg.rules.entries()) {
    for (const [j, route] of rule.routes.entries()) yield [route, ["rules", i, "routes", j]];
  }
  for (const [j, route] of (cfg.routes ?? []).entries()) yield [route, ["routes", j]];
}

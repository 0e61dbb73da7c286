// `tandem match`: which rule a call would come under, and where it would go, from the
// configuration file alone. For the operator with a hundred customer rules asking why a number
// went where it did. Pure: a configuration and a question in, text and JSON out.

import { matchRule, ruleIdentity } from "../config/match.ts";
import { DAY_NAMES, formatHours } from "../config/time-window.ts";
import { tableRoutes } from "../config/route-table.ts";
import type { Config, RouteConfig, RuleConfig } from "../config/types.ts";

/** What a call is matched on (as `rules[].match` sees an INVITE). */
export interface MatchQuery {
  ruriUser: string;
  fromUser: string;
  sourceIp: string;
  /** Header lines of the INVITE, names in any case. */
  headers: [string, string][];
  /** When the call comes (epoch ms); absent: now. */
  at?: number;
}

export interface MatchAnswer {
  /** Whether a rule matched (the call is routed or refused by it) rather than getting 404. */
  matched: boolean;
  text: string;
  json: Record<string, unknown>;
}

/** The rule `q` matches in `cfg`, described. */
export function describeMatch(cfg: Config, q: MatchQuery): MatchAnswer {
  const byName = new Map(q.headers.map(([n, v]) => [n.toLowerCase(), v]));
  const rule = matchRule(cfg.rules, {
    ruriUser: q.ruriUser,
    fromUser: q.fromUser,
    sourceIp: q.sourceIp,
    headers: { get: (name) => byName.get(name.toLowerCase()) },
    now: q.at,
  });
  if (!rule) {
    return {
      matched: false,
      text: `no rule matches (of ${cfg.rules.length}): the call gets 404 No Route`,
      json: { rule: null, answer: 404 },
    };
  }
  const index = cfg.rules.indexOf(rule);
  const lines = [`rule "${rule.name}" (rule ${index + 1} of ${cfg.rules.length})`];
  const json: Record<string, unknown> = { rule: rule.name, index };
  const time = rule.match.time;
  if (time) {
    // Why it held now: a rule by the clock answers differently an hour later.
    const when = [
      time.days ? time.days.map((d) => DAY_NAMES[d]).join(",") : "every day",
      time.hours ? time.hours.map(formatHours).join(",") : "all day",
      time.timezone,
    ];
    const except = time.except?.length ? `, except ${time.except.length} date(s)` : "";
    lines.push(`  holds ${when.join(" ")}${except}`);
    json.time = {
      ...time,
      days: time.days?.map((d) => DAY_NAMES[d]),
      hours: time.hours?.map(formatHours),
    };
  }
  if (rule.reject) {
    const { status, reason } = rule.reject;
    lines.push(`  refused at once: ${status}${reason ? ` ${reason}` : ""}`);
    json.reject = rule.reject;
    return { matched: true, text: lines.join("\n"), json };
  }
  const table = rule.routeTable === undefined
    ? undefined
    : cfg.routeTables?.find((t) => t.name === rule.routeTable);
  const hit = table && tableRoutes(table, q.ruriUser);
  if (hit) {
    // What the engine does: the routes of the longest prefix, cheapest first.
    const byName = new Map(
      [...cfg.rules.flatMap((r) => r.routes), ...(cfg.routes ?? [])].map((r) => [r.name, r]),
    );
    const routes = hit.routes.map((n) => byName.get(n)).filter((r) => r !== undefined);
    lines.push(
      `  routes (table ${table.name}, prefix ${hit.prefix}, cheapest first): ` +
        routes.map(routeText).join("; "),
    );
    json.table = { name: table.name, prefix: hit.prefix };
    json.routes = routes.map((r) => ({ name: r.name, target: targetText(r) }));
  } else if (rule.routes.length === 0) {
    lines.push(`  no prefix of it in table ${rule.routeTable} and no routes: 404 No Route`);
    return { matched: false, text: lines.join("\n"), json: { ...json, answer: 404 } };
  } else {
    if (table) lines.push(`  no prefix of it in table ${table.name}: the rule's routes`);
    lines.push(`  routes (${rule.order}): ${rule.routes.map(routeText).join("; ")}`);
    json.order = rule.order;
    json.routes = rule.routes.map((r) => ({ name: r.name, target: targetText(r) }));
  }
  if (rule.auth.mode !== "none") {
    // Local users answer at once: there is no server to time out.
    lines.push(
      rule.auth.mode === "local"
        ? "  auth: local (digest against users)"
        : `  auth: ${rule.auth.mode}, on timeout ${rule.auth.onTimeout}`,
    );
    json.auth = rule.auth.mode;
  }
  if (rule.limits) {
    lines.push(`  limits: ${limitsText(rule)}`);
    json.limits = rule.limits;
  }
  if (rule.priority) {
    lines.push("  priority: let in past load shedding and limits.max_calls");
    json.priority = true;
  }
  const { attest, verify } = ruleIdentity(rule, cfg);
  if (attest || verify !== "off") {
    const parts = [
      ...(verify !== "off" ? [`caller's Identity checked (${verify})`] : []),
      ...(attest ? [`INVITEs signed with attestation ${attest}`] : []),
    ];
    lines.push(`  stir/shaken: ${parts.join("; ")}`);
    json.stirShaken = { verify, ...(attest ? { attest } : {}) };
  }
  return { matched: true, text: lines.join("\n"), json };
}

const DNS_MODE = { a: "A/AAAA", srv: "SRV, then A/AAAA", naptr: "NAPTR, SRV, A/AAAA" } as const;

function targetText(r: RouteConfig): string {
  if (r.enum) return `the called number's ENUM URIs under ${r.enum}`;
  const host = r.host.includes(":") ? `[${r.host}]` : r.host;
  const dns = r.dns ? ` (located by DNS: ${DNS_MODE[r.dns]})` : "";
  return `${r.transport}:${host}:${r.port}${dns}`;
}

function routeText(r: RouteConfig): string {
  return `${r.name} -> ${targetText(r)}`;
}

function limitsText(rule: RuleConfig): string {
  const l = rule.limits!;
  const parts: string[] = [];
  if (l.maxCalls !== undefined) parts.push(`max_calls ${l.maxCalls}`);
  if (l.maxCps !== undefined) parts.push(`max_cps ${l.maxCps}`);
  return parts.join(", ");
}

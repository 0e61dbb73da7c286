// What rules name at the top level: the `routes` (trunks known by name) and `route_tables` of
// least-cost routing, read and checked at load with the names that must agree between them,
// the rules and the tables; and the `users` rules with `auth.mode: local` authenticate.

import type { KeyPath } from "./locate.ts";
import type { Reader } from "./reader.ts";
import { parseRouteTable } from "./route-table.ts";
import type { Config, LocalUserConfig, RouteConfig, RouteTable } from "./types.ts";
import { readRoute, ROUTE_KEYS, type RouteOptions } from "./validate-rules.ts";
import { fileOf, readPem } from "./validate-tls.ts";

/** Validate the top-level `routes`: each a route with a name of its own. */
export function readNamedRoutes(r: Reader, v: unknown, d: RouteOptions): RouteConfig[] {
  if (v === undefined) return [];
  const list = r.list(v, ["routes"]);
  if (!list) return [];
  const out: RouteConfig[] = [];
  const names = new Set<string>();
  list.forEach((raw, i) => {
    const path: KeyPath = ["routes", i];
    const m = r.map(raw, path, ROUTE_KEYS.filter((k) => k !== "weight"));
    if (!m) return;
    // Tables, RADIUS and the HTTP service know a trunk by its name alone.
    const name = uniqueName(
      r,
      m.name,
      [...path, "name"],
      names,
      "a route name (tables name routes)",
      "a name no other top-level route has",
    );
    const route = readRoute(r, m, path, name, d, 1, true);
    if (route) out.push(route);
  });
  return out;
}

/**
 * Validate `route_tables`: names and CSV files, every line checked. `names` holds every table
 * named, loaded or not, so that rules naming a broken one are not reported twice.
 */
export function readRouteTables(
  r: Reader,
  v: unknown,
): { tables: RouteTable[]; names: Set<string> } {
  const out: RouteTable[] = [];
  const names = new Set<string>();
  if (v === undefined) return { tables: out, names };
  const list = r.list(v, ["route_tables"]);
  if (!list) return { tables: out, names };
  list.forEach((raw, i) => {
    const path: KeyPath = ["route_tables", i];
    const m = r.map(raw, path, ["name", "file"]);
    if (!m) return;
    const name = uniqueName(
      r,
      m.name,
      [...path, "name"],
      names,
      "a table name",
      "a name no other route table has",
    );
    const file = m.file === undefined
      ? r.fail([...path, "file"], "a CSV file of prefix,route,cost lines", undefined)
      : fileOf(r, m.file, [...path, "file"]);
    const text = file && readPem(r, file, [...path, "file"], "a readable CSV file");
    if (name === undefined || file === undefined || text === undefined) return;
    const t = parseRouteTable(text);
    for (const issue of t.issues) {
      r.fail([...path, "file"], `${file} line ${issue.line}: ${issue.expected}`, issue.got, true);
    }
    if (t.issues.length) return;
    out.push({ name, file, prefixes: t.prefixes, longest: t.longest });
  });
  return { tables: out, names };
}

/**
 * Names that must agree: a rule's `route_table` names a table, and every route a table names is
 * a route of the configuration (top-level `routes` or a rule's).
 */
export function checkRouteNames(r: Reader, cfg: Config, declared: Set<string>): void {
  const tables = new Map((cfg.routeTables ?? []).map((t, i) => [t.name, { t, i }]));
  cfg.rules.forEach((rule, i) => {
    if (rule.routeTable !== undefined && !declared.has(rule.routeTable)) {
      const known = [...declared].join(", ") || "none";
      r.fail(["rules", i, "route_table"], `a route table's name (${known})`, rule.routeTable);
    }
  });
  const known = new Set([
    ...(cfg.routes ?? []).map((x) => x.name),
    ...cfg.rules.flatMap((rule) => rule.routes.map((x) => x.name)),
  ]);
  for (const { t, i } of tables.values()) {
    const missing = new Set<string>();
    for (const names of t.prefixes.values()) {
      for (const n of names) if (!known.has(n)) missing.add(n);
    }
    if (missing.size) {
      r.fail(
        ["route_tables", i, "file"],
        `routes named in ${t.file} to be routes of the configuration (top-level routes or a rule's)`,
        [...missing].slice(0, 10).join(", ") + (missing.size > 10 ? ", ..." : ""),
        true,
      );
    }
  }
}

const HA1 = /^[0-9a-fA-F]{32}$/;

/** Validate `users`: unique names, each with a password or an MD5 HA1. */
export function readUsers(r: Reader, v: unknown): LocalUserConfig[] {
  if (v === undefined) return [];
  const list = r.list(v, ["users"]);
  if (!list) return [];
  const out: LocalUserConfig[] = [];
  const names = new Set<string>();
  list.forEach((raw, i) => {
    const path: KeyPath = ["users", i];
    const m = r.map(raw, path, ["username", "password", "ha1", "numbers"]);
    if (!m) return;
    const username = uniqueName(
      r,
      m.username,
      [...path, "username"],
      names,
      "a user name",
      "a user name no other user has",
    );
    if ((m.password === undefined) === (m.ha1 === undefined)) {
      r.fail(
        path,
        "exactly one of password, ha1",
        m.password === undefined ? "neither" : "both",
        true,
      );
      return;
    }
    const password = m.password === undefined
      ? undefined
      : r.sipText(m.password, [...path, "password"]);
    const ha1 = m.ha1 === undefined ? undefined : r.str(m.ha1, [...path, "ha1"]);
    if (ha1 !== undefined && !HA1.test(ha1)) {
      r.fail(
        [...path, "ha1"],
        "32 hex digits: MD5(username:realm:password)",
        "something else",
        true,
      );
      return;
    }
    let numbers: string[] | undefined;
    if (m.numbers !== undefined) {
      const list = r.list(m.numbers, [...path, "numbers"]);
      numbers = [];
      list?.forEach((n, j) => {
        const text = typeof n === "number" ? String(n) : n;
        if (typeof text === "string" && /^\+?[0-9]{1,15}$/.test(text)) {
          numbers!.push(text.replace(/^\+/, ""));
        } else r.fail([...path, "numbers", j], "a number prefix of 1-15 digits", n);
      });
    }
    if (!username || (password === undefined && ha1 === undefined)) return;
    out.push({
      username,
      ...(password !== undefined ? { password } : {}),
      ...(ha1 !== undefined ? { ha1: ha1.toLowerCase() } : {}),
      ...(numbers ? { numbers } : {}),
    });
  });
  return out;
}

/**
 * A name the entry must have, non-empty and not another entry's of its list (`names`, which it
 * joins); undefined when it is missing or not text (the issue says which).
 */
function uniqueName(
  r: Reader,
  v: unknown,
  path: KeyPath,
  names: Set<string>,
  expected: string,
  unique: string,
): string | undefined {
  const name = v === undefined ? r.fail(path, expected, undefined) : r.sipText(v, path);
  if (name === "") return r.fail(path, expected, name);
  if (name !== undefined && names.has(name)) r.fail(path, unique, name);
  if (name !== undefined) names.add(name);
  return name;
}

// The HTTP-API commands (calls, routes, registrations, outbound-registrations, drop, reload,
// drain, stats) against a running instance.

import type { Config } from "../config/mod.ts";
import type { CliCommand, ClientAction } from "./args.ts";

/** Where a client command reads and writes; tests inject their own. */
export interface ClientIO {
  fetch: typeof fetch;
  out: (text: string) => void;
  err: (text: string) => void;
  env: (name: string) => string | undefined;
}

function defaultIO(): ClientIO {
  return {
    fetch: globalThis.fetch.bind(globalThis),
    out: (t) => console.log(t),
    err: (t) => console.error(t),
    env: (n) =>
      (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env[n],
  };
}

/**
 * The API base URL: --url, else the config's http.listen (wildcards → loopback), https when the
 * API has a certificate (checked like any HTTPS client's: it must name the address dialled, and
 * a private CA needs NODE_EXTRA_CA_CERTS; --url with the certificate's name otherwise).
 */
export function apiBaseUrl(url: string | undefined, cfg?: Config): string | undefined {
  if (url) return url.replace(/\/+$/, "");
  if (!cfg) return "http://127.0.0.1:8080";
  if (!cfg.http) return undefined;
  const a = cfg.http.address === "0.0.0.0"
    ? "127.0.0.1"
    : cfg.http.address === "::"
    ? "::1"
    : cfg.http.address;
  const scheme = cfg.http.tls ? "https" : "http";
  return `${scheme}://${a.includes(":") ? `[${a}]` : a}:${cfg.http.port}`;
}

const REQUESTS: Record<ClientAction, { method: string; path: (id?: string) => string }> = {
  calls: { method: "GET", path: () => "/calls" },
  routes: { method: "GET", path: () => "/routes" },
  registrations: { method: "GET", path: () => "/registrations" },
  "outbound-registrations": { method: "GET", path: () => "/outbound-registrations" },
  drop: { method: "DELETE", path: (id) => `/calls/${encodeURIComponent(id ?? "")}` },
  reload: { method: "POST", path: () => "/reload" },
  drain: { method: "POST", path: () => "/drain" },
  stats: { method: "GET", path: () => "/metrics" },
};

const COLUMNS = [
  "id",
  "callId",
  "state",
  "from",
  "to",
  "route",
  "duration",
  "startedAt",
  "answeredAt",
];

/** Render call objects as an aligned table of the well-known fields they carry. */
export function callsTable(calls: Record<string, unknown>[]): string {
  if (calls.length === 0) return "no live calls";
  let cols = COLUMNS.filter((c) => calls.some((call) => call[c] !== undefined));
  if (cols.length === 0) cols = Object.keys(calls[0]).slice(0, 6);
  return table(cols, calls.map((c) => cols.map((k) => cell(c[k]))));
}

/** Render GET /routes: one line per route, its probed servers' states after its target. */
export function routesTable(routes: Record<string, unknown>[]): string {
  if (routes.length === 0) return "no routes";
  const rows = routes.map((r) => {
    const servers = (r.servers as { target: string; state: string }[] | undefined) ?? [];
    const limit = [
      r.maxCalls !== undefined ? `${r.maxCalls} calls` : "",
      r.maxCps !== undefined ? `${r.maxCps}/s` : "",
    ]
      .filter(Boolean).join(", ");
    return [
      cell(r.name),
      cell(r.target),
      cell((r.rules as string[] | undefined)?.join(",")),
      cell(r.calls),
      cell(r.attempts),
      typeof r.attempts === "number" && r.attempts > 0
        ? `${Math.round((100 * Number(r.answered)) / r.attempts)}%`
        : "-",
      limit || "-",
      qualityCell(r.quality as Quality | undefined),
      servers.length ? servers.map((s) => `${s.target} ${s.state}`).join("; ") : "not probed",
    ];
  });
  return table(
    ["name", "target", "rules", "calls", "attempts", "asr", "limits", "quality", "servers"],
    rows,
  );
}

/** A route's recent figures (routes with `quality`), as GET /routes gives them. */
interface Quality {
  calls: number;
  asr: number;
  pddMs?: number;
  degraded: boolean;
}

/** "degraded: 12 calls, asr 8%, pdd 4.2 s", or "-" for a route without `quality`. */
function qualityCell(q: Quality | undefined): string {
  if (!q) return "-";
  const pdd = q.pddMs === undefined ? "" : `, pdd ${(q.pddMs / 1000).toFixed(1)} s`;
  return `${q.degraded ? "degraded" : "ok"}: ${q.calls} calls, asr ${
    Math.round(q.asr * 100)
  }%${pdd}`;
}

/** Render GET /registrations: one line per registered phone. */
export function registrationsTable(regs: Record<string, unknown>[]): string {
  if (regs.length === 0) return "no registrations";
  const cols = ["aor", "contact", "via", "expires"];
  return table(cols, regs.map((r) => cols.map((k) => cell(r[k]))));
}

/** Render GET /outbound-registrations: one line per account registered at a carrier. */
export function outboundTable(list: Record<string, unknown>[]): string {
  if (list.length === 0) return "no outbound registrations";
  const cols = ["name", "aor", "state", "server", "last", "expires", "next"];
  return table(cols, list.map((r) => cols.map((k) => cell(r[k]))));
}

function cell(v: unknown): string {
  return v === undefined || v === null ? "-" : typeof v === "string" ? v : JSON.stringify(v);
}

function table(cols: string[], body: string[][]): string {
  const rows = [cols, ...body];
  const widths = cols.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/**
 * Run a client command against the instance's HTTP API. Returns the exit status: 0 ok, 1 the
 * server refused or could not be reached, 2 nothing to talk to (HTTP disabled and no --url).
 */
export async function runClientCommand(
  cmd: Extract<CliCommand, { kind: "client" }>,
  cfg?: Config,
  io: ClientIO = defaultIO(),
): Promise<number> {
  const base = apiBaseUrl(cmd.url, cfg);
  if (!base) {
    io.err(`tandem ${cmd.action}: the HTTP API is disabled in ${cfg?.source}; pass --url`);
    return 2;
  }
  const token = cmd.token ?? cfg?.http?.token ?? io.env("TANDEM_TOKEN");
  const req = REQUESTS[cmd.action];
  const url = base + req.path(cmd.callId);
  let res: Response;
  let body: string;
  try {
    res = await io.fetch(url, {
      method: req.method,
      headers: {
        accept: cmd.action === "stats" ? "text/plain" : "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      signal: AbortSignal.timeout(15_000),
    });
    body = await res.text();
  } catch (e) {
    io.err(`tandem ${cmd.action}: cannot reach ${url}: ${(e as Error).message}`);
    return 1;
  }
  if (res.status === 401 || res.status === 403) {
    io.err(
      `tandem ${cmd.action}: ${res.status} unauthorized at ${url} (check --token, http.token or TANDEM_TOKEN)`,
    );
    return 1;
  }
  if (cmd.action === "drop" && res.status === 404) {
    io.err(`tandem drop: no live call ${cmd.callId}`);
    return 1;
  }
  if (!res.ok) {
    io.err(
      `tandem ${cmd.action}: ${res.status} ${res.statusText}${body ? `\n${body.trimEnd()}` : ""}`,
    );
    return 1;
  }
  switch (cmd.action) {
    case "calls": {
      let calls: unknown;
      try {
        calls = JSON.parse(body);
      } catch {
        io.err(`tandem calls: ${url} did not return JSON`);
        return 1;
      }
      if (cmd.json) io.out(JSON.stringify(calls, null, 2));
      else if (Array.isArray(calls)) io.out(callsTable(calls as Record<string, unknown>[]));
      else io.out(JSON.stringify(calls, null, 2));
      return 0;
    }
    case "routes":
    case "registrations":
    case "outbound-registrations": {
      let list: unknown;
      try {
        list = JSON.parse(body);
      } catch {
        io.err(`tandem ${cmd.action}: ${url} did not return JSON`);
        return 1;
      }
      const rows = list as Record<string, unknown>[];
      if (cmd.json || !Array.isArray(list)) io.out(JSON.stringify(list, null, 2));
      else if (cmd.action === "routes") io.out(routesTable(rows));
      else if (cmd.action === "registrations") io.out(registrationsTable(rows));
      else io.out(outboundTable(rows));
      return 0;
    }
    case "drop":
      io.out(`dropped ${cmd.callId}`);
      return 0;
    default:
      io.out(body.trimEnd() || `${cmd.action}: ok`);
      return 0;
  }
}

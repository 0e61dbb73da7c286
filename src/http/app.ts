// The control and observability API: probes, Prometheus metrics, live calls, reload and drain.
// Routes are plain Hono over web-standard Request/Response, so the same app runs under Deno.serve
// and Bun.serve (see serve.ts). Every answer is JSON except /metrics, and every error is
// `{ error: "<what went wrong and what to do>" }` — never a stack trace.

import { Hono } from "hono";
import type { Context } from "hono";
import type { Registry } from "../util/metrics.ts";
import { Logger } from "../util/log.ts";
import { inCidr, isIp } from "../config/cidr.ts";
import type { CallFilter, ControlPlane } from "./control.ts";
import { bearerToken, timingSafeEqualStrings } from "./auth.ts";
import { hasControlChar } from "../util/text.ts";

/** Content type of the Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Most calls one GET /calls returns when no `limit` is given. */
export const DEFAULT_CALL_LIMIT = 1000;
/** Largest `limit` accepted by GET /calls. */
export const MAX_CALL_LIMIT = 10000;

/** Options of {@link createApp}. */
export interface AppOptions {
  /** When set (non-empty), every route except /health needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Metrics exposed on GET /metrics. */
  registry: Registry;
  /** Where unexpected errors and operator actions are logged. */
  log?: Logger;
  /**
   * The address blocks (CIDR) requests may come from, read per request (a reload changes them);
   * undefined: any address. A request from elsewhere gets 403, /health included.
   */
  allow?: () => readonly string[] | undefined;
}

/** What the server adapter passes with each request (serve.ts): the peer's address. */
export interface RequestEnv {
  remote?: string;
}

// Method table, for 405 answers that say what a path does accept.
const ROUTES: [path: string, methods: string[]][] = [
  ["/health", ["GET"]],
  ["/ready", ["GET"]],
  ["/metrics", ["GET"]],
  ["/calls", ["GET"]],
  ["/calls/:id", ["GET", "DELETE"]],
  ["/reload", ["POST"]],
  ["/drain", ["POST"]],
  ["/stats", ["GET"]],
  ["/sources/banned", ["GET"]],
  ["/sources/banned/:address", ["DELETE"]],
  ["/gc", ["POST"]],
];

const CALL_FILTER_KEYS = ["state", "route", "caller", "callee", "limit"] as const;
const MAX_REASON_LENGTH = 200;

/** Build the HTTP API over `control`. Serve it with `serveHttp` or call `app.fetch` directly. */
export function createApp(control: ControlPlane, opts: AppOptions): Hono {
  const log = opts.log ?? new Logger();
  const token = opts.token ? opts.token : undefined;
  const app = new Hono();

  app.onError((err, c) => {
    log.error("http.error", {
      method: c.req.method,
      path: c.req.path,
      error: err.message,
      stack: err.stack,
    });
    return c.json({ error: "internal error while handling the request; see the Tandem log" }, 500);
  });

  app.notFound((c) =>
    c.json({
      error: `no such endpoint: ${c.req.method} ${c.req.path}; endpoints are ` +
        ROUTES.map(([p, m]) => `${m.join("|")} ${p}`).join(", "),
    }, 404)
  );

  // The address check comes first: a request from outside the blocks learns nothing, not even
  // whether a token would have let it in.
  app.use("*", async (c, next) => {
    const allow = opts.allow?.();
    if (!allow) return await next();
    const remote = (c.env as RequestEnv | undefined)?.remote;
    if (remote !== undefined && allow.some((b) => inCidr(remote, b))) return await next();
    log.warn("http.forbidden_address", { remote: remote ?? "unknown", path: c.req.path });
    return c.json({ error: "forbidden: this address is not in http.allow" }, 403);
  });

  // /health stays open so load balancers and orchestrators can probe without the secret; it
  // reveals nothing that could change state.
  app.use("*", async (c, next) => {
    if (!token || c.req.path === "/health") return await next();
    const given = bearerToken(c.req.header("Authorization"));
    if (given !== undefined && await timingSafeEqualStrings(given, token)) return await next();
    c.header(
      "WWW-Authenticate",
      given === undefined
        ? 'Bearer realm="tandem"'
        : 'Bearer realm="tandem", error="invalid_token"',
    );
    return c.json({
      error: given === undefined
        ? 'missing credentials: send the header "Authorization: Bearer <http.token>"'
        : "invalid bearer token: use the value of http.token from the Tandem config",
    }, 401);
  });

  app.use("*", async (c, next) => {
    await next();
    // Probe and call state must never be served from a cache.
    c.header("Cache-Control", "no-store");
  });

  app.get("/health", async (c) => {
    let report;
    try {
      report = await control.health();
    } catch (err) {
      log.error("http.health.failed", { error: err });
      return c.json({ ok: false, error: "health check raised an error; see the Tandem log" }, 503);
    }
    const ok = report.ok && report.transports.every((t) => t.ok);
    return c.json({ ...report, ok }, ok ? 200 : 503);
  });

  app.get("/ready", async (c) => {
    const r = await control.ready();
    return c.json(r, r.ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const body = control.metrics ? await control.metrics() : opts.registry.expose();
    return c.body(body, 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  });

  app.get("/calls", async (c) => {
    const filter = parseCallFilter(c.req.query());
    if (typeof filter === "string") return c.json({ error: filter }, 400);
    // Enforce the limit here too: the API promises it whatever the control plane does.
    return c.json((await control.listCalls(filter)).slice(0, filter.limit));
  });

  app.get("/calls/:id", async (c) => {
    const id = c.req.param("id");
    const call = await control.getCall(id);
    return call ? c.json(call) : unknownCall(c, id);
  });

  app.delete("/calls/:id", async (c) => {
    const id = c.req.param("id");
    const reason = c.req.query("reason");
    if (reason !== undefined) {
      // The reason may end up in a SIP Reason header: refuse anything that could inject lines.
      if (reason.length > MAX_REASON_LENGTH || hasControlChar(reason)) {
        return c.json({
          error: `reason must be at most ${MAX_REASON_LENGTH} printable characters ` +
            `without control characters`,
        }, 400);
      }
    }
    if (!(await control.dropCall(id, reason))) return unknownCall(c, id);
    log.info("http.call.dropped", { call: id, reason });
    return c.json({ dropped: id });
  });

  app.post("/reload", async (c) => {
    const result = await control.reload();
    if (result.ok) {
      log.info("http.reload", { rules: result.rules });
      if (result.restartNeeded.length) {
        log.warn("reload-restart-needed", { keys: result.restartNeeded });
      }
      return c.json(result);
    }
    log.warn("http.reload.rejected", { errors: result.errors });
    return c.json({
      error: "config reload failed; the running config is unchanged. Fix the errors and retry",
      errors: result.errors,
    }, 400);
  });

  app.post("/drain", async (c) => {
    const deadlineMs = await parseDrainDeadline(c);
    if (typeof deadlineMs === "string") return c.json({ error: deadlineMs }, 400);
    const result = await control.drain(deadlineMs);
    log.info("http.drain", { activeCalls: result.activeCalls, deadline: result.deadline });
    return c.json({ draining: true, ...result }, 202);
  });

  app.get("/stats", async (c) => c.json(await control.stats()));

  app.get("/config", async (c) => c.json(await control.effectiveConfig()));

  app.get("/routes", async (c) => c.json(await control.routes()));

  app.get("/registrations", async (c) => c.json(await control.registrations()));

  app.get(
    "/outbound-registrations",
    async (c) => c.json(await control.outboundRegistrations()),
  );

  app.get("/sources/banned", async (c) => c.json(await control.bannedSources()));

  app.delete("/sources/banned/:address", async (c) => {
    const address = c.req.param("address");
    if (!isIp(address)) {
      return c.json(
        { error: `expected an IPv4 or IPv6 address, got "${address.slice(0, 60)}"` },
        400,
      );
    }
    if (!(await control.unbanSource(address))) {
      return c.json({ error: `source ${address} is not banned` }, 404);
    }
    log.info("http.source.unbanned", { source: address });
    return c.json({ unbanned: address });
  });

  // Leak hunting: the heap right after a full collection is the live data. The collection holds
  // the SIP thread (tens of ms with 100,000 calls), hence POST and the log line.
  app.post("/gc", async (c) => {
    const r = await control.collectGarbage();
    if (!r) {
      return c.json({
        error: "this runtime exposes no garbage collector hook: the Bun binary has one; under " +
          "Deno start Tandem with --v8-flags=--expose-gc",
      }, 501);
    }
    log.info("http.gc", { ...r });
    return c.json(r);
  });

  // Registered last so the method routes above win; these only catch the wrong method.
  for (const [path, methods] of ROUTES) {
    app.all(path, (c) => {
      c.header(
        "Allow",
        methods.includes("GET") ? [...methods, "HEAD"].join(", ") : methods.join(", "),
      );
      return c.json({
        error: `method ${c.req.method} not allowed on ${c.req.path}; use ${methods.join(" or ")}`,
      }, 405);
    });
  }

  return app;
}

function unknownCall(c: Context, id: string): Response {
  return c.json({ error: `no live call with id "${id}"; GET /calls lists live calls` }, 404);
}

// A CallFilter, or the message of a 400 answer. Unknown keys are refused so a typo such as
// ?status=ringing does not silently list every call.
function parseCallFilter(q: Record<string, string>): CallFilter | string {
  const unknown = Object.keys(q).filter((k) =>
    !(CALL_FILTER_KEYS as readonly string[]).includes(k)
  );
  if (unknown.length) {
    return `unknown query parameter ${unknown.map((k) => `"${k}"`).join(", ")}; ` +
      `GET /calls accepts ${CALL_FILTER_KEYS.join(", ")}`;
  }
  let limit = DEFAULT_CALL_LIMIT;
  if (q.limit !== undefined) {
    limit = Number(q.limit);
    if (!/^\d+$/.test(q.limit) || limit < 1 || limit > MAX_CALL_LIMIT) {
      return `limit must be a whole number from 1 to ${MAX_CALL_LIMIT}, got "${q.limit}"`;
    }
  }
  const filter: CallFilter = { limit };
  for (const k of ["state", "route", "caller", "callee"] as const) {
    if (q[k] !== undefined && q[k] !== "") filter[k] = q[k];
  }
  return filter;
}

// The drain deadline from `?deadlineMs=` or a JSON body `{ "deadlineMs": n }` (either, not both);
// undefined means the configured limits.drainTimeout. A string is the message of a 400 answer.
async function parseDrainDeadline(c: Context): Promise<number | undefined | string> {
  const fromQuery = c.req.query("deadlineMs");
  const text = await c.req.text();
  let fromBody: unknown;
  if (text.trim() !== "") {
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
      fromBody = (parsed as Record<string, unknown>).deadlineMs;
    } catch {
      return 'body must be empty or a JSON object such as {"deadlineMs": 30000}';
    }
  }
  if (fromQuery !== undefined && fromBody !== undefined) {
    return "give deadlineMs either in the query or in the JSON body, not both";
  }
  const raw = fromQuery ?? fromBody;
  if (raw === undefined) return undefined;
  const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    return `deadlineMs must be a whole number of milliseconds >= 0, got ${JSON.stringify(raw)}`;
  }
  return n;
}

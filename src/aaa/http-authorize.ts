// Authorization and routing of calls by an HTTP service of the operator's (rules with
// `auth.mode: http`): for each new call Tandem POSTs what it knows as JSON, and the answer says
// accept (with routes, a credit time, a caller id, like a RADIUS Access-Accept) or reject (with
// the SIP status to answer). What the answer holds ends up in SIP messages, so it is checked
// field by field: an answer that does not parse is an error, handled like a RADIUS timeout.

import type { DigestCredentials } from "./authorize.ts";
import { metrics } from "../util/metrics.ts";
import { hasControlChar } from "../util/text.ts";

/** Where the service is and what goes with each request. */
export interface HttpAuthorizeSettings {
  url: string;
  /** ms */
  timeout: number;
  headers: Record<string, string>;
}

/** The JSON body POSTed for a new call. */
export interface HttpAuthorizeRequest {
  /** The call's CDR id: the same id its CDR carries. */
  call: string;
  /** The caller's Call-ID. */
  callId: string;
  /** The rule the INVITE matched. */
  rule: string;
  source: { transport: string; address: string; port: number };
  from: { uri: string; user: string | null; display: string | null };
  to: string;
  ruri: string;
  ruriUser: string | null;
  /** The INVITE's headers named in `sip_headers` (lowercase), each with all its values. */
  headers: Record<string, string[]>;
  /**
   * With `auth.digest`: the caller's answer to Tandem's challenge (its nonce checked fresh), for
   * the service to check against the user's password (RFC 2617 §3.2.2).
   */
  digest?: DigestCredentials & { method: string };
}

/** The service's decision. */
export interface HttpAuthorizeResult {
  outcome: "accept" | "reject";
  /** For a reject: the status to answer (default 403) and its reason phrase. */
  status?: number;
  reason?: string;
  /** For an accept: routes replacing the rule's (configured route names, or host[:port]). */
  routes?: string[];
  creditTimeMs?: number;
  callerId?: string;
  display?: string;
}

/** The service could not be asked, or its answer was not one. */
export class HttpAuthorizeError extends Error {
  override name = "HttpAuthorizeError";
}

/** Past this, an answer is not read: a decision is a few hundred bytes. */
const MAX_ANSWER_BYTES = 65_536;
const MAX_ROUTES = 16;
/** A route entry: a configured route's name, or host[:port][;transport=t] (sip: allowed). */
const ROUTE_NAME = /^[A-Za-z0-9_.~-]{1,100}$/;
const ROUTE_TARGET =
  /^(?:sips?:)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(?::\d{1,5})?(?:;transport=(?:udp|tcp|tls|ws|wss))?$/i;
/** URI user characters that need no escaping (RFC 3261 §25.1 unreserved and user-unreserved). */
const CALLER_ID = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/]{1,64}$/;
const KEYS = new Set([
  "action",
  "status",
  "reason",
  "routes",
  "credit_seconds",
  "caller_id",
  "display",
]);

const mAsked = metrics.counter(
  "tandem_http_authorize_total",
  "Calls put to the HTTP authorization service, by result (accept, reject, error).",
);

/** Ask the service about one call. Rejects with HttpAuthorizeError (or the fetch's error). */
export async function httpAuthorize(
  settings: HttpAuthorizeSettings,
  request: HttpAuthorizeRequest,
  fetchFn: typeof fetch = fetch,
): Promise<HttpAuthorizeResult> {
  try {
    const res = await fetchFn(settings.url, {
      method: "POST",
      headers: {
        ...settings.headers,
        "content-type": "application/json",
        accept: "application/json",
      },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(settings.timeout),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new HttpAuthorizeError(`HTTP ${res.status} from ${settings.url}`);
    }
    const size = Number(res.headers.get("content-length") ?? 0);
    if (size > MAX_ANSWER_BYTES) {
      await res.body?.cancel();
      throw new HttpAuthorizeError(`answer of ${size} bytes`);
    }
    const text = await res.text();
    if (text.length > MAX_ANSWER_BYTES) throw new HttpAuthorizeError("answer too long");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new HttpAuthorizeError("answer is not JSON");
    }
    const result = parseHttpAuthorization(body);
    mAsked.inc({ result: result.outcome });
    return result;
  } catch (err) {
    mAsked.inc({ result: "error" });
    throw err;
  }
}

/**
 * The decision in a service's JSON answer: `{"action": "accept", "routes": [...],
 * "credit_seconds": 300, "caller_id": "...", "display": "..."}` or `{"action": "reject",
 * "status": 486, "reason": "Busy Here"}`. Throws HttpAuthorizeError naming what is wrong.
 */
export function parseHttpAuthorization(body: unknown): HttpAuthorizeResult {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpAuthorizeError("answer is not a JSON object");
  }
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KEYS.has(k)) throw new HttpAuthorizeError(`unknown key "${k.slice(0, 40)}"`);
  }
  const bad = (k: string, what: string): never => {
    throw new HttpAuthorizeError(
      `${k}: expected ${what}, got ${JSON.stringify(o[k])?.slice(0, 80)}`,
    );
  };
  if (o.action === "reject") {
    for (const k of ["routes", "credit_seconds", "caller_id", "display"]) {
      if (o[k] !== undefined) bad(k, "nothing with a reject");
    }
    const out: HttpAuthorizeResult = { outcome: "reject", status: 403 };
    if (o.status !== undefined) {
      const s = o.status;
      // 401/407 would ask the caller for credentials Tandem has no challenge for.
      if (
        !Number.isInteger(s) || (s as number) < 400 || (s as number) > 699 || s === 401 || s === 407
      ) {
        bad("status", "a SIP status 400-699 (not 401 or 407)");
      }
      out.status = s as number;
    }
    if (o.reason !== undefined) {
      if (typeof o.reason !== "string" || !/^[\x20-\x7e]{1,100}$/.test(o.reason)) {
        bad("reason", "printable text of at most 100 characters");
      }
      out.reason = o.reason as string;
    }
    return out;
  }
  if (o.action !== "accept") bad("action", '"accept" or "reject"');
  for (const k of ["status", "reason"]) if (o[k] !== undefined) bad(k, "nothing with an accept");
  const out: HttpAuthorizeResult = { outcome: "accept" };
  if (o.routes !== undefined) {
    const r = o.routes;
    if (
      !Array.isArray(r) || r.length > MAX_ROUTES ||
      !r.every((e) => typeof e === "string" && (ROUTE_NAME.test(e) || ROUTE_TARGET.test(e)))
    ) {
      bad(
        "routes",
        `a list of at most ${MAX_ROUTES} route names or host[:port][;transport=t] targets`,
      );
    }
    if ((r as string[]).length) out.routes = r as string[];
  }
  if (o.credit_seconds !== undefined) {
    const c = o.credit_seconds;
    if (typeof c !== "number" || !(c > 0) || c > 604_800) {
      bad("credit_seconds", "a number of seconds above 0 and at most a week");
    }
    out.creditTimeMs = Math.round((c as number) * 1000);
  }
  if (o.caller_id !== undefined) {
    if (typeof o.caller_id !== "string" || !CALLER_ID.test(o.caller_id)) {
      bad("caller_id", "a SIP URI user of at most 64 characters");
    }
    out.callerId = o.caller_id as string;
  }
  if (o.display !== undefined) {
    // Quoted by the engine; only controls could break the header.
    if (
      typeof o.display !== "string" || o.display.length > 64 || hasControlChar(o.display)
    ) {
      bad("display", "text of at most 64 characters without control characters");
    }
    out.display = o.display as string;
  }
  return out;
}

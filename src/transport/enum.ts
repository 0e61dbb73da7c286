// RFC 6116 ENUM: the SIP URI a telephone number maps to, through NAPTR records under an ENUM
// apex (the public e164.arpa, or a carrier's private tree for number portability and peering).
// RFC 3403 §4 rule processing for the terminal "u" records of the E2U+sip service (RFC 3764).
// Pure over a resolver, like locate.ts.

import { telDigits } from "../sip/mod.ts";
import type { DnsRecord } from "./dns/wire.ts";
import { LocateError } from "./locate.ts";

/** The NAPTR fields ENUM reads (RFC 3403 §4.1), as the stub resolver decodes them. */
export type EnumRecord = Omit<Extract<DnsRecord, { type: "NAPTR" }>, "name" | "ttl">;

export interface EnumResolver {
  query(name: string, type: "NAPTR"): Promise<{ records: readonly { type: string }[] }>;
}

/** At most this many URIs are taken from one number's records (a call tries them in turn). */
export const MAX_ENUM_TARGETS = 8;

/**
 * The E.164 number of a called party as RFC 6116 §3.4 wants it, "+" and digits; undefined for
 * anything that is not a number once visual separators are dropped. A number without "+" is
 * taken as already international (the route's user rewrite makes it so).
 */
export function enumNumber(user: string): string | undefined {
  const d = telDigits(user);
  return d !== undefined && d.length >= 2 && d.length <= 15 ? `+${d}` : undefined;
}

/** RFC 6116 §3.4 step 2-4: "+4420..." under `apex` is "...0.2.4.4.<apex>". */
export function enumDomain(e164: string, apex: string): string {
  const digits = e164.replace(/^\+/, "");
  return [...digits].reverse().join(".") + "." + apex.replace(/^\.+|\.+$/g, "");
}

/**
 * The URIs the records give for `aus` (the "+digits" number), best first: terminal ("u")
 * records of the E2U+sip service (any case; "E2U+sip:..." subtypes too), by order then
 * preference (RFC 3403 §4.1: once a record of one order yields, higher orders are not used).
 */
export function enumTargets(records: readonly EnumRecord[], aus: string): string[] {
  const usable = records.filter((r) =>
    r.flags.toLowerCase() === "u" && isSipService(r.service) && r.regexp !== ""
  ).sort((a, b) => a.order - b.order || a.preference - b.preference);
  const out: string[] = [];
  let order: number | undefined;
  for (const r of usable) {
    if (order !== undefined && r.order !== order) break;
    const uri = applyRegexp(r.regexp, aus);
    if (uri === undefined || !/^sips?:/i.test(uri) || out.includes(uri)) continue;
    order = r.order;
    out.push(uri);
    if (out.length >= MAX_ENUM_TARGETS) break;
  }
  return out;
}

/** RFC 3761 §2.4.2 service field: "E2U+sip", or with a subtype after ":" (RFC 3764). */
function isSipService(service: string): boolean {
  const parts = service.toLowerCase().split("+");
  return parts[0] === "e2u" && parts.slice(1).some((p) => p === "sip" || p.startsWith("sip:"));
}

/**
 * RFC 3402 §3.2 substitution expression: delim ERE delim repl delim [i], applied to `aus`;
 * undefined when it does not parse or does not match. Back-references \1-\9 in repl; "\\" is a
 * backslash and an escaped delimiter stands for itself.
 */
export function applyRegexp(expr: string, aus: string): string | undefined {
  if (expr.length < 4) return undefined;
  const delim = expr[0];
  if (/[0-9\\i]/.test(delim)) return undefined; // RFC 3402: not a digit, backslash or flag
  const parts: string[] = [];
  let cur = "";
  for (let i = 1; i < expr.length; i++) {
    const c = expr[i];
    if (c === "\\" && i + 1 < expr.length && expr[i + 1] === delim) {
      cur += delim;
      i++;
    } else if (c === delim) {
      parts.push(cur);
      cur = "";
    } else cur += c;
  }
  parts.push(cur);
  if (parts.length !== 3 || (parts[2] !== "" && parts[2] !== "i")) return undefined;
  let re: RegExp;
  try {
    re = new RegExp(parts[0], parts[2]);
  } catch {
    return undefined;
  }
  const m = re.exec(aus);
  if (!m) return undefined;
  let out = "";
  const repl = parts[1];
  for (let i = 0; i < repl.length; i++) {
    const c = repl[i];
    if (c === "\\" && i + 1 < repl.length) {
      const n = repl[++i];
      out += /[1-9]/.test(n) ? (m[Number(n)] ?? "") : n;
    } else out += c;
  }
  // Only the matched part is replaced (RFC 3402 §3.2); ENUM's "^.*$" replaces it all.
  return aus.slice(0, m.index) + out + aus.slice(m.index + m[0].length);
}

/**
 * The SIP URIs `e164` maps to under `apex`, best first; empty when the number has none.
 * Rejects with {@link LocateError} when the lookup failed (timeout, server failure).
 */
export async function lookupEnum(
  e164: string,
  apex: string,
  dns: EnumResolver,
): Promise<string[]> {
  let answer;
  try {
    answer = await dns.query(enumDomain(e164, apex), "NAPTR");
  } catch (e) {
    // NXDOMAIN and NODATA are answers (no records); what lands here is a failed lookup.
    throw new LocateError(`ENUM lookup of ${e164} under ${apex}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const records = answer.records.filter((r): r is EnumRecord => r.type === "NAPTR");
  return enumTargets(records, e164);
}

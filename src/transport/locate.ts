// RFC 3263 §4: where a SIP request for a host name goes. NAPTR picks the transports (when the
// target names neither a port nor a transport), SRV the servers and ports in RFC 2782 order
// (priority, then a weighted random draw within one priority), A and AAAA the addresses.
// Pure over a resolver, so the order of servers and every fallback is unit-tested.

import { endpointKey, isIpLiteral, normalizeHost } from "./address.ts";
import { TransportError } from "./errors.ts";
import { defaultPort } from "./protocol.ts";
import type { Endpoint, Protocol } from "./types.ts";

/**
 * How much DNS a target takes (RFC 3263 §4.1-4.2): "a" when it names a port (addresses only),
 * "srv" when it names a transport but no port, "naptr" when it names neither.
 */
export type LocateMode = "a" | "srv" | "naptr";

export interface LocateTarget {
  host: string;
  port: number;
  transport: Protocol;
  mode: LocateMode;
}

/** The records {@link locate} reads, as a DNS stub resolver returns them. */
export type LocateRecord =
  | { type: "A" | "AAAA"; address: string }
  | { type: "SRV"; priority: number; weight: number; port: number; target: string }
  | {
    type: "NAPTR";
    order: number;
    preference: number;
    flags: string;
    service: string;
    replacement: string;
  }
  | { type: "CNAME" };

export interface LocateResolver {
  query(
    name: string,
    type: "A" | "AAAA" | "SRV" | "NAPTR",
  ): Promise<{ records: readonly LocateRecord[] }>;
}

/** A name whose lookups failed (timeout, server failure), as against one with no records. */
export class LocateError extends TransportError {
  override name = "LocateError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "EDNS", options);
  }
}

/** RFC 3263 §4.1 services, and RFC 3263 §4.2 SRV prefixes, of the transports SRV can name. */
const NAPTR_SERVICES: Readonly<Record<string, Protocol>> = {
  "sip+d2u": "udp",
  "sip+d2t": "tcp",
  "sips+d2t": "tls",
};
const SRV_PREFIX: Partial<Record<Protocol, string>> = {
  udp: "_sip._udp.",
  tcp: "_sip._tcp.",
  tls: "_sips._tcp.",
};
/** A failing-over call tries at most this many servers of one name. */
export const MAX_TARGETS = 16;

/**
 * The servers to try for `t`, best first, at most {@link MAX_TARGETS}; empty when the name has
 * no usable records. Rejects with {@link LocateError} when nothing could be looked up at all.
 * `random` returns [0, 1) and orders servers of equal SRV priority by weight.
 */
export async function locate(
  t: LocateTarget,
  dns: LocateResolver,
  random: () => number,
): Promise<Endpoint[]> {
  if (isIpLiteral(t.host)) {
    return [{ host: normalizeHost(t.host), port: t.port, protocol: t.transport }];
  }
  const q = new Lookups(dns);
  let out: Endpoint[];
  if (t.mode === "a" || !SRV_PREFIX[t.transport]) {
    out = await q.addresses(t.host, t.port, t.transport);
  } else if (t.mode === "srv") {
    out = await q.srv(t.host, t.transport, random);
    // §4.2: no SRV records, then the name's own addresses at the transport's default port.
    if (out.length === 0 && q.noSrv) {
      out = await q.addresses(t.host, defaultPort(t.transport), t.transport);
    }
  } else {
    out = await q.naptr(t.host, random);
    if (out.length === 0 && !q.srvFound) {
      // §4.1: without NAPTR records, SRV for each transport we have; then UDP to the name.
      for (const p of ["udp", "tcp", "tls"] as const) out.push(...await q.srv(t.host, p, random));
      if (out.length === 0 && q.noSrv) out = await q.addresses(t.host, 5060, "udp");
    }
  }
  if (out.length === 0 && q.failure) {
    throw new LocateError(`cannot resolve ${t.host}: ${q.failure.message}`, { cause: q.failure });
  }
  return dedupe(out).slice(0, MAX_TARGETS);
}

/** One location's lookups: remembers whether any failed, and whether any SRV set existed. */
class Lookups {
  failure: Error | undefined;
  private failures = 0;
  /** Some SRV set answered with records (even "." or unresolvable targets): no A fallback. */
  srvFound = false;
  /** An SRV lookup failed: the name's SRV records are unknown, not absent, so no A fallback. */
  srvFailed = false;

  /** §4.2's condition for falling back to the name's own addresses. */
  get noSrv(): boolean {
    return !this.srvFound && !this.srvFailed;
  }

  constructor(private dns: LocateResolver) {}

  private async records(name: string, type: "A" | "AAAA" | "SRV" | "NAPTR") {
    try {
      return (await this.dns.query(name, type)).records;
    } catch (e) {
      this.failure ??= e as Error;
      this.failures++;
      return [];
    }
  }

  async addresses(host: string, port: number, protocol: Protocol): Promise<Endpoint[]> {
    const [a, aaaa] = await Promise.all([this.records(host, "A"), this.records(host, "AAAA")]);
    const out: Endpoint[] = [];
    for (const r of [...a, ...aaaa]) {
      if (r.type === "A" || r.type === "AAAA") {
        out.push({ host: normalizeHost(r.address), port, protocol });
      }
    }
    return out;
  }

  async srv(host: string, protocol: Protocol, random: () => number): Promise<Endpoint[]> {
    const prefix = SRV_PREFIX[protocol];
    if (!prefix) return [];
    return await this.srvName(prefix + host, protocol, random);
  }

  async srvName(name: string, protocol: Protocol, random: () => number): Promise<Endpoint[]> {
    const before = this.failures;
    const srvs = (await this.records(name, "SRV")).filter((r) => r.type === "SRV");
    if (this.failures !== before) this.srvFailed = true;
    if (srvs.length === 0) return [];
    this.srvFound = true;
    const ordered = srvOrder(srvs, random).filter((r) => r.target !== "");
    const found = await Promise.all(
      ordered.map((r) => this.addresses(r.target, r.port, protocol)),
    );
    return found.flat();
  }

  async naptr(host: string, random: () => number): Promise<Endpoint[]> {
    const usable = naptrOrder(await this.records(host, "NAPTR"));
    const out: Endpoint[] = [];
    for (const n of usable) {
      out.push(...await this.srvName(n.replacement, NAPTR_SERVICES[n.service], random));
    }
    return out;
  }
}

type Srv = Extract<LocateRecord, { type: "SRV" }>;
type Naptr = Extract<LocateRecord, { type: "NAPTR" }>;

/**
 * RFC 2782's order: by priority; within one priority repeatedly draw by weight (zero weights
 * first in the running sum, so they are picked rarely but not never), removing each drawn.
 */
export function srvOrder(records: readonly LocateRecord[], random: () => number): Srv[] {
  const srvs = records.filter((r): r is Srv => r.type === "SRV");
  const priorities = [...new Set(srvs.map((r) => r.priority))].sort((a, b) => a - b);
  const out: Srv[] = [];
  for (const p of priorities) {
    const left = srvs.filter((r) => r.priority === p).sort((a, b) => a.weight - b.weight);
    while (left.length > 0) {
      const total = left.reduce((s, r) => s + r.weight, 0);
      const draw = Math.floor(random() * (total + 1));
      let sum = 0;
      let pick = left.length - 1;
      for (let i = 0; i < left.length; i++) {
        sum += left[i].weight;
        if (sum >= draw) {
          pick = i;
          break;
        }
      }
      out.push(left.splice(pick, 1)[0]);
    }
  }
  return out;
}

/**
 * The NAPTR records RFC 3263 §4.1 lets a client use: flag "s" (an SRV lookup follows), a SIP
 * service over a transport we have, a replacement name (no regexp rewriting in SIP). By order,
 * then preference.
 */
export function naptrOrder(records: readonly LocateRecord[]): Naptr[] {
  return records
    .filter((r): r is Naptr =>
      r.type === "NAPTR" && r.flags.toLowerCase() === "s" &&
      NAPTR_SERVICES[r.service.toLowerCase()] !== undefined && r.replacement !== ""
    )
    .map((r) => ({ ...r, service: r.service.toLowerCase() }))
    .sort((a, b) => a.order - b.order || a.preference - b.preference);
}

function dedupe(eps: Endpoint[]): Endpoint[] {
  const seen = new Set<string>();
  return eps.filter((e) => {
    const k = endpointKey(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

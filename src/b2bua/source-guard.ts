// Flood protection by source address (what Kamailio's pike does): a source that sends new
// requests faster than `max_requests` a second is ignored for `ban`. Scanners and floods then
// cost a parse each, not a server transaction that lingers 32 s and a 404 or 407 resent over
// UDP, and they cannot push the whole server into shedding the calls of everyone else.
//
// Only requests outside a dialog count and are dropped: a banned peer's calls already up carry
// on (their in-dialog requests, ACKs, CANCELs and every response pass).
//
// An IPv6 source is its /64 (`ipv6_prefix`): one host holds a whole /64 and picks any address
// in it, so a ban per address would be a ban on nothing.

import { type Cidr, inCidr, parseCidr, parseIp } from "../config/cidr.ts";
import type { SourceLimits } from "../config/types.ts";
import type { Clock } from "../util/clock.ts";
import { TokenBucket } from "../util/token-bucket.ts";

/** What a source has done lately: its new requests in a bucket of `max_requests` a second. */
class SourceState extends TokenBucket {
  /** Monotonic ms of its last new request. */
  seen: number;
  /** Monotonic ms until which its new requests are dropped (0: not banned). */
  bannedUntil = 0;

  constructor(
    rate: number,
    now: number,
    /** An address it was seen from: what trust is decided on for an IPv6 prefix. */
    readonly sample: string,
    public trusted: boolean,
  ) {
    super(rate);
    this.seen = now;
  }
}

/**
 * The source an address counts as: itself, or for IPv6 its network of `prefix` bits written
 * as a block ("2001:db8:1:2::/64"). IPv4-mapped addresses are IPv4.
 */
export function sourceKey(host: string, prefix: number): string {
  if (prefix >= 128 || !host.includes(":")) return host;
  const raw = parseIp(host);
  if (!raw || raw.length !== 16) return host;
  if (raw.subarray(0, 10).every((b) => b === 0) && raw[10] === 0xff && raw[11] === 0xff) {
    return raw.subarray(12).join(".");
  }
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    groups.push((((raw[2 * i] << 8) | raw[2 * i + 1]) & mask).toString(16));
  }
  // RFC 5952: the longest run of zero groups (two or more) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const text = best < 0
    ? groups.join(":")
    : `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
  return `${text}/${prefix}`;
}

/** A source banned just now, for the log line an operator needs. */
export interface Ban {
  host: string;
  until: number;
}

/**
 * Sources tracked at once. A flood with forged source addresses makes a new entry per datagram;
 * past this many, idle ones are swept, and while still full new sources are let through
 * untracked (the load shedder still guards the calls).
 */
export const MAX_SOURCES = 100_000;
/** A source with no new request for this long is forgotten (unless banned). */
const IDLE_MS = 10_000;

export class SourceGuard {
  private sources = new Map<string, SourceState>();
  private trusted: Cidr[] = [];
  private lastSweep = 0;
  private lastFullSweep = -Infinity;
  /** New requests dropped from banned sources since start. */
  dropped = 0;

  constructor(
    private limits: SourceLimits,
    private clock: Clock,
    private onBan: (ban: Ban) => void = () => {},
  ) {
    this.configure(limits);
  }

  /** New limits (a reload): bans in force stay, trust is decided again. */
  configure(limits: SourceLimits): void {
    this.limits = limits;
    // Validated when the configuration was loaded.
    this.trusted = limits.trusted.map((c) => parseCidr(c)).filter((c): c is Cidr => !!c);
    for (const s of this.sources.values()) {
      s.trusted = this.isTrusted(s.sample);
      s.setRate(limits.maxRequests);
    }
  }

  /** Whether a new request from `address` goes on; false: drop it unanswered. */
  admit(address: string): boolean {
    const now = this.clock.now();
    const host = sourceKey(address, this.limits.ipv6Prefix);
    let s = this.sources.get(host);
    if (s === undefined) {
      if (this.sources.size >= MAX_SOURCES) {
        // One full sweep a second at most: a sweep per forged datagram would be the flood's win.
        if (now - this.lastFullSweep >= 1000) this.sweep(now, true);
        if (this.sources.size >= MAX_SOURCES) return true;
      }
      s = new SourceState(this.limits.maxRequests, now, address, this.isTrusted(address));
      this.sources.set(host, s);
    }
    if (now - this.lastSweep > IDLE_MS) this.sweep(now, false);
    if (s.trusted) return true;
    s.seen = now;
    if (s.bannedUntil !== 0) {
      if (now < s.bannedUntil) {
        this.dropped++;
        return false;
      }
      s.bannedUntil = 0;
      s.refill();
    }
    if (s.take(now)) return true;
    s.bannedUntil = now + this.limits.banMs;
    this.dropped++;
    this.onBan({ host, until: s.bannedUntil });
    return false;
  }

  /** Sources banned now, and for how many more ms. */
  banned(): { host: string; remainingMs: number }[] {
    const now = this.clock.now();
    const out: { host: string; remainingMs: number }[] = [];
    for (const [host, s] of this.sources) {
      if (s.bannedUntil > now) out.push({ host, remainingMs: s.bannedUntil - now });
    }
    return out;
  }

  /** Lift a ban (the operator's call) on a source, or on the IPv6 prefix holding an address. */
  unban(address: string): boolean {
    const host = this.sources.has(address) ? address : sourceKey(address, this.limits.ipv6Prefix);
    const s = this.sources.get(host);
    if (!s || s.bannedUntil <= this.clock.now()) return false;
    this.sources.delete(host);
    return true;
  }

  /** Sources tracked now (bounded by {@link MAX_SOURCES}). */
  get size(): number {
    return this.sources.size;
  }

  private isTrusted(host: string): boolean {
    for (const c of this.trusted) if (inCidr(host, c)) return true;
    return false;
  }

  // Forget sources that are idle and not banned; `full`: also those idle a shorter while.
  private sweep(now: number, full: boolean): void {
    this.lastSweep = now;
    if (full) this.lastFullSweep = now;
    const idle = full ? 1000 : IDLE_MS;
    for (const [host, s] of this.sources) {
      if (s.bannedUntil > now) continue;
      if (now - s.seen >= idle) this.sources.delete(host);
    }
  }
}

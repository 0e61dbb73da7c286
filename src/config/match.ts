// Rule selection and user rewriting: pure functions over the validated rules, shared by the
// B2BUA (per INVITE) and by tests of a configuration.

import type { Config, RuleConfig, UserRewrite } from "./types.ts";
import { blockHolds, type Cidr, parseCidr, parseIp } from "./cidr.ts";
import { timeHolds } from "./time-window.ts";

/**
 * A rule's `source` blocks in the form a match reads fastest: IPv4 ones (and IPv4-mapped IPv6
 * ones of /96 or longer) as 32-bit network and mask pairs, the rest as parsed blocks. Built once
 * per loaded configuration: with a rule per customer, parsing them per INVITE was most of the
 * matching.
 */
interface SourceBlocks {
  v4: number[];
  v6: Cidr[];
}

const compiled = new WeakMap<readonly RuleConfig[], (SourceBlocks | undefined)[]>();

function sourceBlocksOf(rules: readonly RuleConfig[]): (SourceBlocks | undefined)[] {
  let out = compiled.get(rules);
  if (out === undefined) {
    out = rules.map((r) => r.match.source && compileBlocks(r.match.source));
    compiled.set(rules, out);
  }
  return out;
}

function compileBlocks(list: readonly string[]): SourceBlocks {
  const out: SourceBlocks = { v4: [], v6: [] };
  for (const text of list) {
    const b = parseCidr(text);
    if (!b) continue;
    const v4 = b.bytes.length === 4
      ? { bytes: b.bytes, bits: b.bits }
      : b.bits >= 96 && isMapped(b.bytes)
      ? { bytes: b.bytes.subarray(12), bits: b.bits - 96 }
      : undefined;
    if (!v4) {
      out.v6.push(b);
      continue;
    }
    const mask = v4.bits === 0 ? 0 : (0xffffffff << (32 - v4.bits)) >>> 0;
    out.v4.push((u32(v4.bytes) & mask) >>> 0, mask);
  }
  return out;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function isMapped(b: Uint8Array): boolean {
  return b.length === 16 && MAPPED_PREFIX.every((v, i) => b[i] === v);
}

function u32(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

/** The caller's address, parsed once per INVITE: IPv4 (mapped too) as a number, else bytes. */
interface SourceAddress {
  v4: number | undefined;
  raw: Uint8Array;
}

function sourceAddress(ip: string): SourceAddress | null {
  const raw = parseIp(ip);
  if (!raw) return null;
  if (raw.length === 4) return { v4: u32(raw), raw };
  return { v4: isMapped(raw) ? u32(raw.subarray(12)) : undefined, raw };
}

function sourceHolds(blocks: SourceBlocks, a: SourceAddress): boolean {
  if (a.v4 !== undefined) {
    const v4 = blocks.v4;
    for (let i = 0; i < v4.length; i += 2) if (((a.v4 & v4[i + 1]) >>> 0) === v4[i]) return true;
    return false;
  }
  for (const b of blocks.v6) if (blockHolds(b, a.raw)) return true;
  return false;
}

/** What a rule is matched against, taken from the incoming INVITE. */
export interface MatchInput {
  /** User part of the Request-URI ("" when none). */
  ruriUser: string;
  /** User part of the From URI ("" when none). */
  fromUser: string;
  /** Source IP of the request (IP literal, no brackets). */
  sourceIp: string;
  /**
   * The INVITE's headers: `get` gives the first value of one (any spelling of the name), or
   * undefined. The request itself serves, so matching allocates nothing.
   */
  headers?: { get(name: string): string | undefined };
  /** Wall-clock time of the call (epoch ms), for rules with `match.time`; default: now. */
  now?: number;
}

/**
 * The first rule whose every criterion holds, or undefined (the caller answers 404). Within one
 * criterion a list matches when any entry does; a rule with an empty match catches everything.
 */
export function matchRule(rules: readonly RuleConfig[], input: MatchInput): RuleConfig | undefined {
  const blocks = sourceBlocksOf(rules);
  // The source address is parsed at most once, and only if a rule asks for it; null: not an IP.
  let source: SourceAddress | null | undefined;
  for (let i = 0; i < rules.length; i++) {
    const m = rules[i].match;
    if (m.ruriUserPrefix && !m.ruriUserPrefix.some((p) => input.ruriUser.startsWith(p))) continue;
    if (m.ruriUserRegex && !m.ruriUserRegex.test(input.ruriUser)) continue;
    if (m.fromUserPrefix && !m.fromUserPrefix.some((p) => input.fromUser.startsWith(p))) continue;
    if (m.fromUserRegex && !m.fromUserRegex.test(input.fromUser)) continue;
    const b = blocks[i];
    if (b) {
      if (source === undefined) source = sourceAddress(input.sourceIp);
      if (source === null || !sourceHolds(b, source)) continue;
    }
    if (
      m.headers && !m.headers.every(({ name, regex }) => {
        const v = input.headers?.get(name);
        return v !== undefined && regex.test(v);
      })
    ) continue;
    if (m.time && !timeHolds(m.time, input.now ?? Date.now())) continue;
    return rules[i];
  }
  return undefined;
}

/**
 * Apply a user rewrite: strip leading characters, then replace the first regex match (with
 * `$1`-style references), then prepend the prefix (Sippy CLD-style order).
 */
export function applyUserRewrite(rw: UserRewrite, user: string): string {
  let u = user.slice(rw.strip);
  if (rw.regex) u = u.replace(rw.regex, rw.replace);
  return rw.prefix + u;
}

/**
 * What STIR/SHAKEN does for a rule's calls: the attestation its INVITEs are signed with (none
 * without `stir_shaken.sign`), and how the caller's Identity is checked; the rule's own settings
 * over the section's.
 */
export function ruleIdentity(
  rule: RuleConfig,
  cfg: Config,
): { attest?: "A" | "B" | "C"; verify: "off" | "mark" | "reject" | "require" } {
  const section = cfg.stirShaken;
  const verify = section?.verify ? rule.stirShaken?.verify ?? section.verify.mode : "off";
  const attest = section?.sign ? rule.stirShaken?.attest ?? section.sign.attest : undefined;
  return attest && attest !== "none" ? { attest, verify } : { verify };
}

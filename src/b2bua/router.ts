// Routing: ordered rules matched on the Request-URI user, From user and source address; and the
// Sippy-style rewrites a route applies to the numbers it sends on. Pure functions.

import type { MatchConfig, RuleConfig, UserRewrite } from "../config/types.ts";

/** What a rule is matched against. */
export interface RouteContext {
  ruriUser: string;
  fromUser: string;
  sourceIp: string;
}

/** First rule whose every criterion holds, or undefined (no route). */
export function matchRule(rules: RuleConfig[], ctx: RouteContext): RuleConfig | undefined {
  for (const r of rules) if (matches(r.match, ctx)) return r;
  return undefined;
}

/** Whether every criterion given in `m` holds for `ctx` (an empty match holds for anything). */
export function matches(m: MatchConfig, ctx: RouteContext): boolean {
  if (m.ruriUserPrefix && !m.ruriUserPrefix.some((p) => ctx.ruriUser.startsWith(p))) return false;
  if (m.ruriUserRegex && !m.ruriUserRegex.test(ctx.ruriUser)) return false;
  if (m.fromUserPrefix && !m.fromUserPrefix.some((p) => ctx.fromUser.startsWith(p))) return false;
  if (m.fromUserRegex && !m.fromUserRegex.test(ctx.fromUser)) return false;
  if (m.source && !m.source.some((c) => inCidr(ctx.sourceIp, c))) return false;
  return true;
}

/** Strip leading characters, then regex-replace, then add a prefix (Sippy's CLD/CLI rewrite). */
export function rewriteUser(user: string, rw: UserRewrite | undefined): string {
  if (!rw) return user;
  let u = rw.strip > 0 ? user.slice(rw.strip) : user;
  if (rw.regex) u = u.replace(rw.regex, rw.replace);
  return rw.prefix + u;
}

/** Whether IP literal `ip` lies in CIDR block `cidr` (IPv4 or IPv6; a bare address is /32 or /128). */
export function inCidr(ip: string, cidr: string): boolean {
  const slash = cidr.indexOf("/");
  const net = slash < 0 ? cidr : cidr.slice(0, slash);
  const a = ipBytes(ip);
  const b = ipBytes(net);
  if (!a || !b || a.length !== b.length) return false;
  const bits = slash < 0 ? a.length * 8 : Number(cidr.slice(slash + 1));
  for (let i = 0; i < a.length && bits > i * 8; i++) {
    const take = Math.min(8, bits - i * 8);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((a[i] & mask) !== (b[i] & mask)) return false;
  }
  return true;
}

function ipBytes(ip: string): number[] | undefined {
  if (ip.includes(":")) {
    let s = ip.startsWith("[") ? ip.slice(1, -1) : ip;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    let tail: number[] = [];
    if (v4) {
      const b = ipBytes(v4[1]);
      if (!b) return undefined;
      tail = b;
      s = s.slice(0, -v4[1].length) + "0:0";
    }
    const [head, rest] = s.split("::");
    const h = head ? head.split(":") : [];
    const r = rest !== undefined && rest !== "" ? rest.split(":") : [];
    const groups = rest === undefined
      ? h
      : [...h, ...Array(8 - h.length - r.length).fill("0"), ...r];
    if (groups.length !== 8) return undefined;
    const out: number[] = [];
    for (const g of groups) {
      const n = parseInt(g, 16);
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(n >> 8, n & 0xff);
    }
    if (tail.length) out.splice(12, 4, ...tail);
    return out;
  }
  const p = ip.split(".");
  if (p.length !== 4) return undefined;
  const out = p.map(Number);
  return out.every((n, i) => /^\d{1,3}$/.test(p[i]) && n <= 255) ? out : undefined;
}

// Rule selection and user rewriting: pure functions over the validated rules, shared by the
// B2BUA (per INVITE) and by tests of a configuration.

import type { RuleConfig, UserRewrite } from "./types.ts";
import { blockHolds, type Cidr, parseCidr, parseIp } from "./cidr.ts";

// A rule's `source` blocks, parsed once per loaded configuration (the list is the key), not for
// every INVITE: with a rule per customer, that was most of the matching.
const parsedBlocks = new WeakMap<readonly string[], Cidr[]>();

function blocksOf(list: readonly string[]): Cidr[] {
  let blocks = parsedBlocks.get(list);
  if (blocks === undefined) {
    blocks = list.map((c) => parseCidr(c)).filter((c): c is Cidr => c !== undefined);
    parsedBlocks.set(list, blocks);
  }
  return blocks;
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
}

/**
 * The first rule whose every criterion holds, or undefined (the caller answers 404). Within one
 * criterion a list matches when any entry does; a rule with an empty match catches everything.
 */
export function matchRule(rules: readonly RuleConfig[], input: MatchInput): RuleConfig | undefined {
  // The source address is parsed at most once, and only if a rule asks for it; null: not an IP.
  let source: Uint8Array | null | undefined;
  const from = () => source === undefined ? (source = parseIp(input.sourceIp) ?? null) : source;
  return rules.find(({ match: m }) =>
    (!m.ruriUserPrefix || m.ruriUserPrefix.some((p) => input.ruriUser.startsWith(p))) &&
    (!m.ruriUserRegex || m.ruriUserRegex.test(input.ruriUser)) &&
    (!m.fromUserPrefix || m.fromUserPrefix.some((p) => input.fromUser.startsWith(p))) &&
    (!m.fromUserRegex || m.fromUserRegex.test(input.fromUser)) &&
    (!m.source || (from() !== null && blocksOf(m.source).some((b) => blockHolds(b, source!)))) &&
    (!m.headers || m.headers.every(({ name, regex }) => {
      const v = input.headers?.get(name);
      return v !== undefined && regex.test(v);
    }))
  );
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

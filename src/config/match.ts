// Rule selection and user rewriting: pure functions over the validated rules, shared by the
// B2BUA (per INVITE) and by tests of a configuration.

import type { RuleConfig, UserRewrite } from "./types.ts";
import { inCidr } from "./cidr.ts";

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
  return rules.find(({ match: m }) =>
    (!m.ruriUserPrefix || m.ruriUserPrefix.some((p) => input.ruriUser.startsWith(p))) &&
    (!m.ruriUserRegex || m.ruriUserRegex.test(input.ruriUser)) &&
    (!m.fromUserPrefix || m.fromUserPrefix.some((p) => input.fromUser.startsWith(p))) &&
    (!m.fromUserRegex || m.fromUserRegex.test(input.fromUser)) &&
    (!m.source || m.source.some((c) => inCidr(input.sourceIp, c))) &&
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

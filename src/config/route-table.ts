// Least-cost routing tables: a CSV file of `prefix,route,cost` lines, as carriers' rate decks
// are kept, read into a map by prefix so that a call's routes are found by its number's longest
// prefix in at most fifteen lookups, whatever the size of the table.

import { telDigits } from "../sip/tel.ts";

/** One line the file got wrong: its 1-based line number and what was expected. */
export interface TableIssue {
  line: number;
  expected: string;
  got: string;
}

/** At most this many issues are reported per file: a wrong file is wrong on every line. */
const MAX_ISSUES = 20;
const PREFIX = /^\+?[0-9]{1,15}$/;
const ROUTE_NAME = /^[A-Za-z0-9._~:@+-]+$/;

/**
 * The table in `text`: prefix → route names, cheapest first (ties in file order). `#` starts a
 * comment; blank lines and a header line ("prefix,route,...") are skipped; the cost column may
 * be left out (0). A route named twice for one prefix keeps its cheapest line.
 *
 * Written as a scan over the text rather than split lines and cells: rate decks run to hundreds
 * of thousands of lines, and a reload parses them while SIP waits (600,000 lines of 200,000
 * prefixes, on this 2-core box: 0.6-0.8 s scanned, 1 s split; most of the rest is the map).
 */
export function parseRouteTable(
  text: string,
): { prefixes: Map<string, string[]>; longest: number; routes: Set<string>; issues: TableIssue[] } {
  // Per prefix, route and cost pairs flat in one array, in file order (sorting is stable).
  const rows = new Map<string, (string | number)[]>();
  const issues: TableIssue[] = [];
  const routes = new Set<string>();
  const len = text.length;
  let seq = 0;
  let lineNo = 0;
  // The next "#" in the text, found again only once passed: searching from each line would
  // scan to the end of a file that has none, for every line.
  let hash = text.indexOf("#");
  for (let at = 0; at < len && issues.length < MAX_ISSUES;) {
    lineNo++;
    let end = text.indexOf("\n", at);
    if (end < 0) end = len;
    const next = end + 1;
    if (hash >= 0 && hash < at) hash = text.indexOf("#", at);
    if (hash >= 0 && hash < end) end = hash;
    const line = text.slice(at, end).trim();
    at = next;
    if (line === "") continue;
    const c1 = line.indexOf(",");
    const c2 = c1 < 0 ? -1 : line.indexOf(",", c1 + 1);
    const c3 = c2 < 0 ? -1 : line.indexOf(",", c2 + 1);
    const prefix = (c1 < 0 ? line : line.slice(0, c1)).trim();
    if (seq === 0 && /^prefix$/i.test(prefix)) continue; // the header
    seq++;
    if (c1 < 0 || c3 >= 0) {
      issues.push({ line: lineNo, expected: "prefix,route[,cost]", got: JSON.stringify(line) });
      continue;
    }
    const route = (c2 < 0 ? line.slice(c1 + 1) : line.slice(c1 + 1, c2)).trim();
    const cost = c2 < 0 ? "0" : line.slice(c2 + 1).trim();
    if (!PREFIX.test(prefix)) {
      issues.push({
        line: lineNo,
        expected: "a prefix of 1-15 digits",
        got: JSON.stringify(prefix),
      });
      continue;
    }
    // A deck names a few routes many times over: each name's grammar is checked once.
    if (!routes.has(route) && !ROUTE_NAME.test(route)) {
      issues.push({ line: lineNo, expected: "a route name", got: JSON.stringify(route) });
      continue;
    }
    const c = Number(cost);
    if (cost === "" || !Number.isFinite(c) || c < 0) {
      issues.push({ line: lineNo, expected: "a cost of 0 or more", got: JSON.stringify(cost) });
      continue;
    }
    const key = prefix.charCodeAt(0) === 43 ? prefix.slice(1) : prefix; // "+"
    const list = rows.get(key);
    if (!list) rows.set(key, [route, c]);
    else {
      const same = list.indexOf(route);
      if (same < 0) list.push(route, c);
      else if (c < (list[same + 1] as number)) list[same + 1] = c;
    }
    routes.add(route);
  }
  const prefixes = new Map<string, string[]>();
  let longest = 0;
  for (const [p, list] of rows) {
    prefixes.set(p, list.length === 2 ? [list[0] as string] : cheapestFirst(list));
    if (p.length > longest) longest = p.length;
  }
  return { prefixes, longest, routes, issues };
}

/** Route names of flat route/cost pairs, cheapest first, ties in their order. */
function cheapestFirst(list: (string | number)[]): string[] {
  const order: number[] = [];
  for (let i = 0; i < list.length; i += 2) order.push(i);
  order.sort((a, b) => (list[a + 1] as number) - (list[b + 1] as number));
  return order.map((i) => list[i] as string);
}

/**
 * The route names for `number` (a URI user: "+", visual separators and parameters are ignored):
 * the entry of its longest prefix in the table; undefined when none matches.
 */
export function tableRoutes(
  table: { prefixes: Map<string, string[]>; longest: number },
  number: string,
): { prefix: string; routes: string[] } | undefined {
  const digits = telDigits(number);
  if (digits === undefined) return undefined;
  for (let n = Math.min(digits.length, table.longest); n > 0; n--) {
    const p = digits.slice(0, n);
    const routes = table.prefixes.get(p);
    if (routes) return { prefix: p, routes };
  }
  return undefined;
}

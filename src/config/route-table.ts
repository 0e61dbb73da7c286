// Least-cost routing tables: a CSV file of `prefix,route,cost` lines, as carriers' rate decks
// are kept, read into a map by prefix so that a call's routes are found by its number's longest
// prefix in at most fifteen lookups, whatever the size of the table.

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
 */
export function parseRouteTable(
  text: string,
): { prefixes: Map<string, string[]>; longest: number; routes: Set<string>; issues: TableIssue[] } {
  const rows = new Map<string, { route: string; cost: number; seq: number }[]>();
  const issues: TableIssue[] = [];
  const routes = new Set<string>();
  const lines = text.split(/\r?\n/);
  let seq = 0;
  for (let i = 0; i < lines.length && issues.length < MAX_ISSUES; i++) {
    const hash = lines[i].indexOf("#");
    const line = (hash < 0 ? lines[i] : lines[i].slice(0, hash)).trim();
    if (line === "") continue;
    const cells = line.split(",").map((c) => c.trim());
    if (seq === 0 && /^prefix$/i.test(cells[0])) continue; // the header
    seq++;
    const [prefix, route, cost = "0"] = cells;
    const at = i + 1;
    if (cells.length < 2 || cells.length > 3) {
      issues.push({ line: at, expected: "prefix,route[,cost]", got: JSON.stringify(line) });
      continue;
    }
    if (!PREFIX.test(prefix)) {
      issues.push({ line: at, expected: "a prefix of 1-15 digits", got: JSON.stringify(prefix) });
      continue;
    }
    if (!ROUTE_NAME.test(route)) {
      issues.push({ line: at, expected: "a route name", got: JSON.stringify(route) });
      continue;
    }
    const c = Number(cost);
    if (cost === "" || !Number.isFinite(c) || c < 0) {
      issues.push({ line: at, expected: "a cost of 0 or more", got: JSON.stringify(cost) });
      continue;
    }
    const key = prefix.replace(/^\+/, "");
    const list = rows.get(key) ?? [];
    const same = list.find((r) => r.route === route);
    if (same) {
      if (c < same.cost) same.cost = c;
    } else list.push({ route, cost: c, seq });
    rows.set(key, list);
    routes.add(route);
  }
  const prefixes = new Map<string, string[]>();
  let longest = 0;
  for (const [p, list] of rows) {
    list.sort((a, b) => a.cost - b.cost || a.seq - b.seq);
    prefixes.set(p, list.map((r) => r.route));
    if (p.length > longest) longest = p.length;
  }
  return { prefixes, longest, routes, issues };
}

/**
 * The route names for `number` (a URI user: "+", visual separators and parameters are ignored):
 * the entry of its longest prefix in the table; undefined when none matches.
 */
export function tableRoutes(
  table: { prefixes: Map<string, string[]>; longest: number },
  number: string,
): { prefix: string; routes: string[] } | undefined {
  const semi = number.indexOf(";");
  const digits = (semi < 0 ? number : number.slice(0, semi)).replace(/^\+|[-.()\s]/g, "");
  if (!/^[0-9]+$/.test(digits)) return undefined;
  for (let n = Math.min(digits.length, table.longest); n > 0; n--) {
    const p = digits.slice(0, n);
    const routes = table.prefixes.get(p);
    if (routes) return { prefix: p, routes };
  }
  return undefined;
}

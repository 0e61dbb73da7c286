// Reads the JUnit XML that `deno test --junit-path` writes: one <testsuite> per module, one
// <testcase> per test and per step (steps are named "parent > step").

/** One test or step as Deno reported it. */
export interface JunitCase {
  /** The module, as Deno names it (./tests/sip/parser_test.ts). */
  suite: string;
  name: string;
  status: "passed" | "failed" | "skipped";
  /** First line of the failure or error message. */
  message?: string;
  /** True when another case of the same module is this one's parent (a t.step). */
  isStep: boolean;
}

const ENTITIES: Record<string, string> = {
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&apos;": "'",
  "&amp;": "&",
};

function unescape(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (m) => ENTITIES[m]).replace(
    /&#(x?)([0-9a-fA-F]+);/g,
    (_m, hex: string, n: string) => String.fromCodePoint(parseInt(n, hex ? 16 : 10)),
  );
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? unescape(m[1]) : undefined;
}

/** Every test case in a Deno JUnit report, in document order. */
export function parseJunit(xml: string): JunitCase[] {
  const out: JunitCase[] = [];
  const suiteRe = /<testsuite\b([^>]*)>([\s\S]*?)<\/testsuite>/g;
  for (const sm of xml.matchAll(suiteRe)) {
    const suite = attr(sm[1], "name") ?? "?";
    const cases: JunitCase[] = [];
    const caseRe = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
    for (const cm of sm[2].matchAll(caseRe)) {
      const body = cm[3] ?? "";
      const name = attr(cm[1], "name") ?? "?";
      const bad = /<(failure|error)\b([^>]*)/.exec(body);
      const c: JunitCase = {
        suite,
        name,
        status: bad ? "failed" : /<skipped\b/.test(body) ? "skipped" : "passed",
        isStep: false,
      };
      if (bad) c.message = (attr(bad[2], "message") ?? bad[1]).split("\n")[0];
      cases.push(c);
    }
    const names = cases.map((c) => c.name);
    for (const c of cases) {
      c.isStep = names.some((n) => n !== c.name && c.name.startsWith(`${n} > `));
    }
    out.push(...cases);
  }
  return out;
}

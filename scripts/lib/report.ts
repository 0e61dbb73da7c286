// Per-suite results of a test run and the one summary line CI reads: `N passed, N failed`.

/** The outcome of one phase of `deno task test`. */
export interface SuiteResult {
  name: string;
  passed: number;
  failed: number;
  skipped: number;
  /** Names of what failed, with a short reason. */
  failures: string[];
  /** Anything the reader should know (skipped phase, count corrections...). */
  notes: string[];
}

/** A suite with no results yet. */
export function suite(name: string): SuiteResult {
  return { name, passed: 0, failed: 0, skipped: 0, failures: [], notes: [] };
}

/** Matches the summary line of every Tandem runner, ours included. */
export const SUMMARY_RE = /^(\d+) passed, (\d+) failed\s*$/;

/** Print each suite, then (as the very last line) the total `N passed, N failed`. */
export function printReport(suites: SuiteResult[]): { passed: number; failed: number } {
  let passed = 0;
  let failed = 0;
  console.log("\n==================== test summary ====================");
  for (const s of suites) {
    passed += s.passed;
    failed += s.failed;
    const skipped = s.skipped ? `, ${s.skipped} skipped` : "";
    console.log(
      `${s.failed ? "FAIL" : "ok  "} ${s.name}: ${s.passed} passed, ${s.failed} failed${skipped}`,
    );
    for (const n of s.notes) console.log(`       note: ${n}`);
    for (const f of s.failures.slice(0, 50)) console.log(`       failed: ${f}`);
    if (s.failures.length > 50) console.log(`       ... and ${s.failures.length - 50} more`);
  }
  console.log("======================================================");
  console.log(`${passed} passed, ${failed} failed`);
  return { passed, failed };
}

// The whole test suite, as CI runs it: `deno task test`.
//
//   1. deps   - the Debian packages the e2e tests call (installed with apt when root), Bun, and
//               JsSIP (the browser phone of the WebRTC test; npm, into .tools/);
//   2. build  - `deno install`, then dist/tandem through scripts/build.ts;
//   3. unit   - `deno test -A --parallel tests/` (unit and e2e tests, two files at a time; the
//               few tests on fixed ports take a lock, tests/e2e/harness.ts fixedPorts),
//               counted from its JUnit report;
//   4. bun    - scripts/test-bun.ts (transport tests under Bun), counted from its last line.
//
// Prints one result per suite and, as the last line, `N passed, N failed`. Exit 0 iff nothing
// failed; 2 when packages are missing and we are not root.
//
//   deno task test [--filter <substring>] [--no-build] [--unit-only] [--no-deps]
//                  [--reporter pretty|dot|tap] [--jobs N]

import { parseArgs } from "node:util";
import { aptInstall, ensureBun, ensureJssip, isRoot, missingPackages } from "./lib/deps.ts";
import { parseJunit } from "./lib/junit.ts";
import { repoRoot, run } from "./lib/proc.ts";
import { printReport, suite, type SuiteResult, SUMMARY_RE } from "./lib/report.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    filter: { type: "string" },
    "no-build": { type: "boolean", default: false },
    "unit-only": { type: "boolean", default: false },
    "no-deps": { type: "boolean", default: false },
    reporter: { type: "string", default: "pretty" },
    jobs: { type: "string", default: "2" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    `usage: deno task test [--filter <substring>] [--no-build] [--unit-only] [--no-deps] [--reporter pretty|dot|tap] [--jobs N]
  --filter     run only tests whose name contains <substring> (passed to deno test)
  --no-build   do not rebuild dist/tandem (binary-mode e2e tests use whatever is there)
  --unit-only  only deno test: no packages, no Bun, no build, no Bun transport tests
  --no-deps    do not check or install Debian packages (tests needing them skip or fail)
  --jobs       test files run at once (default 2; 1 runs them one after another)`,
  );
  Deno.exit(0);
}

const MIN = 60_000;
/** Phase time limits; each child is killed (with its process group) when its phase expires. */
const TIMEOUT = {
  apt: 10 * MIN,
  npm: 4 * MIN,
  install: 4 * MIN,
  build: 6 * MIN,
  unit: 13 * MIN, // .ci/run gives the whole task 14 min; deps, build and Bun take about one
  bun: 6 * MIN,
};

const deno = Deno.execPath();
const suites: SuiteResult[] = [];
Deno.env.set("DENO_BIN", deno);
Deno.env.set("NO_COLOR", "1");

/** Setup, not a test: it adds a failure when something cannot be installed, never a pass. */
async function depsPhase(): Promise<SuiteResult | "not-root"> {
  const s = suite("deps");
  if (!values["no-deps"]) {
    const missing = missingPackages();
    if (missing.length > 0 && !isRoot()) {
      console.error(`[deps] missing Debian packages: ${missing.join(" ")}`);
      console.error(`[deps] install them with: sudo apt-get install -y ${missing.join(" ")}`);
      console.error("[deps] (or run with --no-deps / --unit-only to go on without them)");
      return "not-root";
    }
    if (missing.length > 0) {
      const ok = await aptInstall(missing, TIMEOUT.apt);
      const still = missingPackages();
      if (!ok || still.length > 0) {
        s.failed++;
        s.failures.push(
          `apt-get install: still missing ${still.join(" ") || "(none; apt failed)"}`,
        );
      } else {
        s.notes.push(`installed ${missing.join(" ")}`);
      }
    }
  } else {
    s.notes.push("--no-deps: Debian packages not checked");
  }
  if (!(await ensureJssip(TIMEOUT.npm))) {
    s.failed++;
    s.failures.push(
      "jssip: `npm install --prefix .tools jssip@3` failed (the WebRTC test's phone)",
    );
  }
  const bun = await ensureBun(TIMEOUT.npm);
  if (bun) {
    Deno.env.set("BUN_BIN", bun);
  } else {
    s.failed++;
    s.failures.push("bun: not on PATH and `npm install --prefix .tools bun@1` failed");
  }
  return s;
}

async function denoInstall(): Promise<boolean> {
  console.log("[install] deno install");
  const res = await run(deno, {
    args: ["install", "--quiet"],
    cwd: repoRoot,
    timeoutMs: TIMEOUT.install,
  });
  return res.code === 0;
}

async function buildPhase(): Promise<SuiteResult> {
  const s = suite("build");
  const res = await run(deno, {
    args: ["run", "-A", "scripts/build.ts", "--no-install"],
    cwd: repoRoot,
    timeoutMs: TIMEOUT.build,
  });
  if (res.code === 0) {
    s.passed++;
    Deno.env.set("TANDEM_BIN", `${repoRoot}/dist/tandem`);
  } else {
    s.failed++;
    s.failures.push(`scripts/build.ts exited ${res.code}${res.timedOut ? " (timeout)" : ""}`);
  }
  return s;
}

/** Test modules under tests/, by the names `deno test` picks up. */
function testFiles(dir = `${repoRoot}/tests`): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory && e.name !== "node_modules" && !e.name.startsWith(".")) walk(p);
      else if (e.isFile && /(^|[._])test\.(ts|tsx|mts|js|mjs|jsx)$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.map((p) => p.slice(repoRoot.length + 1));
}

interface DenoTestRun {
  code: number;
  timedOut: boolean;
  output: string;
  junit?: string;
}

async function denoTest(targets: string[]): Promise<DenoTestRun> {
  const junitPath = await Deno.makeTempFile({ prefix: "tandem-unit-", suffix: ".xml" });
  await Deno.remove(junitPath);
  const args = ["test", "-A", `--reporter=${values.reporter}`, `--junit-path=${junitPath}`];
  // Most of the suite's time is end-to-end tests waiting on timers and peers, not CPU: two
  // files at a time about halves it on two cores.
  const jobs = Number(values.jobs);
  if (!(Number.isInteger(jobs) && jobs >= 1)) {
    throw new Error(`--jobs: expected a count, got ${values.jobs}`);
  }
  if (jobs > 1) args.push("--parallel");
  if (values.filter !== undefined) args.push("--filter", values.filter);
  args.push(...targets);
  console.log(`[unit] DENO_JOBS=${jobs} deno ${args.join(" ")}`);
  const res = await run(deno, {
    args,
    cwd: repoRoot,
    timeoutMs: TIMEOUT.unit,
    capture: true,
    env: { DENO_JOBS: String(jobs) },
  });
  let junit: string | undefined;
  try {
    junit = await Deno.readTextFile(junitPath);
    await Deno.remove(junitPath);
  } catch {
    junit = undefined;
  }
  return { code: res.code, timedOut: res.timedOut, output: res.output, junit };
}

/** Fold one `deno test` run into the suite: JUnit for names, Deno's own summary for counts. */
function countRun(s: SuiteResult, r: DenoTestRun): void {
  // deno-lint-ignore no-control-regex
  const text = r.output.replace(/\x1b\[[0-9;]*m/g, "");
  const cases = parseJunit(r.junit ?? "").filter((c) => !c.isStep);
  let passed = cases.filter((c) => c.status === "passed").length;
  let failed = cases.filter((c) => c.status === "failed").length;
  s.skipped += cases.filter((c) => c.status === "skipped").length;
  for (const c of cases) {
    if (c.status === "failed") {
      s.failures.push(`${c.suite}: ${c.name}${c.message ? ` (${c.message})` : ""}`);
    }
  }
  // Errors outside any test (top-level throw, a dangling promise) are not in the JUnit file.
  const uncaught = new Set<string>();
  for (const m of text.matchAll(/^(\S.*) \(uncaught error\)\s*$/gm)) uncaught.add(m[1]);
  for (const u of uncaught) s.failures.push(`${u}: uncaught error outside a test`);
  failed += uncaught.size;
  // Deno's summary, e.g. "FAILED | 4 passed (1 step) | 5 failed (1 step) | 1 ignored".
  const sm = /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/m.exec(text);
  if (sm && (Number(sm[1]) !== passed || Number(sm[2]) !== failed)) {
    s.notes.push(`JUnit+uncaught gave ${passed}/${failed}; using Deno's summary ${sm[1]}/${sm[2]}`);
    passed = Number(sm[1]);
    failed = Number(sm[2]);
  }
  if (r.code !== 0 && failed === 0) {
    failed = 1;
    s.failures.push(
      `deno test exited ${r.code}${r.timedOut ? " (phase timeout)" : ""} with no failed test`,
    );
  }
  s.passed += passed;
  s.failed += failed;
}

async function unitPhase(): Promise<SuiteResult> {
  const s = suite("deno test");
  const files = testFiles();
  if (files.length === 0) {
    s.notes.push("no test modules under tests/");
    return s;
  }
  const first = await denoTest(["tests/"]);
  if (first.junit !== undefined || first.timedOut) {
    countRun(s, first);
    return s;
  }
  // No report at all: a module failed to type-check or to resolve an import, and deno test
  // refuses to run anything. Find the broken modules one by one, count each as one failure,
  // and run the others.
  console.log("\n[unit] deno test produced no report; checking each test module on its own");
  const good: string[] = [];
  for (const f of files) {
    const res = await run(deno, {
      args: ["check", "--quiet", f],
      cwd: repoRoot,
      timeoutMs: 2 * MIN,
      tee: false,
      capture: true,
    });
    if (res.code === 0) {
      good.push(f);
    } else {
      s.failed++;
      // deno-lint-ignore no-control-regex
      const why = res.output.replace(/\x1b\[[0-9;]*m/g, "").trim().split("\n")[0];
      s.failures.push(`${f}: does not load (${why})`);
      console.log(`[unit] ${f}: does not load\n${res.output}`);
    }
  }
  if (good.length > 0) {
    const second = await denoTest(good);
    if (second.junit === undefined && !second.timedOut) {
      s.failed++;
      s.failures.push(`deno test exited ${second.code} without a report`);
    } else {
      countRun(s, second);
    }
  }
  return s;
}

async function bunPhase(): Promise<SuiteResult> {
  const s = suite("bun transport tests");
  try {
    Deno.statSync(`${repoRoot}/scripts/test-bun.ts`);
  } catch {
    s.notes.push("scripts/test-bun.ts does not exist yet: skipped");
    return s;
  }
  const res = await run(deno, {
    args: [
      "run",
      "-A",
      "scripts/test-bun.ts",
      ...(values.filter ? ["--filter", values.filter] : []),
    ],
    cwd: repoRoot,
    timeoutMs: TIMEOUT.bun,
    capture: true,
  });
  const lines = res.output.trimEnd().split("\n").map((l) => l.trim()).filter(Boolean);
  const m = lines.length > 0 ? SUMMARY_RE.exec(lines[lines.length - 1]) : null;
  if (!m) {
    s.failed = 1;
    s.failures.push(
      `scripts/test-bun.ts exited ${res.code}${
        res.timedOut ? " (timeout)" : ""
      } without a final "N passed, N failed" line`,
    );
    return s;
  }
  s.passed = Number(m[1]);
  s.failed = Number(m[2]);
  if (res.code !== 0 && s.failed === 0) {
    s.failed = 1;
    s.failures.push(`scripts/test-bun.ts exited ${res.code} yet reported no failure`);
  }
  if (s.failed > 0) s.failures.push("see the scripts/test-bun.ts output above");
  return s;
}

async function main(): Promise<number> {
  const unitOnly = values["unit-only"];
  if (!unitOnly) {
    const d = await depsPhase();
    if (d === "not-root") return 2;
    suites.push(d);
  }
  const installed = await denoInstall();
  if (!installed) {
    const s = suite("deno install");
    s.failed = 1;
    s.failures.push("deno install failed: npm packages unavailable");
    suites.push(s);
  }
  if (!unitOnly && !values["no-build"]) suites.push(await buildPhase());
  else {
    try {
      Deno.statSync(`${repoRoot}/dist/tandem`);
      Deno.env.set("TANDEM_BIN", `${repoRoot}/dist/tandem`);
    } catch {
      // binary-mode e2e tests will find no binary and say so
    }
  }
  suites.push(await unitPhase());
  if (!unitOnly) suites.push(await bunPhase());
  const { failed } = printReport(suites);
  return failed === 0 ? 0 : 1;
}

Deno.exit(await main());

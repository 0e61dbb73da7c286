// Load benchmarks: call rate, CPU per call, memory per call, for Tandem under Bun (dist/tandem)
// and Deno, next to SIPp straight to SIPp (the box's ceiling) and Kamailio (tm + rr + dialog).
//
//   deno task bench [--quick] [--rates 500,1000,2000] [--step-seconds 10]
//                   [--targets tandem-bun,tandem-deno,sipp,kamailio] [--memory 20000,50000,100000]
//                   [--memory-rate 2000] [--memory-targets tandem-bun] [--profile <rate>|off]
//                   [--soak SECONDS@RATE|off] [--name <results name>] [--no-build]
//
// Every step runs the shared SIPp scenarios (../shared/bench/uac_rr.xml and uas_rr.xml): the
// caller on 127.0.0.1:27050, the callee on 127.0.0.1:27090, 1 s calls. Results go to
// bench-results/<date>-<name>.json; docs/benchmarks.md explains them.

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { sleep, stopAll } from "./bench/proc.ts";
import { InspectorProfiler, type ProfileSummary, summarize } from "./bench/profile.ts";
import { attribute, JitMap, type JscProfile, parsePerfScript } from "./bench/jsc-perf.ts";
import { type MemoryResult, runMemory, runStep, type StepResult } from "./bench/run.ts";
import { scenarios } from "./bench/sipp.ts";
import { runSoak, type SoakResult } from "./bench/soak.ts";
import { startTarget, type Target, type TargetName, TARGETS } from "./bench/targets.ts";
import { renderReport } from "./bench/report.ts";

const repoRoot = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    rates: { type: "string" },
    "sipp-rates": { type: "string" },
    "step-seconds": { type: "string" },
    targets: { type: "string" },
    memory: { type: "string" },
    "memory-rate": { type: "string" },
    "memory-targets": { type: "string" },
    profile: { type: "string" },
    soak: { type: "string" },
    name: { type: "string" },
    workers: { type: "string" },
    config: { type: "string" },
    warmup: { type: "string" },
    "no-build": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: deno task bench [--quick] [--rates 500,1000,...] [--sipp-rates R,...] " +
      "[--step-seconds N] " +
      "[--targets tandem-bun,tandem-deno,sipp,kamailio] [--memory 20000,50000,100000|off] " +
      "[--memory-rate R] [--memory-targets tandem-bun,...] [--profile RATE|off] [--name NAME] " +
      "[--workers N] [--config FILE] [--warmup SECONDS[@RATE]|off] [--soak SECONDS@RATE|off] " +
      "[--no-build]",
  );
  Deno.exit(0);
}

const list = (s: string | undefined) => (s ?? "").split(",").map((x) => x.trim()).filter(Boolean);
const quick = values.quick;
const rates = list(values.rates ?? (quick ? "1000,2000" : "500,1000,2000,3000,4000,5000,6000,8000"))
  .map(Number);
/**
 * SIPp straight to SIPp is the box's ceiling, far above the others: its ladder goes on past
 * `rates` until it fails, so the run measures the ceiling (and with it, how fast the box is).
 */
const sippRates = values["sipp-rates"]
  ? list(values["sipp-rates"]).map(Number)
  : [...new Set([...rates, ...(quick ? [] : [8000, 12000, 16000, 20000, 28000])])]
    .sort((a, b) => a - b);
const stepSeconds = Number(values["step-seconds"] ?? (quick ? 3 : 10));
const targets = list(values.targets ?? TARGETS.join(",")) as TargetName[];
for (const t of targets) {
  if (!TARGETS.includes(t)) {
    console.error(`bench: unknown target ${t} (known: ${TARGETS.join(", ")})`);
    Deno.exit(2);
  }
}
const memoryLevels = values.memory === "off"
  ? []
  : list(values.memory ?? (quick ? "5000" : "20000,50000,100000")).map(Number);
const memoryTargets = list(values["memory-targets"] ?? "tandem-bun").filter((t) =>
  targets.includes(t as TargetName)
) as TargetName[];
const memoryRateCap = Number(values["memory-rate"] ?? 2000);
const profileArg = values.profile ?? (quick ? "off" : "auto");
const name = values.name ?? (quick ? "quick" : "full");
/**
 * Tandem's configuration: config/bench.yaml (one rule, one route), or one shaped like a
 * production's (config/bench-production.yaml) to see what rules, limits and policies cost. It
 * must keep the bench's addresses (SIP 127.0.0.1:27060, HTTP 27080, callee 27090).
 */
const tandemConfig = values.config ?? "config/bench.yaml";
/** Tandem's sip.workers (the configuration with `workers: N` when above 1). */
const workers = Number(values.workers ?? 1);
if (!Number.isInteger(workers) || workers < 1) {
  console.error("bench: --workers takes a whole number from 1");
  Deno.exit(2);
}
/**
 * Before a target's first measured step, offer calls for a while and throw the numbers away: a
 * JIT-compiled server (Tandem under Bun or Deno) spends its first seconds compiling, which a
 * production server does once per start and the ladder would otherwise charge to its first step.
 * The same warm-up runs before every target, so the comparison stays even. 20 s: JavaScriptCore's
 * FTL tier keeps compiling for about that long (the sixth session's profile); after 10 s its
 * compiler thread still took 0.02 ms per call of the first step.
 */
const warmupArg = values.warmup ?? (quick ? "off" : "20");
const [warmupSeconds, warmupRate] = warmupArg === "off"
  ? [0, 0]
  : [Number(warmupArg.split("@")[0]), Number(warmupArg.split("@")[1] ?? Math.min(1000, rates[0]))];
if (!(warmupSeconds >= 0) || (warmupSeconds > 0 && !(warmupRate > 0))) {
  console.error("bench: --warmup takes SECONDS, SECONDS@RATE or off");
  Deno.exit(2);
}
/**
 * The soak (off unless asked): the memory targets carry RATE calls/s for SECONDS, and the run
 * checks that a quiet spell afterwards brings them back to what they held before (leak.ts).
 */
const soakArg = values.soak ?? "off";
const [soakSeconds, soakRate] = soakArg === "off"
  ? [0, 0]
  : [Number(soakArg.split("@")[0]), Number(soakArg.split("@")[1])];
if (soakArg !== "off" && !(soakSeconds > 0 && soakRate > 0)) {
  console.error("bench: --soak takes SECONDS@RATE (e.g. 600@2000) or off");
  Deno.exit(2);
}
if (
  [...rates, ...sippRates].some((r) => !(r > 0)) || !(stepSeconds > 0) ||
  memoryLevels.some((n) => !(n > 0))
) {
  console.error("bench: rates, step seconds and memory levels must be positive numbers");
  Deno.exit(2);
}

const log = (s: string) => console.log(s);
const started = new Date();
const workDir = await Deno.makeTempDir({ prefix: "tandem-bench-" });
const { uac: uacXml, uas: uasXml } = scenarios(repoRoot);
for (const f of [uacXml, uasXml]) {
  try {
    Deno.statSync(f);
  } catch {
    console.error(`bench: ${f} missing (the shared scenarios live in ../shared/bench/)`);
    Deno.exit(2);
  }
}

async function ensureBinary(): Promise<void> {
  const bin = resolve(repoRoot, "dist/tandem");
  try {
    Deno.statSync(bin);
    return;
  } catch {
    // build it
  }
  if (values["no-build"]) throw new Error("dist/tandem missing and --no-build given");
  log("[bench] dist/tandem missing: deno run -A scripts/build.ts");
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/build.ts"],
    cwd: repoRoot,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!r.success) throw new Error("build failed");
}

interface Results {
  started: string;
  finished?: string;
  machine: Record<string, string | number>;
  options: Record<string, unknown>;
  commands: Record<string, string>;
  steps: StepResult[];
  /** Warm-up runs (not measured steps): one per target, before its ladder. */
  warmups: StepResult[];
  memory: MemoryResult[];
  /** Long steady runs, each judged for what it left behind. */
  soak: SoakResult[];
  profiles: Record<string, ProfileSummary & { rate: number; seconds: number; how: string }>;
  /** perf profile of dist/tandem's JavaScript thread, native time charged to JavaScript. */
  jscProfiles: Record<string, JscProfile & { rate: number; seconds: number; how: string }>;
  errors: string[];
}

function machine(): Record<string, string | number> {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "?";
  const mem = /MemTotal:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1];
  const text = (p: string) => {
    try {
      return Deno.readTextFileSync(p).trim();
    } catch {
      return "?";
    }
  };
  const ver = (cmd: string, args: string[]) => {
    try {
      const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
      return (new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr)).trim()
        .split("\n").find((l) => l.trim() !== "")?.trim() ?? "?";
    } catch {
      return "?";
    }
  };
  return {
    cpu: model,
    cores: navigator.hardwareConcurrency,
    memGiB: mem ? Math.round(Number(mem) / 1024 / 1024) : "?",
    kernel: Deno.osRelease(),
    loadavgAtStart: text("/proc/loadavg"),
    rmemMax: text("/proc/sys/net/core/rmem_max"),
    deno: Deno.version.deno,
    bun: ver(Deno.env.get("BUN_BIN") ?? "bun", ["--version"]),
    sipp: ver("sipp", ["-v"]),
    kamailio: ver("kamailio", ["-v"]),
  };
}

const results: Results = {
  started: started.toISOString(),
  machine: machine(),
  options: {
    quick,
    rates,
    sippRates,
    stepSeconds,
    targets,
    memoryLevels,
    memoryTargets,
    memoryRateCap,
    profileArg,
    workers,
    config: tandemConfig,
    warmupSeconds,
    warmupRate,
    soakSeconds,
    soakRate,
  },
  commands: {
    uas: "sipp -sf ../shared/bench/uas_rr.xml -i 127.0.0.1 -p 27090 -mp 27300 -buff_size 1048576 " +
      "-trace_stat -fd 1",
    uac: "sipp -sf ../shared/bench/uac_rr.xml -i 127.0.0.1 -p 27050 -mp 27200 -r RATE -rp 1000 " +
      "-m RATE*SECONDS -l RATE*10 -d 1000 -recv_timeout 5000 -buff_size 1048576 -trace_stat -fd 1 " +
      "-trace_rtt TARGET",
    memoryUac:
      "sipp -sf ../shared/bench/uac_rr.xml ... -r RATE -m N -l N -d HOLD -recv_timeout 30000 TARGET",
  },
  steps: [],
  warmups: [],
  memory: [],
  soak: [],
  profiles: {},
  jscProfiles: {},
  errors: [],
};

const resultsDir = resolve(repoRoot, "bench-results");
const day = started.toISOString().slice(0, 10);
const resultsFile = `${resultsDir}/${day}-${name}.json`;

function save(): void {
  Deno.mkdirSync(resultsDir, { recursive: true });
  Deno.writeTextFileSync(resultsFile, JSON.stringify(results, null, 1) + "\n");
}

async function withTarget<T>(
  name: TargetName,
  f: (t: Target) => Promise<T>,
  extra: {
    inspectPort?: number;
    bunCpuProfDir?: string;
    env?: Record<string, string>;
    rawLog?: boolean;
  } = {},
): Promise<T> {
  const t = await startTarget(name, { repoRoot, workDir, workers, config: tandemConfig, ...extra });
  results.commands[name] = t.command;
  try {
    return await f(t);
  } finally {
    await t.stop();
  }
}

/** {@link withTarget}, after the warm-up (when there is one) on the fresh target. */
function withWarmTarget<T>(
  name: TargetName,
  f: (t: Target) => Promise<T>,
  extra: Parameters<typeof withTarget>[2] = {},
): Promise<T> {
  return withTarget(name, async (t) => {
    if (warmupSeconds > 0) await warmUp(name, t);
    return await f(t);
  }, extra);
}

async function rateSweep(name: TargetName): Promise<void> {
  const rungs = name === "sipp" ? sippRates : rates;
  log(`\n[bench] ${name}: rates ${rungs.join(", ")} calls/s, ${stepSeconds} s each, 1 s calls`);
  await withWarmTarget(name, async (t) => {
    for (const rate of rungs) {
      const r = await runStep(t, {
        dir: `${workDir}/${name}-${rate}`,
        uacXml,
        uasXml,
        rate,
        seconds: stepSeconds,
        log,
      });
      results.steps.push(r);
      save();
      const lat = r.latencyMs ? `p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} ms` : "no latency";
      log(
        `[bench] ${name} ${rate}/s: ${r.attempted}/${r.planned} attempted, ${r.succeeded} ok, ` +
          `${r.failed} failed, retrans ${r.retransUac}+${r.retransUas}, ` +
          (r.cpuMsPerCall === null
            ? ""
            : `${r.cpuMsPerCall} ms CPU/call, ${r.cpuPctCore}% core, `) +
          `${lat}${
            r.clean ? "  CLEAN" : r.allSucceeded ? "  all ok (with retransmissions)" : "  NOT CLEAN"
          }` +
          (r.aborted ? `  [${r.aborted}]` : ""),
      );
      for (const e of r.errors.slice(0, 4)) log(`    sipp: ${e}`);
      // Past the knee: calls fail for reasons other than load shedding (a 503 from a target
      // that sheds is the wanted answer, and the curve goes on to show it).
      if (r.aborted || r.failed - r.shed > 0.02 * r.planned) {
        log(`[bench] ${name}: past the knee at ${rate}/s, higher rates skipped`);
        break;
      }
    }
  });
}

/** Offer calls for `warmupSeconds` and keep the result apart from the measured steps. */
async function warmUp(name: TargetName, t: Target): Promise<void> {
  log(`[bench] ${name}: warm-up, ${warmupRate}/s for ${warmupSeconds} s (not measured)`);
  const r = await runStep(t, {
    dir: `${workDir}/${name}-warmup`,
    uacXml,
    uasXml,
    rate: warmupRate,
    seconds: warmupSeconds,
    log,
  });
  results.warmups.push(r);
  log(
    `[bench] ${name} warm-up: ${r.succeeded}/${r.planned} ok, ${r.cpuMsPerCall ?? "-"} ms CPU/call`,
  );
}

function bestClean(name: string): number {
  return Math.max(
    0,
    ...results.steps.filter((s) => s.target === name && s.clean).map((s) => s.rate),
  );
}

async function memory(name: TargetName): Promise<void> {
  const best = bestClean(name);
  const rate = best > 0 ? Math.min(memoryRateCap, Math.floor(best * 0.8 / 100) * 100 || best) : 500;
  for (const n of memoryLevels) {
    log(`\n[bench] ${name}: hold ${n} calls (set up at ${rate}/s)`);
    await withTarget(name, async (t) => {
      const m = await runMemory(t, {
        dir: `${workDir}/${name}-mem-${n}`,
        uacXml,
        uasXml,
        calls: n,
        rate,
        log,
      });
      results.memory.push(m);
      save();
      log(
        `[bench] ${name} ${n} calls: peak ${m.peakActive} active, RSS ${m.baseRssMB} -> ${m.peakRssMB} MB ` +
          `(${m.rssPerCallKB} KB/call), heap ${m.baseHeapMB} -> ${m.peakHeapMB} MB (${m.heapPerCallKB} KB/call), ` +
          `settled: RSS ${m.settledRssMB} MB (${m.settledRssPerCallKB} KB/call), heap ${m.settledHeapMB} MB ` +
          `(${m.settledHeapPerCallKB} KB/call), ` +
          `setup ${m.setupS} s, teardown ${m.teardownS} s, after: RSS ${m.afterRssMB} MB heap ${m.afterHeapMB} MB` +
          (m.note ? `  [${m.note}]` : ""),
      );
    });
  }
}

async function soak(name: TargetName): Promise<void> {
  log(`\n[bench] ${name}: soak, ${soakRate}/s for ${soakSeconds} s, then a quiet spell`);
  await withWarmTarget(name, async (t) => {
    const r = await runSoak(t, {
      dir: `${workDir}/${name}-soak`,
      uacXml,
      uasXml,
      rate: soakRate,
      seconds: soakSeconds,
      log,
    });
    results.soak.push(r);
    save();
    log(
      `[bench] ${name} soak: ${r.succeeded}/${r.attempted} ok, ${r.failed} failed (${r.shed} shed), ` +
        `retrans ${r.retransUac}+${r.retransUas}, ${r.cpuMsPerCall} ms CPU/call; ` +
        `${r.verdict.leak ? "LEAK SUSPECTED" : "no leak"}: ${r.verdict.reason}`,
    );
  });
}

async function profile(name: "tandem-deno" | "tandem-bun"): Promise<void> {
  const best = bestClean(name);
  const rate = profileArg === "auto"
    ? Math.max(500, Math.floor((best || 1000) * 0.8 / 100) * 100)
    : Number(profileArg);
  const seconds = Math.max(stepSeconds, 8);
  log(`\n[bench] profile ${name} at ${rate}/s for ${seconds} s`);
  if (name === "tandem-deno") {
    const port = 27229;
    let prof: InspectorProfiler | undefined;
    await withWarmTarget(name, async (t) => {
      prof = new InspectorProfiler(`127.0.0.1:${port}`);
      await prof.connect();
      await prof.start(500);
      const r = await runStep(t, {
        dir: `${workDir}/${name}-prof`,
        uacXml,
        uasXml,
        rate,
        seconds,
        log,
      });
      const p = await prof.stop();
      Deno.writeTextFileSync(`${workDir}/${name}.cpuprofile`, JSON.stringify(p));
      results.profiles[name] = {
        ...summarize(p, repoRoot),
        rate,
        seconds,
        how: `deno run -A --inspect=127.0.0.1:${port} mod.ts --config ${tandemConfig}; ` +
          `Profiler.start (500 us sampling) over the inspector for one ${rate}/s step ` +
          `(${r.succeeded}/${r.planned} ok, ${r.cpuMsPerCall} ms CPU/call with the profiler on)`,
      };
    }, { inspectPort: port });
  } else {
    const dir = `${workDir}/bun-prof`;
    Deno.mkdirSync(dir, { recursive: true });
    let how = "";
    // Bun profiles the whole process, warm-up included: it dilutes, rather than hides, start-up.
    await withWarmTarget(name, async (t) => {
      const r = await runStep(t, {
        dir: `${workDir}/${name}-prof`,
        uacXml,
        uasXml,
        rate,
        seconds,
        log,
      });
      how = `bun --cpu-prof --cpu-prof-dir DIR mod.ts --config ${tandemConfig} (from source, ` +
        `same code as dist/tandem); one ${rate}/s step (${r.succeeded}/${r.planned} ok, ` +
        `${r.cpuMsPerCall} ms CPU/call with the profiler on); profile written at exit (SIGTERM)`;
    }, { bunCpuProfDir: dir });
    const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".cpuprofile"));
    if (!file) throw new Error(`bun wrote no .cpuprofile in ${dir}`);
    const p = JSON.parse(Deno.readTextFileSync(`${dir}/${file.name}`));
    results.profiles[name] = { ...summarize(p, repoRoot), rate, seconds, how };
    // The compilers' printing takes a core while they work: well below the knee, or it sheds.
    if (hasPerf()) await jscProfile(Math.min(rate, 500), seconds);
    else log("[bench] perf not found: no JavaScriptCore-aware profile (apt install linux-perf)");
  }
  save();
}

function hasPerf(): boolean {
  try {
    return new Deno.Command("perf", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

// Printing the compilers' output takes a core for tens of seconds: a long, gentle warm-up lets
// them finish before the JavaScript thread is sampled.
const JSC_WARMUP_S = 60;
const JSC_WARMUP_RATE = 250;

/**
 * perf on dist/tandem's JavaScript thread, with JavaScriptCore printing where it puts the code
 * of every function it optimizes (scripts/bench/jsc-perf.ts), sampled through the middle of one
 * step after the warm-up.
 */
async function jscProfile(rate: number, seconds: number): Promise<void> {
  const name = "tandem-bun";
  const data = `${workDir}/jsc-perf.data`;
  log(`[bench] ${name}: perf profile with JIT code addresses at ${rate}/s`);
  let how = "";
  let tid = 0;
  let dump = "";
  await withTarget(name, async (t) => {
    const r0 = await runStep(t, {
      dir: `${workDir}/${name}-jsc-warmup`,
      uacXml,
      uasXml,
      rate: JSC_WARMUP_RATE,
      seconds: JSC_WARMUP_S,
      log,
    });
    tid = t.child!.pid;
    const step = runStep(t, { dir: `${workDir}/${name}-jsc`, uacXml, uasXml, rate, seconds, log });
    await sleep(2000);
    const window = Math.max(2, seconds - 4);
    await new Deno.Command("perf", {
      args: [
        "record",
        "-F",
        "999",
        "-g",
        "-t",
        String(tid),
        "-o",
        data,
        "--",
        "sleep",
        `${window}`,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    const r = await step;
    how = `BUN_JSC_dumpDFGDisassembly=true BUN_JSC_dumpFTLDisassembly=true dist/tandem ` +
      `--config ${tandemConfig}; ` +
      `${JSC_WARMUP_S} s at ${JSC_WARMUP_RATE}/s (${r0.succeeded}/${r0.planned} ok), then ` +
      `\`perf record -F 999 -g -t <main thread>\` for ${window} s of one ${rate}/s step ` +
      `(${r.succeeded}/${r.planned} ok); perf stacks walked up to the innermost JavaScript ` +
      `function named by the dump`;
    dump = Deno.readTextFileSync(`${workDir}/${name}.log`);
  }, {
    // DFG and FTL only: Baseline's dump and call-linking log are written on the JavaScript
    // thread and hold it up; hot code is optimized by the time the window opens.
    env: { BUN_JSC_dumpDFGDisassembly: "true", BUN_JSC_dumpFTLDisassembly: "true" },
    rawLog: true,
  });
  const script = new Deno.Command("perf", {
    args: ["script", "-i", data, "-F", "tid,ip,dso"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const map = JitMap.fromDisassembly(dump);
  dump = "";
  const p = attribute(parsePerfScript(new TextDecoder().decode(script.stdout), tid), map);
  results.jscProfiles[name] = { ...p, rate, seconds, how };
  log(
    `[bench] ${name}: ${p.samples} samples of the JavaScript thread: JIT code ${p.jitPct} %, ` +
      `native ${p.nativePct} %, kernel ${p.kernelPct} %; no JavaScript on the stack ${p.noJsPct} %`,
  );
  for (const f of p.functions.slice(0, 12)) {
    const pct = String(f.pct).padStart(5);
    log(`  ${pct} %  ${f.name}  (JIT ${f.jit}, native ${f.native}, kernel ${f.kernel})`);
  }
}

/** Run `phase` for each target in turn; one target's failure is recorded and the next goes on. */
async function each(
  list: TargetName[],
  what: string,
  phase: (t: TargetName) => Promise<void>,
): Promise<void> {
  for (const t of list) {
    try {
      await phase(t);
    } catch (e) {
      results.errors.push(`${t}${what}: ${(e as Error).message}`);
      log(`[bench] ${t}${what}: ERROR ${(e as Error).message}`);
    }
  }
}

let code = 0;
try {
  log(`[bench] work dir ${workDir}; results ${resultsFile}`);
  log(`[bench] machine: ${JSON.stringify(results.machine)}`);
  if (targets.includes("tandem-bun")) await ensureBinary();
  await each(targets, "", rateSweep);
  const tandems = memoryTargets.filter((t) => t.startsWith("tandem"));
  await each(tandems, " memory", memory);
  if (soakSeconds > 0) await each(tandems, " soak", soak);
  if (profileArg !== "off") {
    const profiled = targets.filter((t) => t === "tandem-deno" || t === "tandem-bun");
    await each(profiled, " profile", (t) => profile(t as "tandem-deno" | "tandem-bun"));
  }
} catch (e) {
  results.errors.push((e as Error).message);
  log(`[bench] ERROR ${(e as Error).message}`);
  code = 1;
} finally {
  await stopAll();
}
results.finished = new Date().toISOString();
save();
log("\n" + renderReport(results));
log(`[bench] results: ${resultsFile.replace(repoRoot + "/", "")}  (raw SIPp files: ${workDir})`);
Deno.exit(code);

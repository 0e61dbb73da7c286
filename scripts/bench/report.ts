// Markdown tables of a benchmark run (printed at the end, pasted into docs/benchmarks.md).

import type { JscProfile } from "./jsc-perf.ts";
import type { ProfileSummary } from "./profile.ts";
import type { MemoryResult, StepResult } from "./run.ts";
import type { SoakResult } from "./soak.ts";
import { budgetLines, calibrate, calibrationLines, cpuBudget, targetVerdicts } from "./verdicts.ts";

interface ReportInput {
  steps: StepResult[];
  warmups?: StepResult[];
  memory: MemoryResult[];
  soak?: SoakResult[];
  profiles: Record<string, ProfileSummary & { rate: number; seconds: number; how: string }>;
  jscProfiles?: Record<string, JscProfile & { rate: number; seconds: number; how: string }>;
  errors: string[];
  /** The machine's description; `cores` is used for the CPU budget. */
  machine?: Record<string, string | number>;
}

const dash = (v: number | null | undefined, digits?: number) =>
  v === null || v === undefined ? "-" : digits === undefined ? String(v) : v.toFixed(digits);

/** "0.281 / HeapHelper 0.04, JITWorker 0.01" (threads under 0.005 ms per call left out). */
function threadsCell(s: StepResult): string {
  if (s.mainThreadMsPerCall === undefined || s.mainThreadMsPerCall === null) return "-";
  const others = Object.entries(s.otherThreadsMsPerCall ?? {}).filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(3)}`);
  return `${s.mainThreadMsPerCall.toFixed(3)} / ${others.join(", ") || "-"}`;
}

function table(head: string[], rows: (string | number)[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

export function renderReport(r: ReportInput): string {
  const out: string[] = [];
  const targets = [...new Set(r.steps.map((s) => s.target))];
  if (r.warmups?.length) {
    const w = r.warmups[0];
    out.push(
      `Each target first ran a warm-up of ${w.rate}/s for ${w.seconds} s, not counted below ` +
        `(${
          r.warmups.map((x) =>
            `${x.target}: ${x.succeeded}/${x.planned} ok, ` +
            `${dash(x.cpuMsPerCall, 3)} ms CPU/call`
          ).join("; ")
        }).\n`,
    );
  }
  out.push("### Call rate steps\n");
  out.push(table(
    [
      "target",
      "rate/s",
      "attempted",
      "ok",
      "failed (of which shed 503)",
      "retrans uac+uas",
      "CPU ms/call",
      "of which JS thread / others",
      "CPU % core",
      "memory (Pss) MB",
      "INVITE→200 p50/p90/p99/max ms",
      "SIPp CPU % core",
      "box busy %",
      "verdict",
    ],
    r.steps.map((s) => [
      s.target,
      s.rate,
      `${s.attempted}/${s.planned}`,
      s.succeeded,
      s.shed ? `${s.failed} (${s.shed})` : s.failed,
      `${s.retransUac}+${s.retransUas}`,
      dash(s.cpuMsPerCall, 3),
      threadsCell(s),
      dash(s.cpuPctCore),
      dash(s.rssMaxMB),
      s.latencyMs
        ? `${s.latencyMs.p50}/${s.latencyMs.p90}/${s.latencyMs.p99}/${s.latencyMs.max}`
        : "-",
      s.sippCpuPctCore,
      s.machineBusyPct,
      s.clean
        ? "clean"
        : s.allSucceeded
        ? "all ok, retrans"
        : s.aborted
        ? `stopped: ${s.aborted}`
        : "failures",
    ]),
  ));

  const best = (t: string, f: (s: StepResult) => boolean) =>
    Math.max(0, ...r.steps.filter((s) => s.target === t && f(s)).map((s) => s.rate));
  const clean = (t: string) => best(t, (s) => s.clean);
  const ok = (t: string) => best(t, (s) => s.allSucceeded);
  const tested = (t: string) =>
    Math.max(0, ...r.steps.filter((s) => s.target === t).map((s) => s.rate));
  const cpuAt = (t: string, rate: number) =>
    r.steps.find((s) => s.target === t && s.rate === rate)?.cpuMsPerCall ?? null;
  out.push("\n### Highest rate per target\n");
  out.push(table(
    [
      "target",
      "highest clean rate/s (100 % ok, 0 retrans)",
      "highest 100 %-ok rate/s",
      "highest rate tried",
    ],
    targets.map((t) => [t, clean(t) || "none", ok(t) || "none", tested(t)]),
  ));

  const ratio = (a: number, b: number) => (a > 0 && b > 0 ? (a / b).toFixed(2) : "-");
  const tandems = targets.filter((t) => t.startsWith("tandem"));
  if (tandems.length > 0) {
    out.push("\n### Tandem against the references (same run)\n");
    const rows: (string | number)[][] = [];
    for (const t of tandems) {
      // CPU per call compared at the highest rate both ran cleanly (or, failing that, both ran).
      const common = (other: string) => {
        for (const cleanOnly of [true, false]) {
          const rates = r.steps.filter((s) => s.target === t && (s.clean || !cleanOnly))
            .map((s) => s.rate)
            .filter((rate) =>
              r.steps.some((o) => o.target === other && o.rate === rate && (o.clean || !cleanOnly))
            );
          if (rates.length) return Math.max(...rates);
        }
        return 0;
      };
      const kr = common("kamailio");
      rows.push([
        t,
        ratio(clean(t), clean("sipp")),
        ratio(clean(t), clean("kamailio")),
        kr ? `${dash(cpuAt(t, kr), 3)} / ${dash(cpuAt("kamailio", kr), 3)} at ${kr}/s` : "-",
        kr ? ratio(cpuAt(t, kr) ?? 0, cpuAt("kamailio", kr) ?? 0) : "-",
      ]);
    }
    out.push(table(
      [
        "target",
        "clean rate ÷ SIPp↔SIPp",
        "clean rate ÷ Kamailio",
        "CPU ms/call Tandem / Kamailio",
        "CPU per call ÷ Kamailio",
      ],
      rows,
    ));
    if (tandems.length === 2) {
      out.push(
        `\nBun ÷ Deno clean rate: ${ratio(clean("tandem-bun"), clean("tandem-deno"))}; ` +
          `CPU per call Bun ÷ Deno at the rates both ran: ` +
          r.steps.filter((s) => s.target === "tandem-bun").map((s) => {
            const d = cpuAt("tandem-deno", s.rate);
            return d ? `${s.rate}/s ${ratio(s.cpuMsPerCall ?? 0, d)}` : null;
          }).filter(Boolean).join(", "),
      );
    }
  }

  if (targets.includes("tandem-bun")) {
    out.push("\n### The targets (the shipped binary, this run)\n");
    out.push(table(
      ["target", "measured", "met"],
      targetVerdicts(r.steps, r.memory).map((v) => [
        v.target,
        v.measured,
        v.met === null ? "not measured" : v.met ? "yes" : "no",
      ]),
    ));
  }
  const cores = Number(r.machine?.cores ?? 0);
  const cal = [
    ...calibrationLines(calibrate(r.steps)),
    ...budgetLines(cpuBudget(r.steps, cores), cores),
  ];
  if (cal.length) {
    out.push("\n### This box against the box of the reference figures\n");
    out.push(cal.join("\n"));
  }

  if (r.memory.length > 0) {
    out.push("\n### Memory per concurrent call\n");
    out.push(table(
      [
        "target",
        "calls held (peak active)",
        "set-up rate/s",
        "RSS base → peak MB",
        "RSS KB/call",
        "heap base → peak MB",
        "heap KB/call",
        "settled RSS / heap MB",
        "settled RSS / heap KB/call",
        "setup s",
        "teardown s",
        "after: RSS / heap MB",
        "CPU ms/call",
        "ok / failed",
        "retrans uac+uas",
      ],
      r.memory.map((m) => [
        m.target,
        `${m.calls} (${m.peakActive})`,
        m.rate,
        `${m.baseRssMB} → ${m.peakRssMB}`,
        dash(m.rssPerCallKB),
        `${m.baseHeapMB} → ${m.peakHeapMB}`,
        dash(m.heapPerCallKB),
        m.settledRssMB === null ? "-" : `${m.settledRssMB} / ${m.settledHeapMB}`,
        m.settledRssPerCallKB === null
          ? "-"
          : `${m.settledRssPerCallKB} / ${m.settledHeapPerCallKB}`,
        dash(m.setupS),
        dash(m.teardownS),
        `${m.afterRssMB} / ${m.afterHeapMB}`,
        dash(m.cpuMsPerCall, 3),
        `${m.succeeded} / ${m.failed}`,
        `${m.retransUac}+${m.retransUas}` + (m.note ? ` (${m.note})` : ""),
      ]),
    ));
  }

  if (r.soak?.length) {
    out.push("\n### Soak: what a long run leaves behind\n");
    const mib = (b: number, digits: number) => (b / 1048576).toFixed(digits);
    const rest = (x: SoakResult["before"]) =>
      `${x.calls} / ${x.transactions} / ${x.legs} / ${x.timers}`;
    out.push(table(
      [
        "target",
        "rate/s × s",
        "ok / attempted",
        "failed (shed)",
        "retrans uac+uas",
        "CPU ms/call",
        "at rest before → after: calls / transactions / legs / timers",
        "live heap fresh, before → after MB",
        "RSS fresh, before → peak → after MB",
        "verdict",
      ],
      r.soak.map((x) => [
        x.target,
        `${x.rate} × ${x.seconds}`,
        `${x.succeeded} / ${x.attempted}`,
        `${x.failed} (${x.shed})`,
        `${x.retransUac}+${x.retransUas}`,
        dash(x.cpuMsPerCall, 3),
        `${rest(x.before)} → ${rest(x.after)}`,
        `${mib(x.fresh.heapBytes, 1)}, ${mib(x.before.heapBytes, 1)} → ${
          mib(x.after.heapBytes, 1)
        }`,
        `${mib(x.fresh.rssBytes, 0)}, ${mib(x.before.rssBytes, 0)} → ${x.peakRssMB.toFixed(0)} → ` +
        `${mib(x.after.rssBytes, 0)}`,
        `${x.verdict.leak ? "**leak suspected**" : "no leak"}: ${x.verdict.reason}`,
      ]),
    ));
  }

  for (const [name, p] of Object.entries(r.profiles)) {
    out.push(
      `\n### CPU profile: ${name} at ${p.rate}/s\n\n${p.how}. ` +
        `Profile span ${p.totalMs} ms, idle ${p.idlePct} %; GC ${p.gcPct} % of busy time. ` +
        `Percentages are self time, of busy (non-idle) samples.\n`,
    );
    out.push(
      table(
        ["function (file:line)", "self %", "self ms"],
        p.functions.slice(0, 20).map((f) => [
          "`" + f.name + "`",
          f.selfPct,
          f.selfMs,
        ]),
      ),
    );
    out.push("");
    out.push(
      table(
        ["file", "self %", "self ms"],
        p.files.slice(0, 12).map((f) => ["`" + f.name + "`", f.selfPct, f.selfMs]),
      ),
    );
  }
  for (const [name, p] of Object.entries(r.jscProfiles ?? {})) {
    out.push(
      `\n### JavaScript thread, native time included: ${name} at ${p.rate}/s\n\n${p.how}. ` +
        `${p.samples} samples: JIT code ${p.jitPct} %, native code ${p.nativePct} %, kernel ` +
        `${p.kernelPct} %; ${p.noJsPct} % with no JavaScript on the stack (event loop, socket ` +
        `reads, collector). Each row: the innermost JavaScript function and whatever native or ` +
        `kernel code it called, % of the thread.\n`,
    );
    out.push(
      table(
        ["function", "%", "in JIT code", "in native code", "in the kernel"],
        p.functions.slice(0, 25).map((f) => [
          "`" + f.name + "`",
          f.pct,
          f.jit,
          f.native,
          f.kernel,
        ]),
      ),
    );
    out.push("");
    out.push(
      table(
        ["function (inclusive)", "%"],
        p.inclusive.slice(0, 15).map((f) => ["`" + f.name + "`", f.pct]),
      ),
    );
  }
  if (r.errors.length) out.push(`\n### Errors\n\n${r.errors.map((e) => `- ${e}`).join("\n")}`);
  return out.join("\n");
}

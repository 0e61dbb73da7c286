// A CPU profile of Tandem's JavaScript thread under Bun that charges native time to the
// JavaScript function that caused it. Bun's own --cpu-prof samples JavaScriptCore's stack and
// misplaces time spent in the runtime's C++ (JSON, string building, typed arrays, sockets); perf
// sees that time but not whose it is, since the Bun binary has no symbols and JIT code has no
// names. JavaScriptCore's `dump*Disassembly` options print, for every function it compiles, the
// address ranges of the code; with those, each perf sample's call stack (frame pointers, which
// JIT code keeps) is walked up to the innermost JavaScript function, and the sample — JIT code,
// native code or kernel — is charged to it.

/** Address ranges of compiled JavaScript functions, the latest compile winning. */
export class JitMap {
  // Ranges bucketed by 4 KiB page, in the order compiled: code memory is reused after a
  // function is recompiled or collected, and the latest code at an address is the live one.
  private readonly pages = new Map<number, { lo: number; hi: number; name: string }[]>();
  private readonly cache = new Map<number, string | null>();

  /** Build from the process output under BUN_JSC_dumpDFGDisassembly / dumpFTLDisassembly. */
  static fromDisassembly(text: string): JitMap {
    const map = new JitMap();
    let current: string | undefined;
    for (const line of lines(text)) {
      if (line.startsWith("Generated ")) {
        current = functionOf(line);
      }
      if (current === undefined) continue;
      for (const m of line.matchAll(RANGE)) {
        map.add(parseInt(m[1], 16), parseInt(m[2], 16), current);
      }
    }
    return map;
  }

  private add(lo: number, hi: number, name: string): void {
    if (!(hi > lo) || hi - lo > 1 << 22) return;
    for (let p = Math.floor(lo / 4096); p <= Math.floor((hi - 1) / 4096); p++) {
      let list = this.pages.get(p);
      if (!list) this.pages.set(p, list = []);
      list.push({ lo, hi, name });
    }
  }

  /** The function whose code holds `addr`, or undefined. */
  lookup(addr: number): string | undefined {
    const hit = this.cache.get(addr);
    if (hit !== undefined) return hit ?? undefined;
    let found: string | null = null;
    const list = this.pages.get(Math.floor(addr / 4096));
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i].lo <= addr && addr < list[i].hi) {
          found = list[i].name;
          break;
        }
      }
    }
    this.cache.set(addr, found);
    return found ?? undefined;
  }
}

/** The lines of `text` one at a time (a dump runs to hundreds of megabytes). */
function* lines(text: string): Generator<string> {
  let at = 0;
  while (at < text.length) {
    let nl = text.indexOf("\n", at);
    if (nl < 0) nl = text.length;
    yield text.slice(at, nl);
    at = nl + 1;
  }
}

// "Code at [0xA, 0xB)" (Baseline), "range 0xA...0xB" (DFG, FTL), ": [0xA, 0xB)" (stubs).
const RANGE = /(?:range |\[)0x([0-9a-f]+)(?:\.\.\.|, )0x([0-9a-f]+)/g;

/**
 * "Generated FTL code for parseInner#CiOOVC:[...]" -> "parseInner#CiOOVC"; stubs and thunks
 * ("Generated JIT code for fixup arity: [...]") get a name starting with "(stub)".
 */
function functionOf(line: string): string {
  const m = /^Generated (.*?) code for (.*)$/.exec(line);
  if (!m) return "(stub)";
  const tier = m[1];
  const what = m[2];
  if (!/Baseline|DFG|FTL/.test(tier)) return `(stub) ${what.replace(/:? *\[0x.*$/, "")}`;
  const name = what.replace(/:\[.*$/, "").replace(/,.*$/, "");
  return name.startsWith("#") ? `(anonymous)${name}` : name;
}

/** One perf sample: its frames from the innermost out. */
export interface Frame {
  ip: number;
  where: "kernel" | "jit" | "native";
}

/**
 * Samples of thread `tid` from `perf script -F tid,ip,dso` output. JIT code shows as the
 * process's perf map (absent), `[JIT]` or `[unknown]`; the kernel as `[kernel.kallsyms]`.
 */
export function parsePerfScript(text: string, tid: number): Frame[][] {
  const out: Frame[][] = [];
  let frames: Frame[] | undefined;
  for (const line of lines(text)) {
    if (line.length === 0) continue;
    if (line[0] !== "\t") {
      frames = Number(line.trim()) === tid ? [] : undefined;
      if (frames) out.push(frames);
      continue;
    }
    if (!frames) continue;
    const m = /^\s*([0-9a-f]+) \((.*)\)\s*$/.exec(line);
    if (!m) continue;
    const dso = m[2];
    const where = dso.includes("kernel")
      ? "kernel"
      : /perf-\d+\.map|\[JIT\]|\[unknown\]/.test(dso)
      ? "jit"
      : "native";
    // perf prints BigInt-sized kernel addresses; JavaScript numbers hold user addresses exactly.
    frames.push({ ip: where === "kernel" ? 0 : parseInt(m[1], 16), where });
  }
  return out;
}

export interface JscRow {
  name: string;
  /** Share of the thread's samples, %. */
  pct: number;
  /** Of which in JIT code, native code and the kernel, %. */
  jit: number;
  native: number;
  kernel: number;
}

export interface JscProfile {
  samples: number;
  /** Where the thread's samples land, % (innermost frame). */
  jitPct: number;
  nativePct: number;
  kernelPct: number;
  /** Samples with no named JavaScript frame on the stack (event loop, I/O, collector), %. */
  noJsPct: number;
  /** Innermost named JavaScript function, with everything it called that is not JavaScript. */
  functions: JscRow[];
  /** Every named function on the stack (inclusive time), %. */
  inclusive: { name: string; pct: number }[];
}

const round = (x: number) => Math.round(x * 10) / 10;

/** Charge each sample to the innermost named JavaScript function on its stack. */
export function attribute(samples: Frame[][], map: JitMap, top = 30): JscProfile {
  const self = new Map<string, { n: number; jit: number; native: number; kernel: number }>();
  const incl = new Map<string, number>();
  const where = { jit: 0, native: 0, kernel: 0 };
  let noJs = 0;
  for (const frames of samples) {
    if (frames.length === 0) continue;
    where[frames[0].where]++;
    let owner: string | undefined;
    const seen = new Set<string>();
    for (const f of frames) {
      if (f.where !== "jit") continue;
      const name = map.lookup(f.ip);
      if (name === undefined || name.startsWith("(stub)")) continue;
      owner ??= name;
      if (!seen.has(name)) {
        seen.add(name);
        incl.set(name, (incl.get(name) ?? 0) + 1);
      }
    }
    if (owner === undefined) {
      noJs++;
      continue;
    }
    let row = self.get(owner);
    if (!row) self.set(owner, row = { n: 0, jit: 0, native: 0, kernel: 0 });
    row.n++;
    row[frames[0].where]++;
  }
  const n = samples.length || 1;
  const pct = (x: number) => round(x * 100 / n);
  return {
    samples: samples.length,
    jitPct: pct(where.jit),
    nativePct: pct(where.native),
    kernelPct: pct(where.kernel),
    noJsPct: pct(noJs),
    functions: [...self].sort((a, b) => b[1].n - a[1].n).slice(0, top).map(([name, r]) => ({
      name,
      pct: pct(r.n),
      jit: pct(r.jit),
      native: pct(r.native),
      kernel: pct(r.kernel),
    })),
    inclusive: [...incl].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, c]) => ({
      name,
      pct: pct(c),
    })),
  };
}

// CPU profiles of Tandem under load. Deno: the V8 inspector's Profiler domain over its
// WebSocket (`deno run --inspect`; Deno 2 has no --cpu-prof flag). Bun: `bun --cpu-prof`, which
// writes a .cpuprofile on exit. Both are Chrome .cpuprofile JSON; `summarize` turns one into
// self-time per function and per file.

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  selfPct: number;
  selfMs: number;
}

export interface ProfileSummary {
  totalMs: number;
  idlePct: number;
  gcPct: number;
  functions: ProfileRow[];
  files: ProfileRow[];
}

function shortUrl(url: string, root: string): string {
  if (!url) return "(native)";
  return url.replace(/^file:\/\//, "").replace(root + "/", "").replace(
    /^.*\/node_modules\//,
    "node_modules/",
  );
}

/** Self time per function and per source file, largest first. */
export function summarize(p: CpuProfile, root: string, top = 25): ProfileSummary {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample; attribute the next delta to this one.
    const dt = p.timeDeltas[i + 1] ?? 0;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  let total = 0;
  let idle = 0;
  let gc = 0;
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    total += us;
    const f = n.callFrame;
    if (f.functionName === "(idle)") {
      idle += us;
      continue;
    }
    if (f.functionName === "(garbage collector)") gc += us;
    const file = shortUrl(f.url, root);
    const key = `${f.functionName || "(anonymous)"} ${file}${f.url ? `:${f.lineNumber + 1}` : ""}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    files.set(file, (files.get(file) ?? 0) + us);
  }
  const busy = total - idle || 1;
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({
      name,
      selfMs: Math.round(us / 1000),
      selfPct: Math.round((1000 * us) / busy) / 10,
    }));
  return {
    totalMs: Math.round(total / 1000),
    idlePct: Math.round((1000 * idle) / (total || 1)) / 10,
    gcPct: Math.round((1000 * gc) / busy) / 10,
    functions: rows(fns),
    files: rows(files),
  };
}

/** A CPU profile session over the V8 inspector of a `deno run --inspect=host:port` process. */
export class InspectorProfiler {
  #ws?: WebSocket;
  #id = 0;
  #pending = new Map<number, (v: unknown) => void>();

  constructor(private host: string) {}

  async connect(): Promise<void> {
    const list = await (await fetch(`http://${this.host}/json/list`)).json();
    const url = list[0]?.webSocketDebuggerUrl;
    if (!url) throw new Error(`no inspector target at ${this.host}`);
    const ws = new WebSocket(url);
    await new Promise<void>((ok, fail) => {
      ws.onopen = () => ok();
      ws.onerror = (e) => fail(new Error(`inspector: ${(e as ErrorEvent).message}`));
    });
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data as string);
      if (msg.id !== undefined) {
        this.#pending.get(msg.id)?.(msg.result ?? msg.error);
        this.#pending.delete(msg.id);
      }
    };
    this.#ws = ws;
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#id;
    return new Promise<T>((ok) => {
      this.#pending.set(id, ok as (v: unknown) => void);
      this.#ws!.send(JSON.stringify({ id, method, params }));
    });
  }

  async start(intervalUs = 500): Promise<void> {
    await this.call("Profiler.enable");
    await this.call("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.call("Profiler.start");
  }

  async stop(): Promise<CpuProfile> {
    const r = await this.call<{ profile: CpuProfile }>("Profiler.stop");
    this.#ws?.close();
    return r.profile;
  }
}

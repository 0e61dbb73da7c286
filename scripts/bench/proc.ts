// Process plumbing for the benchmarks: long-lived children in their own process group, CPU and
// memory read from /proc, UDP port readiness from /proc/net/udp.

/** A child started by the benchmark; `stop` ends its whole process group. */
export interface Child {
  name: string;
  pid: number;
  status: Promise<Deno.CommandStatus>;
  exited: boolean;
  stop(signal?: Deno.Signal, graceMs?: number): Promise<void>;
}

const live = new Set<Child>();
let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = () => {
    for (const c of live) killGroup(c.pid, "SIGKILL");
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
}

/** Signal a process group; a group that is gone already is ignored. */
export function killGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // gone
  }
}

export interface SpawnOptions {
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** File that receives stdout and stderr; null discards them. */
  logFile?: string | null;
}

/** Start `cmd` in its own process group, output to a log file. */
export function spawn(name: string, cmd: string, opts: SpawnOptions): Child {
  installHandlers();
  const proc = new Deno.Command(cmd, {
    args: opts.args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: opts.logFile ? "piped" : "null",
    stderr: opts.logFile ? "piped" : "null",
    detached: true,
  }).spawn();
  if (opts.logFile) {
    const file = Deno.openSync(opts.logFile, { write: true, create: true, append: true });
    const drain = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s) {
        let off = 0;
        while (off < chunk.length) off += file.writeSync(chunk.subarray(off));
      }
    };
    Promise.all([drain(proc.stdout), drain(proc.stderr)]).finally(() => file.close());
  }
  const child: Child = {
    name,
    pid: proc.pid,
    status: proc.status,
    exited: false,
    async stop(signal: Deno.Signal = "SIGTERM", graceMs = 3000) {
      if (!child.exited) {
        killGroup(child.pid, signal);
        const t = setTimeout(() => killGroup(child.pid, "SIGKILL"), graceMs);
        await child.status;
        clearTimeout(t);
      }
      killGroup(child.pid, "SIGKILL"); // stragglers of the group
      live.delete(child);
    },
  };
  proc.status.then(() => {
    child.exited = true;
  });
  live.add(child);
  return child;
}

/** Kill every child still running (end of run, or error). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop("SIGKILL", 500)));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const CLK_TCK = 100; // Linux USER_HZ

/** CPU seconds (user + system) of every process in process group `pgid`. */
export function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
    } catch {
      continue;
    }
    // Fields after the command name, which is in parentheses and may contain spaces.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // f[0] = state (field 3), so field n is f[n - 3]: pgrp = 5, utime = 14, stime = 15.
    if (Number(f[2]) !== pgid) continue;
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / CLK_TCK;
}

/**
 * CPU seconds of each thread of process `pid` so far, by thread id, with the thread's name
 * (`comm`: the runtime names its helpers, e.g. JavaScriptCore's `HeapHelper` and `JITWorker`).
 */
export function threadCpuSeconds(pid: number): Map<number, { comm: string; s: number }> {
  const out = new Map<number, { comm: string; s: number }>();
  let tids: Deno.DirEntry[];
  try {
    tids = [...Deno.readDirSync(`/proc/${pid}/task`)];
  } catch {
    return out;
  }
  for (const e of tids) {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/stat`);
    } catch {
      continue; // the thread ended meanwhile
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.set(Number(e.name), { comm, s: (Number(f[11]) + Number(f[12])) / CLK_TCK });
  }
  return out;
}

/**
 * Memory of every process in group `pgid`, in bytes: proportional set size (Pss) summed, so the
 * shared memory Kamailio's workers all map is counted once; VmRSS when smaps_rollup is absent.
 */
export function groupRssBytes(pgid: number): number {
  let kb = 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) !== pgid) continue;
      let m: RegExpExecArray | null = null;
      try {
        m = /^Pss:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${e.name}/smaps_rollup`));
      } catch {
        m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${e.name}/status`));
      }
      if (m) kb += Number(m[1]);
    } catch {
      continue;
    }
  }
  return kb * 1024;
}

/** Whole-machine CPU: [busy seconds, total seconds] across all cores, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = v[3] + v[4];
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/** True when something listens on UDP `port` on 127.0.0.1 or any address. */
export function udpBound(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  try {
    return Deno.readTextFileSync("/proc/net/udp").split("\n").some((l) => {
      const local = l.trim().split(/\s+/)[1];
      return local === `0100007F:${hex}` || local === `00000000:${hex}`;
    });
  } catch {
    return false;
  }
}

/** Wait until `check` holds or `ms` passes; true when it held. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms: number,
): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}

// Bounded child processes for the build and test scripts: every child runs in its own process
// group, is killed (group-wide) when its phase timeout expires, and is killed on Ctrl-C.

/** What a finished (or killed) child left behind. */
export interface RunResult {
  code: number;
  signal: Deno.Signal | null;
  /** True when the phase timeout fired and the process group was killed. */
  timedOut: boolean;
  /** stdout + stderr interleaved as received, when `capture` was set. */
  output: string;
}

/** How to run one child. */
export interface RunOptions {
  args?: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Kill the whole process group after this many ms. */
  timeoutMs: number;
  /** Copy the child's output to our stdout/stderr while it runs. Default true. */
  tee?: boolean;
  /** Keep the output in `RunResult.output`. Default false. */
  capture?: boolean;
}

const live = new Set<number>();
let sigintInstalled = false;

function installSigint(): void {
  if (sigintInstalled || Deno.build.os === "windows") return;
  sigintInstalled = true;
  // Children run in their own process group, so Ctrl-C does not reach them: forward it.
  const handler = () => {
    for (const pid of live) killGroup(pid, "SIGKILL");
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", handler);
  Deno.addSignalListener("SIGTERM", handler);
}

/** Signal a whole process group, ignoring groups that are already gone. */
export function killGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // The group is gone already. Never fall back to the bare pid: it may have been reused.
  }
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  sink: { writeSync(p: Uint8Array): number } | null,
  chunks: Uint8Array[] | null,
): Promise<void> {
  for await (const chunk of stream) {
    if (sink) {
      let off = 0;
      while (off < chunk.length) off += sink.writeSync(chunk.subarray(off));
    }
    chunks?.push(chunk);
  }
}

/** Run a command to completion (or to its timeout), in its own process group. */
export async function run(cmd: string, opts: RunOptions): Promise<RunResult> {
  installSigint();
  const tee = opts.tee ?? true;
  const chunks: Uint8Array[] | null = opts.capture ? [] : null;
  const child = new Deno.Command(cmd, {
    args: opts.args ?? [],
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  live.add(child.pid);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    console.error(
      `\n[timeout] ${cmd} ${(opts.args ?? []).join(" ")}: killed after ${opts.timeoutMs} ms`,
    );
    killGroup(child.pid, "SIGTERM");
    setTimeout(() => killGroup(child.pid, "SIGKILL"), 3000);
  }, opts.timeoutMs);
  try {
    const [status] = await Promise.all([
      child.status,
      pump(child.stdout, tee ? Deno.stdout : null, chunks),
      pump(child.stderr, tee ? Deno.stderr : null, chunks),
    ]);
    return {
      code: status.code,
      signal: status.signal,
      timedOut,
      output: chunks ? new TextDecoder().decode(concat(chunks)) : "",
    };
  } finally {
    clearTimeout(timer);
    live.delete(child.pid);
    // Leave nothing behind from this group (daemons a test forgot, a hung grandchild...).
    killGroup(child.pid, "SIGKILL");
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Absolute path of `name` on PATH (plus the sbin folders), or undefined. */
export function which(name: string): string | undefined {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  for (const extra of ["/usr/local/sbin", "/usr/sbin", "/sbin"]) {
    if (!dirs.includes(extra)) dirs.push(extra);
  }
  for (const dir of dirs) {
    const path = `${dir}/${name}`;
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Absolute path of the repository root (the parent of `scripts/`). */
export const repoRoot: string = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

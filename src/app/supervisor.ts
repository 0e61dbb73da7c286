// Worker 0's side of a cluster (see cluster.ts): start workers 1..N-1, hand every worker the
// link ports of the others, ask them things for the HTTP API, pass signals on, and restart a
// worker that died (its calls are gone, its CDR journal is on disk and drains on restart).

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import type { Logger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import {
  ENV_WORKER,
  ENV_WORKER_TOKEN,
  type FromWorker,
  tokenToHex,
  type ToWorker,
} from "./cluster.ts";

const mRestarts = metrics.counter(
  "tandem_worker_restarts_total",
  "SIP worker processes restarted after they exited unexpectedly.",
);
const mUp = metrics.gauge("tandem_workers_up", "SIP worker processes up (worker 0 included).");

/** How long a worker may take from spawn to listening. */
const START_TIMEOUT_MS = 30_000;
/** Pause before restarting a worker that died (a crash loop must not spin). */
const RESTART_DELAY_MS = 1000;

/** The command that runs this same Tandem again, with the same arguments. */
export function selfCommand(): { file: string; args: string[] } {
  const argv = process.argv;
  const deno = (globalThis as { Deno?: { mainModule: string } }).Deno;
  if (deno) {
    // Deno: same script; the repo's deno.json carries the unstable "net" flag and imports.
    const config = new URL("../../deno.json", import.meta.url);
    return {
      file: process.execPath,
      args: ["run", "-A", `--config=${config.pathname}`, deno.mainModule, ...argv.slice(2)],
    };
  }
  // A Bun-compiled binary reports its embedded entry as /$bunfs/...: the binary is the command.
  if (argv[1]?.startsWith("/$bunfs/") || argv[1]?.startsWith("B:/~BUN/")) {
    return { file: process.execPath, args: argv.slice(2) };
  }
  return { file: process.execPath, args: argv.slice(1) };
}

interface Worker {
  index: number;
  proc?: ChildProcess;
  port?: number;
  started: boolean;
  onStarted?: (err?: Error) => void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Options of a {@link Supervisor}. */
export interface SupervisorOptions {
  count: number;
  token: Uint8Array;
  /** Worker 0's own link port. */
  linkPort: number;
  /** Worker 0's link learns the others' ports here. */
  onPeers(ports: (number | undefined)[]): void;
  log: Logger;
  /** Override the command (tests). */
  command?: { file: string; args: string[] };
}

/** Runs and talks to workers 1..count-1. */
export class Supervisor {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set once the cluster is stopping: a worker exiting is then expected, not restarted. */
  private stopping = false;
  private exitWaiters: (() => void)[] = [];

  constructor(private readonly opts: SupervisorOptions) {
    for (let i = 1; i < opts.count; i++) this.workers.push({ index: i, started: false });
    metrics.onCollect(() => mUp.set(1 + this.workers.filter((w) => w.started).length));
  }

  /** Spawn every worker and wait until all listen; throws (after killing them) if one fails. */
  async start(): Promise<void> {
    try {
      await Promise.all(this.workers.map((w) => this.spawn(w)));
    } catch (e) {
      this.stopping = true;
      for (const w of this.workers) w.proc?.kill("SIGKILL");
      throw e;
    }
  }

  private spawn(w: Worker): Promise<void> {
    const cmd = this.opts.command ?? selfCommand();
    const log = this.opts.log;
    const proc = spawn(cmd.file, cmd.args, {
      env: {
        ...process.env,
        [ENV_WORKER]: `${w.index}/${this.opts.count}`,
        [ENV_WORKER_TOKEN]: tokenToHex(this.opts.token),
      },
      // Same process group (a service manager stops them all; the bench measures them all):
      // a Ctrl-C or a group SIGTERM reaches every worker directly, so what worker 0 passes on
      // goes over IPC and is idempotent (drain twice = drain once).
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    w.proc = proc;
    w.port = undefined;
    w.started = false;
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker ${w.index} did not start within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      w.onStarted = (err) => {
        clearTimeout(timer);
        w.onStarted = undefined;
        err ? reject(err) : resolve();
      };
    });
    proc.on("message", (m: FromWorker) => this.onMessage(w, m));
    proc.on("error", (err) => w.onStarted?.(err));
    proc.on("exit", (code, signal) => {
      if (w.proc !== proc) return;
      w.proc = undefined;
      const was = w.started;
      w.started = false;
      w.port = undefined;
      w.onStarted?.(new Error(`worker ${w.index} exited (${signal ?? code}) while starting`));
      this.broadcastPeers();
      if (this.stopping) {
        log.info("worker-exited", { worker: w.index, code, signal });
        if (this.workers.every((x) => !x.proc)) this.exitWaiters.splice(0).forEach((f) => f());
        return;
      }
      // One that failed while starting is reported by whoever awaits its start.
      if (was) {
        log.error("worker-exited", {
          worker: w.index,
          code,
          signal,
          restartInMs: RESTART_DELAY_MS,
        });
        this.restart(w);
      }
    });
    return started;
  }

  /** Start `w` again after a pause, and again after each failed try, until stopping. */
  private restart(w: Worker): void {
    mRestarts.inc();
    setTimeout(() => {
      if (this.stopping) return;
      this.spawn(w).then(
        () => this.opts.log.info("worker-restarted", { worker: w.index }),
        (err) => {
          this.opts.log.error("worker-restart-failed", { worker: w.index, err });
          w.proc?.kill("SIGKILL");
          this.restart(w);
        },
      );
    }, RESTART_DELAY_MS);
  }

  private onMessage(w: Worker, m: FromWorker): void {
    switch (m.t) {
      case "link":
        w.port = m.port;
        // Every worker needs the whole table before it binds the SIP ports.
        if (this.workers.every((x) => x.port !== undefined)) this.broadcastPeers();
        else if (this.workers.some((x) => x.started)) this.send(w, this.peersMessage());
        break;
      case "started":
        w.started = true;
        w.onStarted?.();
        this.broadcastPeers();
        break;
      case "failed":
        w.onStarted?.(new Error(`worker ${w.index}: ${m.error}`));
        break;
      case "reply": {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        m.ok ? p.resolve(m.value) : p.reject(new Error(m.error));
        break;
      }
    }
  }

  private peersMessage(): Extract<ToWorker, { t: "peers" }> {
    return {
      t: "peers",
      ports: [this.opts.linkPort, ...this.workers.map((w) => w.port ?? null)],
    };
  }

  /** The link table, to every worker that has a link and to worker 0's own link. */
  private broadcastPeers(): void {
    const msg = this.peersMessage();
    for (const w of this.workers) if (w.port !== undefined) this.send(w, msg);
    this.opts.onPeers(msg.ports.map((p) => p ?? undefined));
  }

  private send(w: Worker, msg: ToWorker): boolean {
    const p = w.proc;
    if (!p?.connected) return false;
    try {
      return p.send(msg);
    } catch {
      return false;
    }
  }

  /** Ask worker `index` (1..count-1) to run `op`; rejects when it is down or slow. */
  call<T>(index: number, op: string, args: unknown[] = [], timeoutMs = 2000): Promise<T> {
    const w = this.workers[index - 1];
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${index} did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      if (!w?.started || !this.send(w, { t: "rpc", id, op, args })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`worker ${index} is not running`));
      }
    });
  }

  /** Ask every worker; one result per worker, in order, whether it answered or not. */
  callAll<T>(op: string, args: unknown[] = []): Promise<PromiseSettledResult<T>[]> {
    return Promise.allSettled(this.workers.map((w) => this.call<T>(w.index, op, args)));
  }

  /** The cluster is shutting down: workers exiting from now on are not restarted. */
  beginStop(): void {
    this.stopping = true;
  }

  /** Every worker drains (stops taking calls, exits when its calls are over). */
  drainAll(deadlineMs?: number): void {
    this.stopping = true;
    this.callAll("drain", [deadlineMs ?? null]).catch(() => {});
  }

  /** Every worker exits now (its CDR journal is flushed; live calls are lost). */
  exitAll(): void {
    this.stopping = true;
    this.callAll("exit").catch(() => {});
  }

  /** Resolve once every worker has exited; SIGKILL those still up after `timeoutMs`. */
  stopped(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.workers.every((w) => !w.proc)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const w of this.workers) w.proc?.kill("SIGKILL");
      }, timeoutMs);
      this.exitWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Workers 1..count-1 that are up. */
  get running(): number {
    return this.workers.filter((w) => w.started).length;
  }
}

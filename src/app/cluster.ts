// Several SIP workers on one box (`sip.workers`): one JavaScript thread tops out near one core,
// so a box with more cores runs one worker process per core. Worker 0 is the process the
// operator started: it serves HTTP and supervises workers 1..N-1, which run the same executable
// with the same arguments and find their role in the environment. Every worker binds the same
// UDP ports and holds the calls whose Call-ID hashes to it (src/sip/call-id-hash.ts); datagrams
// that reach the wrong worker travel over the loopback link (src/transport/worker-link.ts).
//
// Control between processes goes over Node-style IPC (child_process 'ipc'), which Bun, Deno and
// Node all provide: the link-port handshake, then requests from the HTTP API (calls, drop,
// metrics, drain, reload) answered by each worker for its own calls.

import * as path from "node:path";
import type { CallLimits, Config } from "../config/types.ts";
import { LINK_TOKEN_BYTES } from "../transport/mod.ts";

/** Environment variables that make a process a worker (set by the supervisor only). */
export const ENV_WORKER = "TANDEM_WORKER";
export const ENV_WORKER_TOKEN = "TANDEM_WORKER_TOKEN";

/** Which worker this process is. */
export interface WorkerRole {
  index: number;
  count: number;
  /** The link token of this cluster (see WorkerLink). */
  token: Uint8Array;
}

/** A fresh link token for a new cluster. */
export function newLinkToken(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(LINK_TOKEN_BYTES));
}

export function tokenToHex(t: Uint8Array): string {
  return Array.from(t, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The role given in the environment; undefined in the process the operator started. */
export function workerRoleFromEnv(env: Record<string, string | undefined>): WorkerRole | undefined {
  const w = env[ENV_WORKER];
  if (w === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(w);
  const hex = env[ENV_WORKER_TOKEN] ?? "";
  if (!m || !/^[0-9a-f]+$/.test(hex) || hex.length !== LINK_TOKEN_BYTES * 2) {
    throw new Error(`${ENV_WORKER}=${w}: not a worker role this Tandem set`);
  }
  const index = Number(m[1]), count = Number(m[2]);
  if (index < 1 || index >= count) throw new Error(`${ENV_WORKER}=${w}: index out of range`);
  const token = new Uint8Array(LINK_TOKEN_BYTES);
  for (let i = 0; i < token.length; i++) token[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return { index, count, token };
}

/** `cdr.csv` → `cdr.w2.csv`: one file per worker, since each worker's sink owns its file. */
export function workerFilePath(p: string, index: number): string {
  const ext = path.extname(p);
  return `${p.slice(0, p.length - ext.length)}.w${index}${ext}`;
}

/** `x` with its call limits divided among `count` workers (rounded up). */
function withShare<T extends { limits?: CallLimits }>(x: T, count: number): T {
  const l = x.limits;
  if (!l) return x;
  const share: CallLimits = {};
  if (l.maxCalls !== undefined) share.maxCalls = Math.ceil(l.maxCalls / count);
  if (l.maxCps !== undefined) share.maxCps = Math.ceil(l.maxCps / count);
  return { ...x, limits: share };
}

/**
 * The configuration worker `index` of `count` runs with. Every worker: its share of
 * `limits.max_calls`, of `limits.per_source.max_requests` and of every rule's and route's
 * `limits` (the Call-ID hash spreads calls evenly, so the shares add up to the limit).
 * Workers other than 0: no HTTP (worker 0 answers for all) and their own CDR journal and CDR
 * file (a journal and a file sink each assume one writer).
 */
export function workerConfig(cfg: Config, index: number, count: number): Config {
  if (count <= 1) return cfg;
  const out: Config = {
    ...cfg,
    limits: {
      ...cfg.limits,
      maxCalls: Math.ceil(cfg.limits.maxCalls / count),
      // New requests spread over the workers by Call-ID, so each sees its share of a source's.
      ...(cfg.limits.perSource
        ? {
          perSource: {
            ...cfg.limits.perSource,
            maxRequests: Math.ceil(cfg.limits.perSource.maxRequests / count),
          },
        }
        : {}),
    },
    rules: cfg.rules.map((rule) => ({
      ...withShare(rule, count),
      routes: rule.routes.map((r) => withShare(r, count)),
    })),
    ...(cfg.routes ? { routes: cfg.routes.map((r) => withShare(r, count)) } : {}),
  };
  if (index === 0) return out;
  delete out.http;
  if (cfg.cdr) {
    out.cdr = {
      ...cfg.cdr,
      dir: path.join(cfg.cdr.dir, `worker-${index}`),
      file: cfg.cdr.file && { ...cfg.cdr.file, path: workerFilePath(cfg.cdr.file.path, index) },
    };
    if (!out.cdr.file) delete out.cdr.file;
  }
  return out;
}

/** Messages from the supervisor to a worker. */
export type ToWorker =
  | { t: "peers"; ports: (number | null)[] }
  | { t: "rpc"; id: number; op: string; args: unknown[] };

/** Messages from a worker to the supervisor. */
export type FromWorker =
  | { t: "link"; port: number }
  | { t: "started" }
  | { t: "failed"; error: string }
  | { t: "reply"; id: number; ok: true; value: unknown }
  | { t: "reply"; id: number; ok: false; error: string };

// The answered-call ledger: what a crash would otherwise take from billing. A CDR is written
// when a call ends, so a process that dies (kill -9, out of memory, a worker lost, a power cut)
// takes with it every call that was up. Each answered call is written here as it is answered,
// each end as it ends, and a checkpoint line every interval; the next start finds the calls
// answered and never ended and bills each up to the last sign of life (the latest checkpoint
// or end written): never past the crash, short of it by at most one interval.
//
// Files `live-<seq>.jsonl`, one line per event, handed to the kernel at once (one write(2), like
// the CDR journal) and fsynced at each checkpoint. A file past its size limit stops taking new
// calls; it takes the ends of the calls it holds, and is deleted when the last has ended. So no
// file is ever rewritten and nothing per call is kept in memory but which file holds it.

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { type Logger, silentLogger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import { CdrJournalError } from "./errors.ts";
import { type CdrRecord, withDurations } from "./record.ts";

const mFailed = metrics.counter(
  "tandem_cdr_ledger_write_failures_total",
  "Answered-call ledger lines that could not be written (those calls are not recovered after a crash)",
);

/** What is known of a call when it is answered: its CDR but for the end. */
export type AnsweredCall =
  & Omit<
    CdrRecord,
    | "disconnectAt"
    | "durationMs"
    | "billableMs"
    | "finalCode"
    | "q850"
    | "reason"
    | "endedBy"
    | "endReason"
    | "media"
  >
  & { connectAt: number };

/** Q.850 41, Temporary failure: the cause an interrupted call is recorded with. */
export const INTERRUPTED_Q850 = 41;

/** The CDR of a call that was up when Tandem stopped: billed to `lastAlive`, ended by Tandem. */
export function interruptedCdr(call: AnsweredCall, lastAlive: number): CdrRecord {
  return withDurations({
    ...call,
    disconnectAt: Math.max(call.connectAt, lastAlive),
    finalCode: 200,
    q850: INTERRUPTED_Q850,
    endedBy: "tandem",
    endReason: "interrupted",
  });
}

/** What {@link LiveCallLedger.open} found of an earlier run. */
export interface LedgerRecovery {
  /** Calls answered and never ended, each as its CDR (end reason `interrupted`). */
  interrupted: CdrRecord[];
  /** The last sign of life of the earlier run (epoch ms); 0 when there was none. */
  lastAlive: number;
  /** Lines that could not be read (a torn last line). */
  badLines: number;
}

/** Options of {@link LiveCallLedger.open}. */
export interface LedgerOptions {
  /** How often a checkpoint is written and the files fsynced (ms). */
  checkpoint: number;
  /** A file stops taking new calls past this size (bytes). Default 64 MiB. */
  rotateBytes?: number;
  log?: Logger;
  /** Wall clock (epoch ms); tests pass their own. */
  now?: () => number;
  /**
   * Resolves once the CDRs handed to the journal so far are durable (the journal's flush): a
   * checkpoint fsyncs the ledger only after it.
   */
  beforeSync?: () => Promise<void>;
}

const NAME = /^live-(\d+)\.jsonl$/;
const fileName = (seq: number) => `live-${String(seq).padStart(8, "0")}.jsonl`;

/** One ledger file and the calls in it still up. */
interface Generation {
  seq: number;
  fd: number;
  bytes: number;
  open: number;
  /** Lines written since the last fsync. */
  dirty: boolean;
}

/** The calls an earlier run's lines leave open, and its last sign of life. */
function readLedger(
  texts: string[],
): { open: AnsweredCall[]; lastAlive: number; badLines: number } {
  const open = new Map<string, AnsweredCall>();
  let lastAlive = 0;
  let badLines = 0;
  for (const text of texts) {
    for (const line of text.split("\n")) {
      if (!line) continue;
      let v: { o?: AnsweredCall; c?: string; t?: number };
      try {
        v = JSON.parse(line);
      } catch {
        badLines++;
        continue;
      }
      if (v.o && typeof v.o.id === "string" && typeof v.o.connectAt === "number") {
        open.set(v.o.id, v.o);
        lastAlive = Math.max(lastAlive, v.o.connectAt);
      } else if (typeof v.c === "string") open.delete(v.c);
      if (typeof v.t === "number") lastAlive = Math.max(lastAlive, v.t);
    }
  }
  return { open: [...open.values()], lastAlive, badLines };
}

/**
 * The answered-call ledger of one CDR directory (one writer: each SIP worker has its own
 * directory). `answered` and `ended` never wait and never throw: a line that cannot be written
 * is logged and counted, and only that call's crash recovery is lost.
 */
export class LiveCallLedger {
  private readonly gens = new Map<number, Generation>();
  /** Which file holds each call still up (by CDR id). */
  private readonly where = new Map<string, number>();
  private current!: Generation;
  /** Files whose calls are all billed, deleted by {@link forget} or at the next checkpoint. */
  private done: string[] = [];
  /** The earlier run's files: deleted only by {@link forget}, once its CDRs are durable. */
  private earlier: string[] = [];
  private timer?: ReturnType<typeof setInterval>;
  private syncing?: Promise<void>;
  private closed = false;
  private readonly rotateBytes: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly beforeSync: () => Promise<void>;

  private constructor(readonly dir: string, opts: LedgerOptions) {
    this.rotateBytes = opts.rotateBytes ?? 64 * 1024 * 1024;
    this.log = opts.log ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.beforeSync = opts.beforeSync ?? (() => Promise.resolve());
  }

  /**
   * Opens the ledger in `dir` (creating it) and reads what an earlier run left: its calls
   * still open come back as CDRs to write. Its files stay until {@link forget}, so a crash
   * before those CDRs are durable finds them again.
   */
  static async open(
    dir: string,
    opts: LedgerOptions,
  ): Promise<{ ledger: LiveCallLedger; recovery: LedgerRecovery }> {
    const l = new LiveCallLedger(dir, opts);
    let found: ReturnType<typeof readLedger>;
    try {
      await fsp.mkdir(dir, { recursive: true });
      const seqs = (await fsp.readdir(dir)).map((n) => NAME.exec(n)).filter((m) => m !== null)
        .map((m) => Number(m![1])).sort((a, b) => a - b);
      l.earlier = seqs.map((s) => path.join(dir, fileName(s)));
      found = readLedger(await Promise.all(l.earlier.map((f) => fsp.readFile(f, "utf8"))));
      l.current = l.openGeneration((seqs.at(-1) ?? 0) + 1);
    } catch (e) {
      throw new CdrJournalError(
        `cannot open the answered-call ledger in ${dir}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (found.badLines) l.log.warn("cdr.ledger_bad_lines", { dir, lines: found.badLines });
    l.timer = setInterval(() => l.checkpoint(), opts.checkpoint);
    (l.timer as { unref?: () => void }).unref?.();
    l.checkpoint();
    return {
      ledger: l,
      recovery: {
        interrupted: found.open.map((c) => interruptedCdr(c, found.lastAlive)),
        lastAlive: found.lastAlive,
        badLines: found.badLines,
      },
    };
  }

  /** Calls up now (answered, not ended). */
  get size(): number {
    return this.where.size;
  }

  /** Records an answered call. */
  answered(call: AnsweredCall): void {
    if (this.closed || this.where.has(call.id)) return;
    const g = this.current;
    if (!this.write(g, JSON.stringify({ o: call }) + "\n")) return;
    g.open++;
    this.where.set(call.id, g.seq);
    if (g.bytes >= this.rotateBytes) this.current = this.openGeneration(g.seq + 1);
  }

  /**
   * Records the end of a call (its CDR id), after its CDR was handed to the journal; an id
   * never answered is ignored.
   */
  ended(id: string): void {
    const seq = this.where.get(id);
    if (seq === undefined) return;
    this.where.delete(id);
    const g = this.gens.get(seq)!;
    this.write(g, `{"c":${JSON.stringify(id)},"t":${this.now()}}\n`);
    g.open--;
    if (g.open === 0 && g !== this.current) this.retire(g);
  }

  /**
   * Stops the ledger and returns the calls still up, each as the CDR of a call interrupted now
   * (Tandem exits with them up): the caller writes them, makes them durable, then calls
   * {@link forget}. Until then the files stay, and a next start would find the same calls
   * under the same CDR ids.
   */
  async close(): Promise<CdrRecord[]> {
    if (this.closed) return [];
    this.closed = true;
    clearInterval(this.timer);
    await this.syncing;
    const now = this.now();
    this.write(this.current, `{"t":${now}}\n`);
    let up: CdrRecord[] = [];
    if (this.where.size) {
      // The answered lines are on disk; read back those still up (an exit without a drain).
      const texts = [...this.gens.values()].map((g) =>
        fs.readFileSync(path.join(this.dir, fileName(g.seq)), "utf8")
      );
      up = readLedger(texts).open.filter((c) => this.where.has(c.id))
        .map((c) => interruptedCdr(c, now));
      this.where.clear();
    }
    for (const g of this.gens.values()) {
      try {
        fs.fsyncSync(g.fd);
      } catch { /* the lines were written; closing anyway */ }
      fs.closeSync(g.fd);
      this.done.push(path.join(this.dir, fileName(g.seq)));
    }
    this.gens.clear();
    return up;
  }

  /**
   * Deletes the files whose calls are billed: the earlier run's (once the CDRs {@link open}
   * returned are durable) and, after {@link close}, this run's (once its CDRs are).
   */
  async forget(): Promise<void> {
    const files = [...this.earlier, ...(this.closed ? this.done : [])];
    this.earlier = [];
    if (this.closed) this.done = [];
    for (const f of files) await fsp.rm(f, { force: true });
  }

  /**
   * Writes a checkpoint; then, once the journal has made the CDRs handed to it so far durable,
   * fsyncs the lines written since the last one and deletes the files whose calls all ended.
   * In that order, so a power cut never leaves an end on disk without its CDR.
   */
  private checkpoint(): void {
    if (this.closed) return;
    this.write(this.current, `{"t":${this.now()}}\n`);
    if (this.syncing) return; // a slow disk: the next checkpoint syncs
    const dirty = [...this.gens.values()].filter((g) => g.dirty);
    const done = this.done;
    if (!dirty.length && !done.length) return;
    for (const g of dirty) g.dirty = false;
    this.done = [];
    this.syncing = this.beforeSync()
      .then(() => Promise.all(dirty.map((g) => this.sync(g))))
      .then(() => Promise.all(done.map((f) => fsp.rm(f, { force: true }))))
      .then(() => {}, (err) => {
        for (const g of dirty) g.dirty = true;
        this.done.push(...done);
        this.log.warn("cdr.ledger_sync_failed", { err });
      })
      .finally(() => this.syncing = undefined);
  }

  private sync(g: Generation): Promise<void> {
    return new Promise((res, rej) => fs.fdatasync(g.fd, (err) => err ? rej(err) : res()));
  }

  private openGeneration(seq: number): Generation {
    const fd = fs.openSync(path.join(this.dir, fileName(seq)), "a");
    const g: Generation = { seq, fd, bytes: 0, open: 0, dirty: false };
    this.gens.set(seq, g);
    const old = this.current;
    if (old && old.open === 0) this.retire(old);
    return g;
  }

  /** A file that takes no new calls and holds none still up: deleted at the next checkpoint. */
  private retire(g: Generation): void {
    this.gens.delete(g.seq);
    try {
      fs.closeSync(g.fd);
    } catch (err) {
      this.log.warn("cdr.ledger_close_failed", { err, seq: g.seq });
    }
    this.done.push(path.join(this.dir, fileName(g.seq)));
  }

  private write(g: Generation, line: string): boolean {
    try {
      g.bytes += fs.writeSync(g.fd, line);
      g.dirty = true;
      return true;
    } catch (err) {
      mFailed.inc();
      this.log.warn("cdr.ledger_write_failed", { err });
      return false;
    }
  }
}

// The CDR journal: append-only JSON-lines files `journal-<seq>.jsonl`, group-committed with
// fsync, rotated by size, read by sinks from their own cursors. append() hands the line to the
// kernel at once (one write(2), no await), so a process crash (kill -9) after the call ended
// loses nothing; fsync makes it survive a power cut too, at the next group commit. A crash can
// leave at most a torn last line, which open() cuts off.

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { Buffer } from "node:buffer";
import { type Logger, silentLogger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import { CdrJournalError } from "./errors.ts";
import type { CdrRecord } from "./record.ts";

const mWritten = metrics.counter("tandem_cdr_written_total", "CDRs written durably to the journal");
const mTorn = metrics.counter(
  "tandem_cdr_journal_torn_total",
  "Torn or unparsable journal lines skipped (crash during a write)",
);

/** A place in the journal: file sequence number and byte offset. */
export interface JournalPosition {
  seq: number;
  offset: number;
}

/** Options of {@link CdrJournal.open}. */
export interface JournalOptions {
  /** `every`: one fsync per flush, started at once; `batched`: group commit. Default batched. */
  fsync?: "every" | "batched";
  /** Group-commit period for `batched` (ms). Default 100. */
  fsyncInterval?: number;
  /** Start a new file past this size (bytes). Default 64 MiB. */
  rotateBytes?: number;
  log?: Logger;
  /**
   * fdatasync(2) of a descriptor. Tests replace it to make a sync fail, a fault a real disk
   * here cannot be made to produce; production leaves the default.
   */
  datasync?: (fd: number) => Promise<void>;
}

/** What {@link CdrJournal.read} returns. */
export interface JournalRead {
  records: CdrRecord[];
  /** Position after the last line consumed (including skipped bad lines). */
  next: JournalPosition;
}

const NAME = /^journal-(\d+)\.jsonl$/;

/** fdatasync(2) of a raw descriptor, without blocking the event loop. */
function datasync(fd: number): Promise<void> {
  return new Promise((res, rej) => fs.fdatasync(fd, (e) => e ? rej(e) : res()));
}
const fileName = (seq: number) => `journal-${String(seq).padStart(8, "0")}.jsonl`;

/** Finds the offset just past the last "\n" of a file (0 if none), reading backwards. */
async function endOfLastLine(fh: fsp.FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(65536);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await fh.read(chunk, 0, end - start, start);
    const i = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (i >= 0) return start + i + 1;
    end = start;
  }
  return 0;
}

/**
 * The write-ahead CDR journal. `append` never blocks the call path: it enqueues, and a flush
 * writes and fsyncs everything queued in one go.
 */
export class CdrJournal {
  /** Torn last lines found (and cut off) by open(). */
  tornLines = 0;
  private fd?: number;
  /** The file appends go to. */
  private activeSeq = 0;
  /** The last file readers may enter: lags activeSeq while a rotated-out file is being synced. */
  private durableSeq = 0;
  /** Bytes of file durableSeq known fsynced: readers stop here. */
  private durableSize = 0;
  /** Records made durable since open (exact lag bookkeeping for readers). */
  private durableCount = 0;
  /** Bytes of the active file handed to the kernel. */
  private written = 0;
  /** Records written but not yet fsynced (for onDurable). */
  private unsynced = 0;
  /** A rotated-out file not yet synced and closed (its sync failed: retried at the next flush). */
  private retiredFd?: number;
  /** The size limit was crossed: the next flush starts a new file. */
  private rotateDue = false;
  /** Lines a failed write(2) left in memory, written first at the next flush. */
  private pending: Buffer[] = [];
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private timer?: ReturnType<typeof setTimeout>;
  /** The retry after a failed batch. */
  private retryTimer?: ReturnType<typeof setTimeout>;
  private scheduled = false;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private listeners = new Set<(count: number) => void>();
  private readonly fsyncMode: "every" | "batched";
  private readonly interval: number;
  private readonly rotateBytes: number;
  private readonly log: Logger;
  private readonly datasync: (fd: number) => Promise<void>;

  private constructor(readonly dir: string, opts: JournalOptions) {
    this.fsyncMode = opts.fsync ?? "batched";
    this.interval = opts.fsyncInterval ?? 100;
    this.rotateBytes = opts.rotateBytes ?? 64 * 1024 * 1024;
    this.log = opts.log ?? silentLogger;
    this.datasync = opts.datasync ?? datasync;
  }

  /** Opens (creating) the journal in `dir`, repairing a torn last line; appends go to a new file. */
  static async open(dir: string, opts: JournalOptions = {}): Promise<CdrJournal> {
    const j = new CdrJournal(dir, opts);
    try {
      await fsp.mkdir(dir, { recursive: true });
      const seqs = await j.seqs();
      const last = seqs.at(-1);
      if (last !== undefined) {
        const file = path.join(dir, fileName(last));
        const fh = await fsp.open(file, "r+");
        try {
          const size = (await fh.stat()).size;
          const keep = await endOfLastLine(fh, size);
          if (keep < size) {
            await fh.truncate(keep);
            await fh.sync();
            j.tornLines++;
            mTorn.inc();
            j.log.warn("cdr.journal_torn_line", { file, offset: keep, bytes: size - keep });
          }
        } finally {
          await fh.close();
        }
      }
      j.activeSeq = j.durableSeq = (last ?? 0) + 1;
      j.fd = fs.openSync(path.join(dir, fileName(j.activeSeq)), "a");
      await j.syncDir();
    } catch (e) {
      throw new CdrJournalError(`cannot open CDR journal in ${dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return j;
  }

  /**
   * Writes a record to the journal file (safe from a process crash when this returns); it
   * becomes durable against a power cut at the next flush (see the fsync policy).
   */
  append(rec: CdrRecord): void {
    if (this.closed) throw new CdrJournalError("append on a closed CDR journal");
    const line = Buffer.from(JSON.stringify(rec) + "\n", "utf8");
    if (this.pending.length || !this.writeLine(line)) this.pending.push(line);
    this.schedule();
  }

  /** Appends and resolves once the record is written and fsynced. */
  appendDurable(rec: CdrRecord): Promise<void> {
    this.append(rec);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Writes and fsyncs everything queued so far. */
  flush(): Promise<void> {
    // Sequenced after the previous batch whatever its outcome: its caller got the error, and a
    // rejected chain would fail every later flush, so the journal would never recover.
    this.chain = this.chain.catch(() => {}).then(() => this.writeBatch());
    return this.chain;
  }

  /** Calls `fn(count)` after each durable write of `count` records; returns an unsubscribe. */
  onDurable(fn: (count: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** End of the durable data: readers never go past it. */
  durableEnd(): JournalPosition {
    return { seq: this.durableSeq, offset: this.durableSize };
  }

  /** Records made durable since open; with durableEnd(), taken in the same tick, a snapshot. */
  get durableTotal(): number {
    return this.durableCount;
  }

  /** Sequence numbers of the journal files present, ascending. */
  async seqs(): Promise<number[]> {
    const names = await fsp.readdir(this.dir);
    return names.map((n) => NAME.exec(n)).filter((m) => m !== null).map((m) => Number(m![1]))
      .sort((a, b) => a - b);
  }

  /** The first position of the journal (oldest file, offset 0). */
  async start(): Promise<JournalPosition> {
    return { seq: (await this.seqs())[0] ?? this.activeSeq, offset: 0 };
  }

  /**
   * Reads up to `max` durable records from `pos`. Unparsable lines are skipped and counted;
   * past the end of a closed file the read moves on to the next file. `until` (default: the
   * durable end when called) bounds the read.
   */
  async read(
    pos: JournalPosition,
    max: number,
    until: JournalPosition = this.durableEnd(),
  ): Promise<JournalRead> {
    const seqs = await this.seqs();
    let { seq, offset } = pos;
    for (;;) {
      if (!seqs.includes(seq)) {
        const next = seqs.find((s) => s > seq);
        if (next === undefined || seq >= until.seq) {
          return { records: [], next: { seq, offset } };
        }
        seq = next;
        offset = 0;
      }
      const file = path.join(this.dir, fileName(seq));
      // Files before until.seq are closed and synced (until.seq only moves on after that).
      const limit = seq >= until.seq ? until.offset : (await fsp.stat(file)).size;
      if (offset >= limit) {
        if (seq >= until.seq) return { records: [], next: { seq, offset } };
        const next = seqs.find((s) => s > seq);
        if (next === undefined) return { records: [], next: { seq, offset } };
        seq = next;
        offset = 0;
        continue;
      }
      const fh = await fsp.open(file, "r");
      try {
        const len = Math.min(limit - offset, 1 << 20);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, offset);
        const records: CdrRecord[] = [];
        let at = 0;
        while (records.length < max) {
          const nl = buf.indexOf(0x0a, at);
          if (nl < 0 || nl >= bytesRead) break;
          const line = buf.subarray(at, nl).toString("utf8");
          at = nl + 1;
          try {
            records.push(JSON.parse(line) as CdrRecord);
          } catch {
            mTorn.inc();
            this.log.warn("cdr.journal_bad_line", { file, offset: offset + at });
          }
        }
        if (at === 0 && seq < until.seq && bytesRead === limit - offset) {
          // A closed file ending without "\n" (not repaired by open): skip the fragment.
          mTorn.inc();
          offset = limit;
          continue;
        }
        return { records, next: { seq, offset: offset + at } };
      } finally {
        await fh.close();
      }
    }
  }

  /** Counts durable records from `pos` to `until` (for the lag gauge). */
  async countFrom(pos: JournalPosition, until = this.durableEnd()): Promise<number> {
    let n = 0;
    let p = pos;
    for (;;) {
      const r = await this.read(p, 10000, until);
      n += r.records.length;
      if (r.next.seq === p.seq && r.next.offset === p.offset) return n;
      p = r.next;
    }
  }

  /**
   * Which of `ids` have a record in the files written to at or after `since` (epoch ms; their
   * modification time). After a power cut, the answered-call ledger may have lost the end of a
   * call whose CDR the journal kept: this tells the two apart. Reads only each line's leading
   * id (a record's first key), without parsing the rest.
   */
  async idsIn(ids: ReadonlySet<string>, since: number): Promise<Set<string>> {
    const found = new Set<string>();
    if (!ids.size) return found;
    for (const seq of await this.seqs()) {
      const file = path.join(this.dir, fileName(seq));
      if ((await fsp.stat(file)).mtimeMs < since) continue;
      const text = await fsp.readFile(file, "utf8");
      for (let at = 0; at < text.length;) {
        const nl = text.indexOf("\n", at);
        const end = nl < 0 ? text.length : nl;
        if (text.startsWith('{"id":"', at)) {
          const close = text.indexOf('"', at + 7);
          if (close > 0 && close < end) {
            const id = text.slice(at + 7, close);
            if (ids.has(id)) found.add(id);
          }
        }
        at = end + 1;
      }
    }
    return found;
  }

  /** Deletes closed journal files with a sequence number below `seq`. */
  async deleteBefore(seq: number): Promise<number[]> {
    const gone: number[] = [];
    for (const s of await this.seqs()) {
      if (s >= seq || s >= this.durableSeq) break;
      await fsp.rm(path.join(this.dir, fileName(s)), { force: true });
      gone.push(s);
    }
    if (gone.length) this.log.info("cdr.journal_deleted", { files: gone });
    return gone;
  }

  /** Flushes what is queued and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.flush();
    this.closed = true;
    if (this.retiredFd !== undefined) fs.closeSync(this.retiredFd);
    this.retiredFd = undefined;
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** One write(2) of a whole line (looping on short writes); false if it failed. */
  private writeLine(line: Buffer): boolean {
    if (this.fd === undefined) return false;
    try {
      let done = 0;
      while (done < line.length) done += fs.writeSync(this.fd, line, done, line.length - done);
    } catch (e) {
      // Disk full or I/O error: cut any partial line off and keep the record in memory.
      try {
        fs.ftruncateSync(this.fd, this.written);
      } catch {
        // the reader skips a torn line
      }
      this.log.error("cdr.journal_write_failed", { dir: this.dir, error: e });
      return false;
    }
    this.written += line.length;
    this.unsynced++;
    if (this.written > this.rotateBytes) this.rotateDue = true;
    return true;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.fsyncMode === "every") {
      queueMicrotask(() => {
        this.scheduled = false;
        this.flush().catch(() => {});
      });
    } else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.scheduled = false;
        this.flush().catch(() => {});
      }, this.interval);
    }
  }

  private async writeBatch(): Promise<void> {
    if (this.fd === undefined) return;
    const waiters = this.waiters;
    this.waiters = [];
    try {
      // Lines a failed write left behind go first, in order.
      while (this.pending.length && this.writeLine(this.pending[0])) this.pending.shift();
      if (this.pending.length) throw new Error("write failed (see cdr.journal_write_failed)");
      if (!this.unsynced && !waiters.length && this.retiredFd === undefined) return;
      if (this.rotateDue && this.retiredFd === undefined) {
        // Switch files synchronously (no append can land in between), fsync the old one below.
        this.retiredFd = this.fd;
        this.fd = fs.openSync(path.join(this.dir, fileName(this.activeSeq + 1)), "a");
        this.activeSeq++;
        this.written = 0;
        this.rotateDue = false;
      }
      const end = this.written;
      // Appends made while this batch syncs count in the next one; a failed sync leaves these
      // counted, for the retry.
      const count = this.unsynced;
      if (this.retiredFd !== undefined) {
        // Kept in a field until synced and closed: a failed sync is retried at the next flush.
        await this.datasync(this.retiredFd);
        fs.closeSync(this.retiredFd);
        this.retiredFd = undefined;
        await this.syncDir();
      }
      if (this.durableSeq !== this.activeSeq) {
        // The rotated-out file is synced: readers may now pass its end into the new one.
        this.durableSeq = this.activeSeq;
        this.durableSize = 0;
      }
      if (end > this.durableSize) await this.datasync(this.fd!);
      this.durableSize = Math.max(this.durableSize, end);
      this.unsynced -= count;
      this.durableCount += count;
      if (count) mWritten.inc(undefined, count);
      for (const w of waiters) w.resolve();
      if (count) { for (const fn of this.listeners) fn(count); }
    } catch (e) {
      // Keep the waiters and retry at the next flush; the records stay in the file or queue.
      this.waiters = [...waiters, ...this.waiters];
      this.log.error("cdr.journal_write_failed", { dir: this.dir, error: e });
      if (!this.closed && this.retryTimer === undefined) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.schedule();
        }, this.interval);
      }
      throw new CdrJournalError(`CDR journal write failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private async syncDir(): Promise<void> {
    try {
      const d = await fsp.open(this.dir, "r");
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch {
      // Some platforms cannot fsync a directory; the file data itself is still synced.
    }
  }
}

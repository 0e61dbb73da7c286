// CDR file sink: JSON lines or CSV (RFC 4180), rotated daily (by the call's disconnect date,
// UTC, so a redelivered record lands in the same file) or by size (`<path>.<n>`).
//
// The pipeline delivers at least once: a crash between this sink's fsync and the cursor save
// hands the same batch over again after the restart. The first batch after start (and any
// batch retried after a failure) is therefore checked against the file's tail, where an
// earlier copy can only be, and records already there are skipped: each CDR is in the file
// exactly once. A torn last line (crash mid-write) is cut off first; its record is redelivered.

import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { Buffer } from "node:buffer";
import { CdrSinkError } from "./errors.ts";
import { csvHeader, csvLine } from "./csv.ts";
import type { CdrRecord } from "./record.ts";

/** Options of {@link FileSink} (CdrConfig.file). */
export interface FileSinkOptions {
  path: string;
  format: "jsonl" | "csv";
  rotate: "daily" | "size";
  /** For `size` rotation. Default 64 MiB. */
  rotateBytes?: number;
  /** Sink name (cursor, metrics). Default "file". */
  name?: string;
}

/** The file of a record under daily rotation: `cdr.csv` → `cdr-2026-11-24.csv`. */
export function dailyPath(base: string, epochMs: number): string {
  const ext = path.extname(base);
  const day = new Date(epochMs).toISOString().slice(0, 10);
  return `${base.slice(0, base.length - ext.length)}-${day}${ext}`;
}

/** Appends CDRs to local files, fsyncing each batch. */
export class FileSink {
  readonly name: string;
  readonly batchSize = 500;
  /** The next batch may repeat records already written (after start or a failed delivery). */
  private suspect = true;

  constructor(private readonly opts: FileSinkOptions) {
    this.name = opts.name ?? "file";
  }

  /** Appends the batch, grouped by target file. */
  async deliver(records: CdrRecord[]): Promise<void> {
    try {
      const groups = new Map<string, CdrRecord[]>();
      for (const r of records) {
        const p = this.opts.rotate === "daily"
          ? dailyPath(this.opts.path, r.disconnectAt)
          : this.opts.path;
        groups.set(p, [...(groups.get(p) ?? []), r]);
      }
      for (const [p, recs] of groups) {
        await this.write(p, this.suspect ? await this.notYetIn(p, recs) : recs);
      }
      this.suspect = false;
    } catch (e) {
      this.suspect = true;
      throw new CdrSinkError(this.name, `cannot write ${this.opts.path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /**
   * The records of `recs` not already at the end of `p`. A redelivered batch was appended
   * last, in the same serialization, so reading back as many bytes as it takes suffices.
   */
  private async notYetIn(p: string, recs: CdrRecord[]): Promise<CdrRecord[]> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(p, "r+");
    } catch {
      return recs; // no file yet
    }
    const seen = new Set<string>();
    try {
      let size = (await fh.stat()).size;
      const want = recs.reduce((n, r) => n + Buffer.byteLength(this.line(r)), 0) + 4096;
      const start = Math.max(0, size - want);
      const buf = Buffer.alloc(size - start);
      const { bytesRead } = await fh.read(buf, 0, buf.length, start);
      const tail = buf.subarray(0, bytesRead);
      const lastNl = tail.lastIndexOf(0x0a);
      if (size > 0 && lastNl !== tail.length - 1) {
        // Torn last line: cut it off (its record comes again in this batch).
        size = lastNl < 0 ? start : start + lastNl + 1;
        await fh.truncate(size);
        await fh.datasync();
      }
      const text = tail.subarray(0, lastNl + 1).toString("utf8");
      const lines = text.split("\n");
      if (start > 0) lines.shift(); // partial first line
      for (const l of lines) {
        const id = this.idOf(l);
        if (id) seen.add(id);
      }
    } finally {
      await fh.close();
    }
    return recs.filter((r) => !seen.has(r.id));
  }

  private line(r: CdrRecord): string {
    return this.opts.format === "csv" ? csvLine(r) : JSON.stringify(r) + "\n";
  }

  /** The CDR id of a written line (JSON `id`, or the first CSV field: a UUID, never quoted). */
  private idOf(l: string): string | undefined {
    if (!l.trim()) return undefined;
    if (this.opts.format === "csv") return l.slice(0, l.indexOf(","));
    try {
      return (JSON.parse(l) as { id?: string }).id;
    } catch {
      return undefined;
    }
  }

  private async write(p: string, recs: CdrRecord[]): Promise<void> {
    if (!recs.length) return;
    await fsp.mkdir(path.dirname(p), { recursive: true });
    const limit = this.opts.rotate === "size"
      ? this.opts.rotateBytes ?? 64 * 1024 * 1024
      : Infinity;
    let size = await fsp.stat(p).then((s) => s.size, () => 0);
    let chunk = "";
    let chunkBytes = 0;
    for (const r of recs) {
      const line = this.line(r);
      const n = Buffer.byteLength(line);
      if (size + chunkBytes > 0 && size + chunkBytes + n > limit) {
        if (chunk) await this.append(p, chunk, size === 0);
        await fsp.rename(p, `${p}.${await this.nextSuffix(p)}`);
        size = 0;
        chunk = "";
        chunkBytes = 0;
      }
      chunk += line;
      chunkBytes += n;
    }
    if (chunk) await this.append(p, chunk, size === 0);
  }

  private async append(p: string, body: string, fresh: boolean): Promise<void> {
    const fh = await fsp.open(p, "a");
    try {
      await fh.write((fresh && this.opts.format === "csv" ? csvHeader() : "") + body);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  private async nextSuffix(p: string): Promise<number> {
    const base = path.basename(p);
    let max = 0;
    for (const n of await fsp.readdir(path.dirname(p))) {
      const m = n.startsWith(base + ".") ? /^\d+$/.exec(n.slice(base.length + 1)) : null;
      if (m) max = Math.max(max, Number(m[0]));
    }
    return max + 1;
  }
}

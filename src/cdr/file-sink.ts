// CDR file sink: JSON lines or CSV (RFC 4180), rotated daily (by the call's disconnect date,
// UTC, so a redelivered record lands in the same file) or by size (`<path>.<n>`).

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
      for (const [p, recs] of groups) await this.write(p, recs);
    } catch (e) {
      throw new CdrSinkError(this.name, `cannot write ${this.opts.path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  private async write(p: string, recs: CdrRecord[]): Promise<void> {
    await fsp.mkdir(path.dirname(p), { recursive: true });
    const limit = this.opts.rotate === "size"
      ? this.opts.rotateBytes ?? 64 * 1024 * 1024
      : Infinity;
    let size = await fsp.stat(p).then((s) => s.size, () => 0);
    let chunk = "";
    let chunkBytes = 0;
    for (const r of recs) {
      const line = this.opts.format === "csv" ? csvLine(r) : JSON.stringify(r) + "\n";
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

// Durable per-sink read cursors for the CDR journal: one small JSON file per sink, replaced
// atomically (write a temp file, fsync, rename) so a crash leaves the old or the new cursor.

import * as fsp from "node:fs/promises";
import * as path from "node:path";
import type { JournalPosition } from "./journal.ts";

function file(dir: string, sink: string): string {
  return path.join(dir, `cursor-${sink.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);
}

/** Loads a sink's cursor; undefined if it has none yet. */
export async function loadCursor(dir: string, sink: string): Promise<JournalPosition | undefined> {
  try {
    const v = JSON.parse(await fsp.readFile(file(dir, sink), "utf8"));
    if (Number.isInteger(v.seq) && Number.isInteger(v.offset)) {
      return { seq: v.seq, offset: v.offset };
    }
  } catch {
    // Missing or unreadable: start from the oldest journal file (at-least-once).
  }
  return undefined;
}

/** Persists a sink's cursor atomically. */
export async function saveCursor(dir: string, sink: string, pos: JournalPosition): Promise<void> {
  const target = file(dir, sink);
  const tmp = `${target}.tmp`;
  const fh = await fsp.open(tmp, "w");
  try {
    await fh.writeFile(JSON.stringify({ seq: pos.seq, offset: pos.offset }));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, target);
}

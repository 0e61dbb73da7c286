// The CDR journal's durability contract: fsync before appendDurable resolves, group commit,
// size rotation, crash recovery with a torn last line, and file deletion behind the cursors.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CdrJournal, CdrPipeline, type CdrRecord, FileSink } from "../../src/cdr/mod.ts";
import { sampleCdr } from "./fixtures.ts";

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "tandem-cdr-"));
}

async function readAll(j: CdrJournal): Promise<CdrRecord[]> {
  const out: CdrRecord[] = [];
  let pos = await j.start();
  for (;;) {
    const r = await j.read(pos, 1000);
    out.push(...r.records);
    if (r.next.seq === pos.seq && r.next.offset === pos.offset) return out;
    pos = r.next;
  }
}

Deno.test("journal survives a crash: nothing durable lost, torn line tolerated, numbering continues", async () => {
  const dir = tmp();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./crash-writer.ts", import.meta.url).pathname, dir],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let acked = 0;
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    const deadline = Date.now() + 20_000;
    while (acked < 60 && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      for (const m of buf.matchAll(/durable (\d+)/g)) acked = Math.max(acked, Number(m[1]));
    }
    child.kill("SIGKILL");
    await reader.cancel();
    await child.status;
    assert.ok(acked >= 60, `writer acknowledged ${acked} records`);

    // A torn write at the tail, as a crash in the middle of write(2) leaves it.
    const files = fs.readdirSync(dir).filter((f) => f.startsWith("journal-")).sort();
    const last = path.join(dir, files.at(-1)!);
    fs.appendFileSync(last, '{"id":"torn-rec","callIdIn":"x","in":{"fr');
    const lastSeq = Number(/(\d+)/.exec(files.at(-1)!)![1]);

    const j = await CdrJournal.open(dir, { fsync: "every" });
    try {
      assert.equal(j.tornLines, 1);
      assert.equal(j.durableEnd().seq, lastSeq + 1, "appends continue in a new file");
      assert.ok(files.length > 1, "rotated by size at 4 KiB");
      const got = await readAll(j);
      const seen = got.map((r) => r.attempt);
      for (let n = 1; n <= acked; n++) assert.ok(seen.includes(n), `durable record ${n} lost`);
      assert.deepEqual(seen, [...seen].sort((a, b) => a - b), "in order");
      assert.ok(!got.some((r) => r.id === "torn-rec"));
      await j.appendDurable(sampleCdr(999));
      assert.equal((await readAll(j)).at(-1)!.attempt, 1);
    } finally {
      await j.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("batched fsync: appends group-commit within the interval", async () => {
  const dir = tmp();
  const j = await CdrJournal.open(dir, { fsync: "batched", fsyncInterval: 50 });
  try {
    let durable = 0;
    j.onDurable((n) => durable += n);
    const t0 = Date.now();
    const ps = [1, 2, 3, 4, 5].map((n) => j.appendDurable(sampleCdr(n)));
    j.append(sampleCdr(6));
    await Promise.all(ps);
    assert.ok(Date.now() - t0 >= 40, "waited for the group commit");
    assert.equal(durable, 6, "one commit for all six");
    assert.equal((await readAll(j)).length, 6);
  } finally {
    await j.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("file sink (CSV, size rotation) via the pipeline; journal files deleted behind the cursor", async () => {
  const dir = tmp();
  const out = path.join(dir, "out", "cdr.csv");
  const j = await CdrJournal.open(path.join(dir, "journal"), { fsync: "every", rotateBytes: 2048 });
  const p = new CdrPipeline(j, { pollInterval: 50 });
  p.addSink(new FileSink({ path: out, format: "csv", rotate: "size", rotateBytes: 4096 }));
  try {
    p.start();
    for (let n = 1; n <= 30; n++) j.append(sampleCdr(n));
    await p.drained(10_000);
    assert.equal(p.lag("file"), 0);
    const csvFiles = fs.readdirSync(path.dirname(out));
    assert.ok(csvFiles.length > 1, `rotated: ${csvFiles}`);
    const lines = csvFiles.flatMap((f) =>
      fs.readFileSync(path.join(path.dirname(out), f), "utf8").split("\r\n").filter(Boolean)
    );
    const data = lines.filter((l) => !l.startsWith("id,"));
    assert.equal(data.length, 30);
    assert.equal(lines.length - data.length, csvFiles.length, "one header per file");
    assert.ok(data.some((l) => l.includes('"""Alice"" <sip:10001@caller.example>;tag=a1"')));
    assert.equal(new Set(data.map((l) => l.split(",")[1])).size, 30, "30 distinct calls");
    const journals = fs.readdirSync(path.join(dir, "journal")).filter((f) =>
      f.startsWith("journal-")
    );
    assert.equal(journals.length, 1, `only the active journal file remains: ${journals}`);
  } finally {
    await p.stop();
    await j.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("file sink daily rotation names files by the call's UTC disconnect date", async () => {
  const dir = tmp();
  try {
    const sink = new FileSink({
      path: path.join(dir, "cdr.jsonl"),
      format: "jsonl",
      rotate: "daily",
    });
    // Set up on the 24th at 23:59:30, ended (52 s later) on the 25th.
    const a = sampleCdr(1, Date.UTC(2026, 10, 24, 23, 59, 30));
    const b = sampleCdr(2, Date.UTC(2026, 10, 25, 10, 0, 0));
    await sink.deliver([a, b]);
    assert.deepEqual(fs.readdirSync(dir).sort(), ["cdr-2026-11-25.jsonl"]);
    const c = sampleCdr(3, Date.UTC(2026, 10, 23, 10, 0, 0));
    await sink.deliver([c]);
    assert.deepEqual(fs.readdirSync(dir).sort(), ["cdr-2026-11-23.jsonl", "cdr-2026-11-25.jsonl"]);
    const lines = fs.readFileSync(path.join(dir, "cdr-2026-11-25.jsonl"), "utf8").trim().split(
      "\n",
    );
    assert.deepEqual(lines.map((l) => JSON.parse(l).id), [a.id, b.id]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("append hands the line to the kernel before it returns: kill -9 right after loses nothing", async () => {
  const dir = tmp();
  const j = await CdrJournal.open(dir, { fsync: "batched", fsyncInterval: 10_000 });
  try {
    const rec = sampleCdr(1);
    j.append(rec);
    // No await in between: a process killed here would still leave the line in the file.
    const files = fs.readdirSync(dir).filter((f) => f.startsWith("journal-"));
    const text = files.map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join("");
    assert.equal(text, JSON.stringify(rec) + "\n");
    // Readers only see it once it is fsynced.
    assert.equal((await readAll(j)).length, 0);
    await j.flush();
    assert.deepEqual((await readAll(j)).map((r) => r.id), [rec.id]);
  } finally {
    await j.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("file sink after a restart: a redelivered batch is not written twice, a torn line is cut", async () => {
  const dir = tmp();
  const out = path.join(dir, "cdr.jsonl");
  try {
    const first = Array.from({ length: 5 }, (_, i) => sampleCdr(i));
    await new FileSink({ path: out, format: "jsonl", rotate: "size" }).deliver(first);
    // Crash mid-write of the next batch: half a line at the end, cursor never saved.
    fs.appendFileSync(out, JSON.stringify(sampleCdr(9)).slice(0, 40));
    const second = [...first.slice(2), ...Array.from({ length: 3 }, (_, i) => sampleCdr(10 + i))];
    const restarted = new FileSink({ path: out, format: "jsonl", rotate: "size" });
    await restarted.deliver(second);
    const more = [sampleCdr(20)];
    await restarted.deliver(more);
    const ids = fs.readFileSync(out, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l).id);
    assert.deepEqual(ids, [...first, ...second.slice(3), ...more].map((r) => r.id));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("a rotated-out file is not readable until it is synced; durableTotal counts exactly", async () => {
  const dir = tmp();
  const j = await CdrJournal.open(dir, {
    fsync: "batched",
    fsyncInterval: 60_000,
    rotateBytes: 200,
  });
  try {
    const start = await j.start();
    const recs = [0, 1, 2].map((i) => sampleCdr(i));
    for (const r of recs) j.append(r); // crosses rotateBytes: the next flush rotates
    const flushed = j.flush();
    // Let the flush switch files (synchronously) and start syncing the old one; the sync
    // itself completes in a later macrotask, so the records are not durable yet.
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => queueMicrotask(r));
    assert.deepEqual(j.durableEnd(), start, "durable end moved before the old file was synced");
    assert.equal(j.durableTotal, 0);
    assert.equal((await j.read(start, 100, j.durableEnd())).records.length, 0);
    await flushed;
    assert.equal(j.durableTotal, 3);
    assert.equal(j.durableEnd().seq, start.seq + 1);
    assert.equal(await j.countFrom(start), 3);
    assert.deepEqual((await readAll(j)).map((r) => r.id), recs.map((r) => r.id));
  } finally {
    await j.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("a failed fsync of a rotated-out file is retried: nothing lost, every record announced once", async () => {
  const dir = tmp();
  // A fake sync that fails once: a real disk here cannot be made to fail fdatasync(2).
  let failures = 1;
  const datasync = (fd: number) =>
    failures-- > 0
      ? Promise.reject(new Error("EIO (test fault)"))
      : new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => e ? rej(e) : res()));
  const j = await CdrJournal.open(dir, {
    fsync: "batched",
    fsyncInterval: 60_000,
    rotateBytes: 200,
    datasync,
  });
  let announced = 0;
  j.onDurable((n) => announced += n);
  try {
    const start = await j.start();
    const recs = [0, 1, 2].map((i) => sampleCdr(i));
    for (const r of recs) j.append(r); // crosses rotateBytes: the next flush rotates
    await assert.rejects(j.flush(), /EIO/);
    assert.equal(j.durableTotal, 0);
    assert.deepEqual(j.durableEnd(), start, "nothing durable while the old file is unsynced");
    await j.flush(); // the retry syncs the old file
    assert.equal(j.durableTotal, 3);
    assert.equal(announced, 3);
    assert.equal(j.durableEnd().seq, start.seq + 1);
    assert.deepEqual((await readAll(j)).map((r) => r.id), recs.map((r) => r.id));
    // And the journal goes on.
    const durable = j.appendDurable(sampleCdr(3));
    await j.flush(); // rather than wait out the 60 s group-commit period
    await durable;
    assert.equal(j.durableTotal, 4);
  } finally {
    await j.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

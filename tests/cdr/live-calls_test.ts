// The answered-call ledger: calls up when the process dies come back as interrupted CDRs billed
// to the last sign of life, ended calls do not, full files are deleted once their calls end, a
// torn line is skipped, and an exit bills what is still up to that moment.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CdrJournal, interruptedCdr, LiveCallLedger } from "../../src/cdr/mod.ts";
import { answeredCall, sampleCdr } from "./fixtures.ts";

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "tandem-ledger-"));
}

const ledgerFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith("live-"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("kill -9: the calls up come back as interrupted CDRs billed to the last checkpoint", async () => {
  const dir = tmp();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./ledger-writer.ts", import.meta.url).pathname, dir],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const ids = JSON.parse(/ready (.*)/.exec(out)![1]) as string[];
    await sleep(300); // a few checkpoints
    const killedAt = Date.now();
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});

    const { ledger, recovery } = await LiveCallLedger.open(dir, { checkpoint: 60_000 });
    try {
      const got = recovery.interrupted.map((c) => c.id).sort();
      assert.deepEqual(got, [ids[0], ids[2], ids[4]].sort(), "the calls never ended");
      assert.ok(recovery.lastAlive <= killedAt, "last sign of life before the kill");
      assert.ok(
        recovery.lastAlive > killedAt - 250,
        `a checkpoint every 50 ms: ${recovery.lastAlive}`,
      );
      for (const c of recovery.interrupted) {
        assert.equal(c.endReason, "interrupted");
        assert.equal(c.endedBy, "tandem");
        assert.equal(c.finalCode, 200);
        assert.equal(c.q850, 41);
        assert.equal(c.disconnectAt, recovery.lastAlive);
        assert.equal(c.billableMs, c.disconnectAt - c.connectAt!);
        assert.equal(c.durationMs, c.disconnectAt - c.setupAt);
        assert.equal(c.route, "carrier-a");
        assert.ok(c.in.from.includes("Alice"));
      }
      // The earlier run's file stays until its CDRs are safe; then it goes.
      assert.equal(ledgerFiles(dir).length, 2);
      await ledger.forget();
      assert.equal(ledgerFiles(dir).length, 1);
    } finally {
      assert.deepEqual(await ledger.close(), []);
      await ledger.forget();
    }
    assert.deepEqual(ledgerFiles(dir), [], "a clean close leaves no file");
    const again = await LiveCallLedger.open(dir, { checkpoint: 60_000 });
    assert.deepEqual(again.recovery.interrupted, [], "nothing is billed twice");
    await again.ledger.close();
    await again.ledger.forget();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("an exit with calls up bills them to that moment; the same ids come back if those CDRs were lost", async () => {
  const dir = tmp();
  let now = Date.UTC(2026, 11, 5, 12, 0, 0);
  try {
    const { ledger } = await LiveCallLedger.open(dir, { checkpoint: 60_000, now: () => now });
    const a = answeredCall(1, now - 5000);
    const b = answeredCall(2, now - 3000);
    ledger.answered(a);
    ledger.answered(b);
    ledger.answered(a); // once per call
    assert.equal(ledger.size, 2);
    now += 7000;
    ledger.ended(b.id);
    ledger.ended("never-answered");
    now += 1000;
    const up = await ledger.close();
    assert.deepEqual(up, [interruptedCdr(a, now)]);
    assert.equal(up[0].billableMs, 13_000);
    // Not forgotten (the exit's CDRs never reached the journal): the next start finds a again.
    const next = await LiveCallLedger.open(dir, { checkpoint: 60_000, now: () => now });
    assert.deepEqual(next.recovery.interrupted.map((c) => c.id), [a.id]);
    assert.equal(next.recovery.lastAlive, now);
    await next.ledger.close();
    await next.ledger.forget();
    assert.deepEqual(ledgerFiles(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("a full ledger file takes no new calls and is deleted once its calls have ended", async () => {
  const dir = tmp();
  let synced = 0;
  try {
    const { ledger } = await LiveCallLedger.open(dir, {
      checkpoint: 20,
      rotateBytes: 2048,
      beforeSync: () => {
        synced++;
        return Promise.resolve();
      },
    });
    const calls = Array.from({ length: 12 }, (_, n) => answeredCall(n, Date.now()));
    for (const c of calls) ledger.answered(c);
    const files = ledgerFiles(dir);
    assert.ok(files.length >= 3, `rotated: ${files}`);
    // End every call but the last: the file holding it stays, and the current one (the last
    // call filled its file, so a new one was opened).
    for (const c of calls.slice(0, -1)) ledger.ended(c.id);
    const before = synced;
    await sleep(150);
    assert.ok(synced > before, "the journal was flushed before the ledger synced");
    assert.deepEqual(ledgerFiles(dir), files.slice(-2));
    assert.deepEqual((await ledger.close()).map((c) => c.id), [calls.at(-1)!.id]);
    await ledger.forget();
    assert.deepEqual(ledgerFiles(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("a torn last line is skipped and counted; the calls before it are found", async () => {
  const dir = tmp();
  try {
    const a = answeredCall(1, Date.UTC(2026, 11, 5, 12, 0, 0));
    const b = answeredCall(2, Date.UTC(2026, 11, 5, 12, 0, 1));
    fs.writeFileSync(
      path.join(dir, "live-00000007.jsonl"),
      `${JSON.stringify({ o: a })}\n{"t":${a.connectAt + 4000}}\n${
        JSON.stringify({ o: b }).slice(0, 40)
      }`,
    );
    const { ledger, recovery } = await LiveCallLedger.open(dir, { checkpoint: 60_000 });
    assert.equal(recovery.badLines, 1);
    assert.deepEqual(recovery.interrupted, [interruptedCdr(a, a.connectAt + 4000)]);
    assert.deepEqual(ledgerFiles(dir), ["live-00000007.jsonl", "live-00000008.jsonl"]);
    await ledger.close();
    await ledger.forget();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("the journal tells which ids it holds, reading only files written since a time", async () => {
  const dir = tmp();
  try {
    const j = await CdrJournal.open(dir, { rotateBytes: 4096 });
    const recs = Array.from({ length: 12 }, (_, n) => sampleCdr(n));
    for (const r of recs) j.append(r);
    await j.flush();
    const ids = new Set([recs[0].id, recs[11].id, "not-there"]);
    assert.deepEqual(await j.idsIn(ids, 0), new Set([recs[0].id, recs[11].id]));
    assert.deepEqual(await j.idsIn(ids, Date.now() + 60_000), new Set(), "no file that recent");
    assert.deepEqual(await j.idsIn(new Set(), 0), new Set());
    await j.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

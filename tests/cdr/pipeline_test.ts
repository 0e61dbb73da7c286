// CDR pipeline: webhook sink against a real local HTTP server (batched JSON arrays, retries
// with back-off after 5xx), at-least-once across a restart, and independence of sinks.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  CdrJournal,
  CdrPipeline,
  type CdrRecord,
  type CdrSink,
  WebhookSink,
} from "../../src/cdr/mod.ts";
import { metrics } from "../../src/util/metrics.ts";
import { sampleCdr } from "./fixtures.ts";

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "tandem-cdr-"));
}

Deno.test("webhook sink: batched POSTs of JSON arrays, 503 retried with back-off, in order", async () => {
  const dir = tmp();
  const batches: CdrRecord[][] = [];
  let failuresLeft = 2;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      assert.equal(req.headers.get("content-type"), "application/json");
      assert.equal(req.headers.get("authorization"), "Bearer t0k3n");
      const body = await req.json();
      if (failuresLeft-- > 0) return new Response("busy", { status: 503 });
      batches.push(body);
      return new Response(null, { status: 204 });
    },
  );
  const j = await CdrJournal.open(dir, { fsync: "batched", fsyncInterval: 10 });
  const p = new CdrPipeline(j, { minBackoff: 20, pollInterval: 50 });
  p.addSink(
    new WebhookSink({
      url: `http://127.0.0.1:${server.addr.port}/cdr`,
      batch: 7,
      timeout: 2000,
      headers: { authorization: "Bearer t0k3n" },
    }),
  );
  const errorsBefore = metrics.counter("tandem_cdr_sink_errors_total", "").get({ sink: "webhook" });
  try {
    const recs = Array.from({ length: 20 }, (_, i) => sampleCdr(i));
    for (const r of recs) j.append(r);
    p.start();
    await p.drained(10_000);
    assert.deepEqual(batches.map((b) => b.length), [7, 7, 6]);
    assert.deepEqual(batches.flat().map((r) => r.id), recs.map((r) => r.id));
    assert.equal(
      metrics.counter("tandem_cdr_sink_errors_total", "").get({ sink: "webhook" }) - errorsBefore,
      2,
    );
    assert.equal(metrics.gauge("tandem_cdr_sink_lag", "").get({ sink: "webhook" }), 0);
  } finally {
    await p.stop();
    await j.close();
    await server.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A sink that records what it gets and can be switched off. */
class MemorySink implements CdrSink {
  got: CdrRecord[] = [];
  down = false;
  constructor(readonly name: string, readonly batchSize = 5) {}
  deliver(records: CdrRecord[]): Promise<void> {
    if (this.down) return Promise.reject(new Error(`${this.name} is down`));
    this.got.push(...records);
    return Promise.resolve();
  }
}

Deno.test("a down sink does not block another; restart resumes from the durable cursor", async () => {
  const dir = tmp();
  try {
    const j1 = await CdrJournal.open(dir, { fsync: "every", rotateBytes: 3000 });
    const fast = new MemorySink("fast");
    const slow = new MemorySink("slow");
    slow.down = true;
    const p1 = new CdrPipeline(j1, { minBackoff: 20, maxBackoff: 50, pollInterval: 20 });
    p1.addSink(fast);
    p1.addSink(slow);
    p1.start();
    const recs = Array.from({ length: 12 }, (_, i) => sampleCdr(i));
    for (const r of recs) await j1.appendDurable(r);
    const deadline = Date.now() + 5000;
    while (fast.got.length < 12 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(fast.got.length, 12);
    assert.equal(slow.got.length, 0);
    assert.equal(p1.lag("slow"), 12);
    // Files the slow sink still needs are kept.
    assert.ok(fs.readdirSync(dir).filter((f) => f.startsWith("journal-")).length > 1);
    await p1.stop();
    await j1.close();

    // Restart: the fast sink gets nothing again, the slow one (now up) everything, in order.
    const j2 = await CdrJournal.open(dir, { fsync: "every" });
    const fast2 = new MemorySink("fast");
    const slow2 = new MemorySink("slow");
    const p2 = new CdrPipeline(j2, { pollInterval: 20 });
    p2.addSink(fast2);
    p2.addSink(slow2);
    p2.start();
    await p2.drained(5000);
    assert.equal(fast2.got.length, 0);
    assert.deepEqual(slow2.got.map((r) => r.id), recs.map((r) => r.id));
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith("journal-")).length,
      1,
      "all read journal files deleted",
    );
    await p2.stop();
    await j2.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

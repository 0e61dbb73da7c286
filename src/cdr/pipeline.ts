// Delivery of journaled CDRs to sinks: each sink reads from its own durable cursor, in order,
// at least once, with exponential back-off on failure; one slow or dead sink never holds up
// another. Journal files are deleted once every sink's cursor has left them.

import { type Logger, silentLogger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import { loadCursor, saveCursor } from "./cursor.ts";
import type { CdrJournal, JournalPosition } from "./journal.ts";
import type { CdrRecord } from "./record.ts";

const mDelivered = metrics.counter("tandem_cdr_sink_delivered_total", "CDRs a sink acknowledged");
const mLag = metrics.gauge("tandem_cdr_sink_lag", "Durable CDRs a sink has not acknowledged yet");
const mErrors = metrics.counter("tandem_cdr_sink_errors_total", "Failed sink deliveries (retried)");

/** A CDR destination. `deliver` must be idempotent enough for at-least-once delivery. */
export interface CdrSink {
  /** Unique name: cursor file and metric label. */
  readonly name: string;
  /** Records per deliver() call. Default 100. */
  readonly batchSize?: number;
  /** Resolves once the batch is stored downstream; rejects to have it retried. */
  deliver(records: CdrRecord[]): Promise<void>;
  /** Releases resources when the pipeline stops. */
  close?(): Promise<void>;
}

/** Options of {@link CdrPipeline}. */
export interface PipelineOptions {
  log?: Logger;
  /** First retry delay (ms). Default 200. */
  minBackoff?: number;
  /** Largest retry delay (ms). Default 30000. */
  maxBackoff?: number;
  /** Re-check the journal at least this often when idle (ms). Default 1000. */
  pollInterval?: number;
}

interface Runner {
  sink: CdrSink;
  pos?: JournalPosition;
  lag: number;
  /** Caught up and waiting for new records (cursor saved, files collected). */
  idle: boolean;
  wake?: () => void;
  loop?: Promise<void>;
}

/** Runs the registered sinks over a {@link CdrJournal}. */
export class CdrPipeline {
  private readonly runners = new Map<string, Runner>();
  private running = false;
  private unsubscribe?: () => void;
  private readonly timers = new Set<{ t: ReturnType<typeof setTimeout>; r: () => void }>();
  private readonly log: Logger;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly pollInterval: number;

  constructor(private readonly journal: CdrJournal, opts: PipelineOptions = {}) {
    this.log = opts.log ?? silentLogger;
    this.minBackoff = opts.minBackoff ?? 200;
    this.maxBackoff = opts.maxBackoff ?? 30000;
    this.pollInterval = opts.pollInterval ?? 1000;
  }

  /** Registers a sink; it starts at once if the pipeline runs. */
  addSink(sink: CdrSink): void {
    if (this.runners.has(sink.name)) throw new Error(`CDR sink "${sink.name}" registered twice`);
    const r: Runner = { sink, lag: 0, idle: false };
    this.runners.set(sink.name, r);
    if (this.running) r.loop = this.run(r);
  }

  /** Starts delivering. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.journal.onDurable((n) => {
      for (const r of this.runners.values()) {
        // Before its first count a runner's lag comes from durableTotal (see run()).
        if (!r.pos) continue;
        r.lag += n;
        mLag.set(r.lag, { sink: r.sink.name });
        r.wake?.();
      }
    });
    for (const r of this.runners.values()) r.loop = this.run(r);
  }

  /** Records durable in the journal but not yet acknowledged by `sink`. */
  lag(sink: string): number {
    return this.runners.get(sink)?.lag ?? 0;
  }

  /** Resolves when every sink has caught up with the journal, or rejects after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.journal.flush();
    for (;;) {
      const end = this.journal.durableEnd();
      // Idle, not merely at the end: the lag gauge, cursor file and file deletion are done too.
      const done = [...this.runners.values()].every((r) =>
        r.idle && r.pos &&
        (r.pos.seq > end.seq || (r.pos.seq === end.seq && r.pos.offset >= end.offset))
      );
      if (done) return;
      if (Date.now() > deadline) {
        const lags = [...this.runners.values()].map((r) => `${r.sink.name}=${r.lag}`).join(", ");
        throw new Error(`CDR sinks not drained after ${timeoutMs} ms (lag: ${lags})`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the sink loops (an in-flight delivery finishes first) and closes the sinks. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    for (const x of this.timers) {
      clearTimeout(x.t);
      x.r();
    }
    this.timers.clear();
    for (const r of this.runners.values()) r.wake?.();
    await Promise.all([...this.runners.values()].map((r) => r.loop));
    for (const r of this.runners.values()) await r.sink.close?.();
  }

  private sleep(ms: number, r?: Runner): Promise<void> {
    return new Promise((resolve) => {
      const x = {
        t: setTimeout(() => {
          this.timers.delete(x);
          if (r) r.wake = undefined;
          resolve();
        }, ms),
        r: resolve,
      };
      this.timers.add(x);
      if (r) {
        r.wake = () => {
          clearTimeout(x.t);
          this.timers.delete(x);
          r.wake = undefined;
          resolve();
        };
      }
    });
  }

  private async run(r: Runner): Promise<void> {
    const name = r.sink.name;
    const batch = r.sink.batchSize ?? 100;
    let failures = 0;
    try {
      const pos = (await loadCursor(this.journal.dir, name)) ?? (await this.journal.start());
      // Count up to a snapshot and add what became durable meanwhile: exact, whatever the timing.
      const until = this.journal.durableEnd();
      const total = this.journal.durableTotal;
      const counted = await this.journal.countFrom(pos, until);
      r.lag = counted + (this.journal.durableTotal - total);
      r.pos = pos;
      mLag.set(r.lag, { sink: name });
      while (this.running) {
        try {
          const read = await this.journal.read(r.pos, batch);
          if (!read.records.length) {
            if (read.next.seq !== r.pos.seq || read.next.offset !== r.pos.offset) {
              r.pos = read.next;
              await saveCursor(this.journal.dir, name, r.pos);
              await this.collect();
              continue;
            }
            const end = this.journal.durableEnd();
            if (r.pos.seq === end.seq && r.pos.offset >= end.offset) r.lag = 0;
            mLag.set(r.lag, { sink: name });
            r.idle = true;
            await this.sleep(this.pollInterval, r);
            r.idle = false;
            continue;
          }
          await r.sink.deliver(read.records);
          if (failures) this.log.info("cdr.sink_recovered", { sink: name, failures });
          failures = 0;
          r.pos = read.next;
          await saveCursor(this.journal.dir, name, r.pos);
          r.lag = Math.max(0, r.lag - read.records.length);
          mDelivered.inc({ sink: name }, read.records.length);
          mLag.set(r.lag, { sink: name });
          await this.collect();
        } catch (e) {
          failures++;
          mErrors.inc({ sink: name });
          const delay = Math.min(
            this.maxBackoff,
            this.minBackoff * 2 ** Math.min(failures - 1, 16),
          );
          this.log.warn("cdr.sink_failed", { sink: name, error: e, retryInMs: delay, failures });
          await this.sleep(delay * (0.75 + Math.random() * 0.5));
        }
      }
    } catch (e) {
      this.log.error("cdr.sink_stopped", { sink: name, error: e });
    }
  }

  /** Deletes journal files every sink has read past. */
  private async collect(): Promise<void> {
    const all = [...this.runners.values()];
    if (all.some((r) => !r.pos)) return;
    const min = Math.min(...all.map((r) => r.pos!.seq));
    await this.journal.deleteBefore(min);
  }
}

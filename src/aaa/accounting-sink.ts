// RFC 2866 §2: the CDR pipeline's RADIUS accounting sink. Sends one Stop per leg per CDR;
// the pipeline (src/cdr) gives at-least-once delivery, so a Stop may be resent with the same
// Acct-Session-Id / Acct-Multi-Session-Id (the CDR id) and never under a new one.

import { type Clock, systemClock } from "../util/clock.ts";
import { type AccountingCall, accountingStop, acctSessionId, type CallLeg } from "./accounting.ts";
import type { RadiusClient } from "./radius-client.ts";

/** Options of {@link RadiusAccountingSink}. */
export interface RadiusAccountingSinkOptions {
  gatewayId: string;
  nasIp?: string;
  /** Legs to report; default both (Cisco gateways send a Stop per leg). */
  legs?: CallLeg[];
  /** Stops sent in parallel per batch. Default 16. */
  batchSize?: number;
  clock?: Clock;
}

/**
 * A CDR sink (structurally a `CdrSink` of src/cdr) sending accounting Stops. Register it with
 * `pipeline.addSink(new RadiusAccountingSink(client, {...}))`.
 */
export class RadiusAccountingSink {
  readonly name = "radius";
  readonly batchSize: number;
  private readonly legs: CallLeg[];
  private readonly clock: Clock;
  // Stops already acknowledged in a batch that failed as a whole: skipped on its retry.
  private readonly acked = new Set<string>();

  constructor(
    private readonly client: RadiusClient,
    private readonly opts: RadiusAccountingSinkOptions,
  ) {
    this.legs = opts.legs ?? ["answer", "originate"];
    this.batchSize = opts.batchSize ?? 16;
    this.clock = opts.clock ?? systemClock;
  }

  /** Sends the Stops of `records`; rejects if any was not acknowledged (the batch is retried). */
  async deliver(records: AccountingCall[]): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const r of records) {
      for (const leg of this.legs) {
        if (leg === "originate" && !r.callIdOut) continue;
        const key = acctSessionId(r.id, leg);
        if (this.acked.has(key)) continue;
        jobs.push(
          this.client.accounting(accountingStop(r, leg, {
            gatewayId: this.opts.gatewayId,
            nasIp: this.opts.nasIp,
            now: this.clock.wallNow(),
          })).then(() => void this.acked.add(key)),
        );
      }
    }
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r) => r.status === "rejected") as
      | PromiseRejectedResult
      | undefined;
    if (failed) throw failed.reason;
    this.acked.clear();
  }
}

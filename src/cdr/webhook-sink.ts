// CDR HTTP webhook sink: POSTs batches as a JSON array (RFC 8259) with application/json;
// any non-2xx status or network error rejects the batch, which the pipeline retries.

import { CdrSinkError } from "./errors.ts";
import type { CdrRecord } from "./record.ts";

/** Options of {@link WebhookSink} (CdrConfig.webhook). */
export interface WebhookSinkOptions {
  url: string;
  /** Records per POST. Default 100. */
  batch?: number;
  /** Per-request timeout (ms). Default 5000. */
  timeout?: number;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /** Sink name (cursor, metrics). Default "webhook". */
  name?: string;
}

/** Delivers CDR batches to an HTTP endpoint. */
export class WebhookSink {
  readonly name: string;
  readonly batchSize: number;

  constructor(private readonly opts: WebhookSinkOptions) {
    this.name = opts.name ?? "webhook";
    this.batchSize = opts.batch ?? 100;
  }

  /** POSTs one JSON array; resolves on 2xx. */
  async deliver(records: CdrRecord[]): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.opts.headers },
        body: JSON.stringify(records),
        signal: AbortSignal.timeout(this.opts.timeout ?? 5000),
      });
    } catch (e) {
      throw new CdrSinkError(this.name, `POST ${this.opts.url} failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    await res.body?.cancel();
    if (!res.ok) {
      throw new CdrSinkError(this.name, `POST ${this.opts.url} answered ${res.status}`);
    }
  }
}

// Per-relay control metrics (rtpengine ng, rtpproxy): requests by command, failures, timeouts,
// and request latency.

import { type Histogram, type Metric, metrics, type Registry } from "../util/metrics.ts";

/** Latency buckets in seconds: relay commands normally answer within a few milliseconds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Counters for one relay, labelled `relay="address:port"`. */
export class RelayMetrics {
  private requests: Metric;
  private errors: Metric;
  private timeouts: Metric;
  private latency: Histogram;

  constructor(public readonly relay: string, registry: Registry = metrics) {
    this.requests = registry.counter(
      "tandem_media_requests_total",
      "Media relay control requests sent, by relay and command.",
    );
    this.errors = registry.counter(
      "tandem_media_errors_total",
      "Media relay requests that failed (error reply, bad reply or timeout), by relay.",
    );
    this.timeouts = registry.counter(
      "tandem_media_timeouts_total",
      "Media relay requests without a reply after every retry, by relay.",
    );
    // The shared Histogram has no labels yet, so latency is one family across relays.
    this.latency = registry.histogram(
      "tandem_media_request_duration_seconds",
      "Media relay request latency (first send to reply), all relays.",
      BUCKETS,
    );
  }

  /** One request sent (retransmissions not counted). */
  request(command: string): void {
    this.requests.inc({ relay: this.relay, command });
  }
  /** A reply arrived after `ms`. */
  replied(ms: number): void {
    this.latency.observe(ms / 1000);
  }
  /** The request failed (error reply or unusable reply). */
  error(): void {
    this.errors.inc({ relay: this.relay });
  }
  /** The request timed out; also counts as an error. */
  timeout(): void {
    this.timeouts.inc({ relay: this.relay });
    this.errors.inc({ relay: this.relay });
  }
}

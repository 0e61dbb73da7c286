// A token bucket for "at most `rate` a second": it holds one second's worth, so a quiet spell
// allows a burst of `rate` and no more. Time is the caller's (monotonic ms), for tests.

export class TokenBucket {
  private tokens: number;
  private at: number | undefined;

  constructor(private rate: number) {
    this.tokens = rate;
  }

  /** Take one token at `now`; false when none is left. */
  take(now: number): boolean {
    if (this.at !== undefined) {
      this.tokens = Math.min(this.rate, this.tokens + (now - this.at) * this.rate / 1000);
    }
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** A new rate (a reload); what is in the bucket is kept, up to the new burst. */
  setRate(rate: number): void {
    this.rate = rate;
    this.tokens = Math.min(this.tokens, rate);
  }

  /** Full again, as if quiet for a second (a ban ran out). */
  refill(): void {
    this.tokens = this.rate;
    this.at = undefined;
  }
}

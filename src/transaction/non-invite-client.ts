// RFC 3261 §17.1.2 non-INVITE client transaction: figure 6.
//
//              |Request from TU, send request, Timer E (unreliable), Timer F
//              v
//   Trying --1xx: to TU--> Proceeding --1xx: to TU; Timer E: send, E = T2
//     | Timer E: send, E = min(2E, T2)    |
//     +--200-699: to TU, Timer K--> Completed <--200-699--+
//     | Timer F / transport err           | Timer K
//     +---------------------------> Terminated
import type { SipResponse } from "../sip/mod.ts";
import { ClientBase } from "./client-base.ts";
import { RecordKind } from "./linger-records.ts";
import type { ClientNonInviteState } from "./types.ts";

/** The non-INVITE client transaction (figure 6). */
export class NonInviteClient extends ClientBase {
  private st: ClientNonInviteState = "Trying";

  get state(): ClientNonInviteState {
    return this.seen(this.st);
  }

  start(): void {
    this.transmitRequest();
    if (this.st !== "Trying") return; // the transport failed synchronously
    if (!this.reliable) this.armRetransmit(this.ctx.t1); // Timer E
    this.armLifetime(64 * this.ctx.t1); // Timer F
  }

  receive(res: SipResponse): void {
    if (this.st !== "Trying" && this.st !== "Proceeding") return; // Completed absorbs
    if (res.status < 200) {
      this.st = "Proceeding";
      this.handler.onResponse(res, this);
      return;
    }
    this.st = "Completed";
    this.stopTimers();
    this.release();
    this.handler.onResponse(res, this);
    this.releaseHandler(); // Timer K only absorbs retransmissions of the final
    if (this.st !== "Completed") return; // the TU terminated the transaction
    if (this.reliable) this.toTerminated(); // Timer K = 0
    else if (
      !this.lingerAsRecord(
        RecordKind.ClientNonInviteCompleted,
        this.ctx.t4,
        undefined,
        undefined,
        undefined,
        undefined,
      )
    ) {
      this.linger(this.ctx.t4); // Timer K
    }
  }

  protected retransmitFired(): void {
    this.retransmitTimer = undefined;
    if (this.st !== "Trying" && this.st !== "Proceeding") return;
    this.retransmitRequest();
    if (this.st === "Trying") this.armRetransmit(Math.min(2 * this.interval, this.ctx.t2));
    else if (this.st === "Proceeding") this.armRetransmit(this.ctx.t2);
  }

  protected lifetimeFired(): void {
    this.lifetimeTimer = undefined;
    if (this.st === "Completed") this.toTerminated(); // Timer K
    else if (this.st !== "Terminated") {
      this.toTerminatedAfter(() => this.handler.onTimeout(this)); // Timer F
    }
  }

  protected enterTerminated(): void {
    this.st = "Terminated";
  }
}

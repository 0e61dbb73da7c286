// RFC 3261 §17.1.1 INVITE client transaction: figure 5 as amended by RFC 6026 §7.2 (Accepted
// state, Timer M), with CANCEL per §9.1.
//
//                 |INVITE from TU, INVITE sent, Timer A (unreliable), Timer B
//                 v
//   Calling --1xx--> Proceeding --1xx--> (to TU)
//     |  \__________________|________ 2xx: to TU, Timer M --> Accepted --2xx--> (to TU)
//     |                     |                                  | Timer M
//     +---300-699 (both): to TU, send ACK, Timer D --> Completed --300-699: resend ACK
//     | Timer B: timeout                                 | Timer D
//     +-------------------------------> Terminated <-----+
import { serialize, type SipRequest, type SipResponse } from "../sip/mod.ts";
import { ClientBase } from "./client-base.ts";
import { buildAck, buildCancel } from "./messages.ts";
import type { ClientInviteState } from "./types.ts";

/** Where a TU's CANCEL stands (§9.1): not asked, held until a provisional, or sent. */
export type CancelState = "None" | "Held" | "Sent";

/** Timer D for unreliable transports: at least 32 s (§17.1.1.2), and no less than 64*T1. */
const TIMER_D_MIN = 32000;

/** The INVITE client transaction (figure 5, RFC 6026). */
export class InviteClient extends ClientBase {
  state: ClientInviteState = "Calling";
  /** §9.1 CANCEL progress. */
  cancelState: CancelState = "None";
  private cancelReason: string | undefined;
  /** §17.1.1.3 ACK for the non-2xx final, resent for every retransmission of that final. */
  private ack: SipRequest | undefined;
  private ackRaw: Uint8Array | undefined;

  start(): void {
    this.transmit(this.request, false);
    if (this.state !== "Calling") return; // the transport failed synchronously
    if (!this.reliable) this.armRetransmit(this.ctx.t1); // Timer A
    this.armLifetime(64 * this.ctx.t1); // Timer B
  }

  override cancel(reason?: string): void {
    if (this.cancelState !== "None") return;
    if (this.state === "Calling") {
      // §9.1: a CANCEL must not be sent before a provisional response has arrived.
      if (reason !== undefined) buildCancel(this.request, reason); // validate now, not later
      this.cancelState = "Held";
      this.cancelReason = reason;
    } else if (this.state === "Proceeding") {
      this.sendCancel(reason);
    }
    // Accepted, Completed, Terminated: a final response is in; there is nothing to cancel.
  }

  private sendCancel(reason: string | undefined): void {
    const cancel = buildCancel(this.request, reason);
    this.cancelState = "Sent";
    this.cancelReason = undefined;
    // §9.1: without a final response 64*T1 after the CANCEL, give the INVITE up.
    this.armLifetime(64 * this.ctx.t1);
    this.ctx.sendCancel(cancel, this.dest);
  }

  receive(res: SipResponse): void {
    const s = res.status;
    switch (this.state) {
      case "Calling":
      case "Proceeding":
        if (s < 200) {
          if (this.state === "Calling") {
            this.state = "Proceeding";
            // Figure 5: Timers A and B belong to Calling only.
            this.stopTimers();
            if (this.cancelState === "Held") this.sendCancel(this.cancelReason);
          }
          this.handler.onResponse(res, this);
        } else if (s < 300) {
          this.toAccepted(res);
        } else {
          this.toCompleted(res);
        }
        return;
      case "Accepted":
        // RFC 6026 §7.2: 2xx retransmissions (and 2xx from other forks) go to the TU.
        if (s >= 200 && s < 300) this.handler.onResponse(res, this);
        return;
      case "Completed":
        // §17.1.1.2: absorb retransmitted finals, but ACK each of them again.
        if (s >= 300 && this.ack) this.transmit(this.ack, true);
        return;
      case "Terminated":
        return;
    }
  }

  private toAccepted(res: SipResponse): void {
    this.state = "Accepted";
    this.cancelState = this.cancelState === "Held" ? "None" : this.cancelState;
    this.stopTimers();
    this.armLifetime(64 * this.ctx.t1); // Timer M
    this.handler.onResponse(res, this);
  }

  private toCompleted(res: SipResponse): void {
    this.state = "Completed";
    if (this.cancelState === "Held") this.cancelState = "None";
    this.stopTimers();
    this.ack = buildAck(this.request, res);
    // ACK before the TU hears of the failure: a TU that retries at once (401/407, failover)
    // must not put its new INVITE on the wire ahead of this ACK.
    this.transmit(this.ack, false);
    if (this.state !== "Completed") return; // transport failure terminated the transaction
    this.handler.onResponse(res, this);
    if (this.state !== "Completed") return; // the TU terminated the transaction
    if (this.reliable) this.toTerminated(); // Timer D = 0
    else this.armLifetime(Math.max(TIMER_D_MIN, 64 * this.ctx.t1)); // Timer D
  }

  protected override rawOther(msg: SipRequest): Uint8Array {
    return this.ackRaw ??= serialize(msg);
  }

  protected retransmitFired(): void {
    // Timer A: only armed in Calling; doubles without a cap (§17.1.1.2).
    if (this.state !== "Calling") return;
    this.transmit(this.request, true);
    if (this.state === "Calling") this.armRetransmit(this.interval * 2);
  }

  protected lifetimeFired(): void {
    this.lifetimeTimer = undefined;
    switch (this.state) {
      case "Calling": // Timer B
      case "Proceeding": // 64*T1 after CANCEL with no final (§9.1)
        this.toTerminatedAfter(() => this.handler.onTimeout(this));
        return;
      case "Accepted": // Timer M
      case "Completed": // Timer D
        this.toTerminated();
        return;
    }
  }

  protected enterTerminated(): void {
    this.state = "Terminated";
  }
}

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
import type { Endpoint } from "../transport/types.ts";
import { ClientBase } from "./client-base.ts";
import { RecordKind } from "./linger-records.ts";
import { buildAck, buildCancel } from "./messages.ts";
import type { ClientInviteState, SentMessage } from "./types.ts";

/** Where a TU's CANCEL stands (§9.1): not asked, held until a provisional, or sent. */
export type CancelState = "None" | "Held" | "Sent";

/** Timer D for unreliable transports: at least 32 s (§17.1.1.2), and no less than 64*T1. */
const TIMER_D_MIN = 32000;

/** The INVITE client transaction (figure 5, RFC 6026). */
export class InviteClient extends ClientBase {
  private st: ClientInviteState = "Calling";
  /** §9.1 CANCEL progress. */
  cancelState: CancelState = "None";
  private cancelReason: string | undefined;
  /**
   * The ACK resent for every retransmission of the final: §17.1.1.3's for a non-2xx (Completed),
   * or the TU's for the 2xx (Accepted, {@link sendAck}). Kept as bytes when the sender takes
   * bytes, else as the request.
   */
  private ack: Uint8Array | SipRequest | undefined;
  /** Where the ACK goes, shared with other lingering transactions (shared-endpoints.ts). */
  private ackDest: Endpoint | undefined;
  /** Accepted: the To tag of the 2xx the TU has ACKed through {@link sendAck}. */
  private ackedTag: string | undefined;
  /** When Timer M is due (clock ms), for the wait that follows the TU's ACK. */
  private timerM = 0;

  get state(): ClientInviteState {
    return this.seen(this.st);
  }

  start(): void {
    this.transmitRequest();
    if (this.st !== "Calling") return; // the transport failed synchronously
    if (!this.reliable) this.armRetransmit(this.ctx.t1); // Timer A
    this.armLifetime(64 * this.ctx.t1); // Timer B
  }

  override cancel(reason?: string): void {
    if (this.cancelState !== "None") return;
    if (this.st === "Calling") {
      // §9.1: a CANCEL must not be sent before a provisional response has arrived.
      if (reason !== undefined) buildCancel(this.request!, reason); // validate now, not later
      this.cancelState = "Held";
      this.cancelReason = reason;
    } else if (this.st === "Proceeding") {
      this.sendCancel(reason);
    }
    // Accepted, Completed, Terminated: a final response is in; there is nothing to cancel.
  }

  private sendCancel(reason: string | undefined): void {
    const cancel = buildCancel(this.request!, reason);
    this.cancelState = "Sent";
    this.cancelReason = undefined;
    // §9.1: without a final response 64*T1 after the CANCEL, give the INVITE up.
    this.armLifetime(64 * this.ctx.t1);
    this.ctx.sendCancel(cancel, this.dest);
  }

  receive(res: SipResponse): void {
    const s = res.status;
    switch (this.st) {
      case "Calling":
      case "Proceeding":
        if (s < 200) {
          if (this.st === "Calling") {
            this.st = "Proceeding";
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
        // RFC 6026 §7.2: 2xx retransmissions (and 2xx from other forks) go to the TU, unless
        // it has handed its ACK over (sendAck): then the transaction answers them itself.
        if (s < 200 || s >= 300) return;
        if (this.ackedTag === undefined) this.handler.onResponse(res, this);
        else if (res.to.tag === this.ackedTag) this.resendAck();
        else this.ctx.user.onStrayResponse(res, this.dest);
        return;
      case "Completed":
        // §17.1.1.2: absorb retransmitted finals, but ACK each of them again.
        if (s >= 300) this.resendAck();
        return;
      case "Terminated":
        return;
    }
  }

  private toAccepted(res: SipResponse): void {
    this.st = "Accepted";
    this.cancelState = this.cancelState === "Held" ? "None" : this.cancelState;
    this.stopTimers();
    this.release();
    // Timer M. The transaction stays live until the TU hands its ACK over (sendAck): until
    // then 2xx retransmissions go to the TU's handler, which a record cannot hold.
    this.armLifetime(64 * this.ctx.t1);
    this.timerM = this.ctx.now() + 64 * this.ctx.t1;
    this.handler.onResponse(res, this);
  }

  private toCompleted(res: SipResponse): void {
    this.st = "Completed";
    if (this.cancelState === "Held") this.cancelState = "None";
    this.stopTimers();
    // ACK before the TU hears of the failure: a TU that retries at once (401/407, failover)
    // must not put its new INVITE on the wire ahead of this ACK.
    const ack = buildAck(this.request!, res);
    this.release();
    this.keepAck(ack, this.dest, this.ctx.sender.sendRequest(ack, this.dest, this));
    if (this.st !== "Completed") return; // transport failure terminated the transaction
    this.handler.onResponse(res, this);
    if (this.st !== "Completed") return; // the TU terminated the transaction
    if (this.reliable) return this.toTerminated(); // Timer D = 0
    const d = Math.max(TIMER_D_MIN, 64 * this.ctx.t1); // Timer D
    if (!this.lingerWithAck(RecordKind.ClientInviteCompleted, d, undefined, undefined)) {
      this.linger(d);
    }
  }

  override sendAck(ack: SipRequest, dest: Endpoint, toTag: string): void {
    const sent = this.ctx.sender.sendRequest(ack, dest);
    if (this.st !== "Accepted" || this.ackedTag !== undefined) return;
    this.ackedTag = toTag;
    this.releaseHandler();
    this.keepAck(ack, dest, sent);
    this.lingerWithAck(RecordKind.ClientInviteAccepted, 64 * this.ctx.t1, this.timerM, toTag);
  }

  /**
   * Linger as a record that resends the kept ACK's bytes (and knows `tag`, the 2xx's To tag,
   * in Accepted); false when the ACK is kept parsed, or the TU wants onTerminated.
   */
  private lingerWithAck(
    kind: number,
    ms: number,
    until: number | undefined,
    tag: string | undefined,
  ): boolean {
    const a = this.ack;
    if (!(a instanceof Uint8Array) || !this.lingerAsRecord(kind, ms, until, tag, a, this.ackDest)) {
      return false;
    }
    this.ack = this.ackDest = undefined;
    return true;
  }

  /** Keep an ACK for resending: as the bytes sent, when the sender can resend bytes. */
  private keepAck(ack: SipRequest, dest: Endpoint, sent: SentMessage | void): void {
    if (sent && this.ctx.sender.sendRaw) {
      this.ack = sent.data;
      dest = sent.dest;
    } else this.ack = ack;
    this.ackDest = this.ctx.sharedEndpoint(dest);
  }

  /** A final was retransmitted: ACK it again (§17.1.1.2, RFC 6026 §7.2). */
  private resendAck(): void {
    const a = this.ack;
    const dest = this.ackDest;
    if (!a || !dest) return;
    this.ctx.retransmitted("ACK");
    const s = this.ctx.sender;
    if (a instanceof Uint8Array) s.sendRaw!(a, dest, this);
    else if (s.sendRaw) s.sendRaw(serialize(a), dest, this);
    else s.sendRequest(a, dest, this);
  }

  protected retransmitFired(): void {
    // Timer A: only armed in Calling; doubles without a cap (§17.1.1.2).
    if (this.st !== "Calling") return;
    this.retransmitRequest();
    if (this.st === "Calling") this.armRetransmit(this.interval * 2);
  }

  protected lifetimeFired(): void {
    this.lifetimeTimer = undefined;
    switch (this.st) {
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
    this.st = "Terminated";
    this.ack = this.ackDest = undefined;
  }
}

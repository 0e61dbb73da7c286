// RFC 3261 §17.2.1 INVITE server transaction: figure 7 as amended by RFC 6026 §7.1 (Accepted
// state, Timer L), with the §13.3.1.4 2xx retransmission done here for the TU (see types.ts).
//
//                 |INVITE: pass to TU, send 100 Trying
//                 v
//   Proceeding --1xx from TU: send; INVITE: resend last provisional
//     |  \--2xx from TU: send, Timer L --> Accepted --2xx from TU: send; 2xx resend timer;
//     |                                       |       ACK: to TU (tx undefined); INVITE: absorb
//     |                                       | Timer L (onNoAck unless acked)
//     +--300-699 from TU: send, G, H --> Completed --INVITE: resend; Timer G: resend
//     | transport error                  | ACK             | Timer H: onNoAck
//     |                               Confirmed (ACK absorbed)|
//     |                                  | Timer I            |
//     +---------------------------> Terminated <--------------+
import type { SipRequest, SipResponse } from "../sip/mod.ts";
import { buildResponse, buildTrying } from "./messages.ts";
import { RecordKind } from "./linger-records.ts";
import { ServerBase } from "./server-base.ts";
import type { ServerInviteState } from "./types.ts";

/** In Accepted: whether the TU has reported the ACK for the 2xx. */
export type AckState = "Awaiting" | "Received";

/** The INVITE server transaction (figure 7, RFC 6026). */
export class InviteServer extends ServerBase {
  private st: ServerInviteState = "Proceeding";
  ack: AckState = "Awaiting";

  get state(): ServerInviteState {
    return this.seen(this.st);
  }
  /** When Timer L is due (clock ms), for the wait that follows the ACK. */
  private timerL = 0;

  /** Figure 7: the 100 Trying goes out at once, so the client stops Timer A. */
  start(): void {
    if (this.ctx.tryingDelay > 0) this.armRetransmit(this.ctx.tryingDelay);
    else this.sendTrying();
  }

  private sendTrying(): void {
    this.sendProvisional(buildTrying(this.request!));
  }

  respond(res: SipResponse): void {
    const s = res.status;
    if (this.st === "Accepted") {
      // RFC 6026 §8.5: further 2xx from the TU are sent; anything else is too late.
      if (s >= 200 && s < 300) this.sendFinal(res);
      return;
    }
    if (this.st !== "Proceeding") return; // a final was already sent
    if (!this.hasLast) this.stopRetransmit(); // the TU answered first: no 100 Trying needed
    if (s < 200) {
      this.sendProvisional(res);
    } else if (s < 300) {
      this.st = "Accepted";
      this.sendFinal(res);
      if (this.st !== "Accepted") return; // the transport failed synchronously
      // §13.3.1.4: resend the 2xx at T1, 2T1... capped at T2, over every transport, since a
      // later hop may be unreliable.
      this.armRetransmit(this.ctx.t1);
      this.armLifetime(64 * this.ctx.t1); // Timer L
      this.timerL = this.ctx.now() + 64 * this.ctx.t1;
    } else {
      this.st = "Completed";
      this.sendFinal(res);
      if (this.st !== "Completed") return;
      if (!this.reliable) this.armRetransmit(this.ctx.t1); // Timer G
      this.armLifetime(64 * this.ctx.t1); // Timer H
    }
  }

  override acked(): void {
    if (this.st !== "Accepted" || this.ack === "Received") return;
    this.ack = "Received";
    this.stopRetransmit();
    // Until Timer L the transaction only absorbs INVITE retransmissions (RFC 6026 §8.7): the
    // 2xx, kept for resending, is not needed any more, nor is anything the TU hooked on.
    this.forgetLast();
    this.onCancel = this.onNoAck = this.onTransportError = undefined;
    this.linger(64 * this.ctx.t1, this.timerL);
  }

  receiveRequest(_req: SipRequest): void {
    // INVITE retransmission: resend the last provisional (Proceeding) or the final (Completed);
    // RFC 6026 §8.7: absorbed in Accepted. Confirmed absorbs too.
    if ((this.st === "Proceeding" || this.st === "Completed") && this.hasLast) {
      this.resend();
    } else if (this.st === "Proceeding") {
      this.stopRetransmit();
      this.sendTrying(); // the client is retransmitting: stop it now (§17.2.1)
    }
  }

  /**
   * An ACK matched this transaction. Returns true when absorbed; false when it belongs to the
   * TU (an ACK for a 2xx, RFC 6026 §7.1, or an RFC 2543 ACK whose To tag is not ours).
   */
  receiveAck(ack: SipRequest, checkToTag: boolean): boolean {
    if (checkToTag && ack.to.tag !== this.lastToTag) return false;
    switch (this.st) {
      case "Completed":
        this.st = "Confirmed";
        this.stopTimers();
        this.forgetLast(); // Confirmed only absorbs ACK retransmissions
        this.onCancel = this.onNoAck = this.onTransportError = undefined;
        if (this.reliable) this.toTerminated(); // Timer I = 0
        else this.linger(this.ctx.t4); // Timer I
        return true;
      case "Accepted":
        return false;
      default:
        return true; // Confirmed: retransmitted ACK; Proceeding: bogus, dropped
    }
  }

  /**
   * §9.2: a CANCEL matched while no final was sent (the layer already answered it 200). The TU
   * decides through onCancel; without one, the layer ends the INVITE with 487 itself.
   */
  cancelled(cancel: SipRequest, toTag: string): void {
    if (this.onCancel) this.onCancel(cancel);
    else this.respond(buildResponse(this.request!, 487, "Request Terminated", toTag));
  }

  protected retransmitFired(): void {
    this.retransmitTimer = undefined;
    if (this.st === "Proceeding" && !this.hasLast) return this.sendTrying(); // delayed 100
    const ok = (this.st === "Accepted" && this.ack === "Awaiting") ||
      this.st === "Completed"; // 2xx resend, or Timer G
    if (!ok || !this.hasLast) return;
    this.resend();
    if (this.st === "Accepted" || this.st === "Completed") {
      this.armRetransmit(Math.min(2 * this.interval, this.ctx.t2));
    }
  }

  protected lifetimeFired(): void {
    this.lifetimeTimer = undefined;
    switch (this.st) {
      case "Accepted": { // Timer L
        const noAck = this.ack === "Awaiting" ? this.onNoAck : undefined;
        this.toTerminated();
        noAck?.();
        return;
      }
      case "Completed": { // Timer H
        const noAck = this.onNoAck;
        this.toTerminated();
        noAck?.();
        return;
      }
      case "Confirmed": // Timer I
        this.toTerminated();
        return;
    }
  }

  protected enterTerminated(): void {
    this.st = "Terminated";
  }

  protected recordKind(): number {
    return this.st === "Confirmed" ? RecordKind.InviteConfirmed : RecordKind.InviteAccepted;
  }
}

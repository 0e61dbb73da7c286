// RFC 3261 §17.2.2 non-INVITE server transaction: figure 8.
//
//              |Request received, pass to TU
//              v
//   Trying --1xx from TU: send--> Proceeding --1xx from TU: send; request: resend provisional
//     |  (request: absorbed)          |
//     +--200-699 from TU: send--> Completed --request: resend final
//                                    | Timer J (64*T1 unreliable, 0 reliable)
//                                    v
//                                Terminated
import type { SipRequest, SipResponse } from "../sip/mod.ts";
import { RecordKind } from "./linger-records.ts";
import { ServerBase } from "./server-base.ts";
import type { ServerNonInviteState } from "./types.ts";

/** The non-INVITE server transaction (figure 8). */
export class NonInviteServer extends ServerBase {
  private st: ServerNonInviteState = "Trying";

  get state(): ServerNonInviteState {
    return this.seen(this.st);
  }

  respond(res: SipResponse): void {
    if (this.st !== "Trying" && this.st !== "Proceeding") return; // final already sent
    if (res.status < 200) {
      this.st = "Proceeding";
      this.sendProvisional(res);
      return;
    }
    this.st = "Completed";
    this.sendFinal(res);
    if (this.st !== "Completed") return; // the transport failed synchronously
    if (this.reliable) this.toTerminated(); // Timer J = 0
    else this.linger(64 * this.ctx.t1); // Timer J
  }

  receiveRequest(_req: SipRequest): void {
    // Trying absorbs; Proceeding and Completed resend the last response (§17.2.2).
    if ((this.st === "Proceeding" || this.st === "Completed") && this.hasLast) {
      this.resend();
    }
  }

  protected retransmitFired(): void {}

  protected lifetimeFired(): void {
    this.lifetimeTimer = undefined;
    if (this.st === "Completed") this.toTerminated(); // Timer J
  }

  protected enterTerminated(): void {
    this.st = "Terminated";
  }

  protected recordKind(): number {
    return RecordKind.NonInviteCompleted;
  }
}

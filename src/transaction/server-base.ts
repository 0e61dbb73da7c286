// RFC 3261 §17.2: what the INVITE and non-INVITE server transactions share — identity, timer
// slots, sending responses, and the §17.2.4 transport-error rule.

import type { SipRequest, SipResponse } from "../sip/mod.ts";
import type { Endpoint } from "../transport/types.ts";
import { TimerSlots } from "./timer-slots.ts";
import type { TxContext } from "./context.ts";
import type { ServerInviteState, ServerNonInviteState, ServerTransaction } from "./types.ts";

/**
 * Base of both server machines. At most one retransmission timer (G, or the 2xx resend) and
 * one lifetime timer (H, I, J, L) are armed; their callbacks are made once per transaction and
 * dispatch on the state.
 */
export abstract class ServerBase extends TimerSlots implements ServerTransaction {
  abstract readonly state: ServerInviteState | ServerNonInviteState;
  /** Responses go back over a stream: no retransmissions, zero-length wait timers. */
  protected readonly reliable: boolean;
  /** The last response sent: resent when the request is retransmitted. */
  protected last: SipResponse | undefined;

  onCancel?: (cancel: SipRequest) => void;
  onNoAck?: () => void;
  onTransportError?: (err: Error) => void;

  protected readonly onSendFailed = (err: Error): void => this.transportError(err);

  constructor(
    ctx: TxContext,
    readonly request: SipRequest,
    readonly source: Endpoint,
    /** §17.2.3 key in the layer's server map. */
    readonly key: string,
    /** §8.2.2.2 merged-request key when this transaction is indexed for it. */
    readonly mergeKey: string | undefined,
  ) {
    super(ctx);
    this.reliable = source.protocol === "tcp";
  }

  abstract respond(res: SipResponse): void;
  /** The request was retransmitted (matched this transaction, §17.2.3). */
  abstract receiveRequest(req: SipRequest): void;
  protected abstract enterTerminated(): void;

  acked(): void {}

  /** The last response sent (or undefined). */
  get lastResponse(): SipResponse | undefined {
    return this.last;
  }

  protected send(res: SipResponse, retransmission: boolean): void {
    if (retransmission) this.ctx.retransmitted(this.request.method);
    this.ctx.sender.sendResponse(res, this.source, this.onSendFailed);
  }

  /** §17.2.4: tell the TU, then the transaction is over. */
  protected transportError(err: Error): void {
    if (this.state === "Terminated") return;
    this.toTerminated();
    this.onTransportError?.(err);
  }

  protected toTerminated(): void {
    this.stopTimers();
    this.enterTerminated();
    this.ctx.removeServer(this.key, this.mergeKey);
  }
}

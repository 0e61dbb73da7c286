// RFC 3261 §17.1: what the INVITE and non-INVITE client transactions share — identity, the two
// timer slots, sending with lazily cached bytes, and the §17.1.4 transport-error rule.

import { serialize, type SipRequest, type SipResponse } from "../sip/mod.ts";
import type { Endpoint } from "../transport/types.ts";
import { TimerSlots } from "./timer-slots.ts";
import type { TxContext } from "./context.ts";
import type {
  ClientHandler,
  ClientInviteState,
  ClientNonInviteState,
  ClientTransaction,
} from "./types.ts";

/**
 * Base of both client machines. Each transaction has at most one retransmission timer (A or E)
 * and one lifetime timer (B, D, F, K, M) armed; the two callbacks are allocated once per
 * transaction and dispatch on the current state, which tells which timer it was.
 */
export abstract class ClientBase extends TimerSlots implements ClientTransaction {
  abstract readonly state: ClientInviteState | ClientNonInviteState;
  readonly branch: string;
  /** §17.1.3 key in the layer's client map. */
  readonly key: string;
  /** dest.protocol is a stream: no retransmissions, zero-length wait timers (§17.1.1.2). */
  protected readonly reliable: boolean;
  /** Serialized request, made on the first retransmission when the sender has sendRaw. */
  private raw: Uint8Array | undefined;

  protected readonly onSendFailed = (err: Error): void => this.transportError(err);

  constructor(
    ctx: TxContext,
    readonly request: SipRequest,
    readonly dest: Endpoint,
    protected readonly handler: ClientHandler,
    key: string,
  ) {
    super(ctx);
    this.branch = request.topVia!.branch!;
    this.key = key;
    this.reliable = dest.protocol === "tcp";
  }

  /** Send the request for the first time and arm the initial timers. */
  abstract start(): void;
  /** A response matched this transaction (§17.1.3). */
  abstract receive(res: SipResponse): void;
  protected abstract enterTerminated(): void;

  cancel(_reason?: string): void {}

  terminate(): void {
    if (this.state !== "Terminated") this.toTerminated();
  }

  /** Pass the request to the transport; retransmissions reuse cached bytes when possible. */
  protected transmit(msg: SipRequest, retransmission: boolean): void {
    const s = this.ctx.sender;
    if (!retransmission) {
      s.sendRequest(msg, this.dest, this.onSendFailed);
      return;
    }
    this.ctx.retransmitted(msg.method);
    if (s.sendRaw) {
      if (msg === this.request) {
        s.sendRaw(this.raw ??= serialize(msg), this.dest, this.onSendFailed);
      } else s.sendRaw(this.rawOther(msg), this.dest, this.onSendFailed);
    } else s.sendRequest(msg, this.dest, this.onSendFailed);
  }

  /** Bytes of a message other than the request (the INVITE client's ACK overrides this). */
  protected rawOther(msg: SipRequest): Uint8Array {
    return serialize(msg);
  }

  /** §17.1.4: a transport failure is reported to the TU and ends the transaction. */
  protected transportError(err: Error): void {
    if (this.state === "Terminated") return;
    this.toTerminatedAfter(() => this.handler.onTransportError(this, err));
  }

  /** Enter Terminated, leave the map, then tell the handler. */
  protected toTerminated(): void {
    this.stopTimers();
    this.enterTerminated();
    this.ctx.removeClient(this.key);
    this.handler.onTerminated?.(this);
  }

  /** Terminate first (so the TU sees state Terminated), then run `report`. */
  protected toTerminatedAfter(report: () => void): void {
    this.stopTimers();
    this.enterTerminated();
    this.ctx.removeClient(this.key);
    report();
    this.handler.onTerminated?.(this);
  }
}

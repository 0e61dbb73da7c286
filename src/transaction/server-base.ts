// RFC 3261 §17.2: what the INVITE and non-INVITE server transactions share — identity, timer
// slots, sending responses, and the §17.2.4 transport-error rule.

import { detach, parseNameAddr, type SipRequest, type SipResponse } from "../sip/mod.ts";
import type { Endpoint } from "../transport/types.ts";
import { TimerSlots } from "./timer-slots.ts";
import type { TxContext } from "./context.ts";
import type { Lingerer } from "./linger.ts";
import type { ServerInviteState, ServerNonInviteState, ServerTransaction } from "./types.ts";

/**
 * Base of both server machines. At most one retransmission timer (G, or the 2xx resend) and
 * one lifetime timer (H, I, J, L) are armed; their callbacks are made once per transaction and
 * dispatch on the state.
 *
 * Once the final response is out, the transaction only waits out its timers (32 s over UDP):
 * it lets the request go and keeps the final as the bytes it was sent as, not as a parsed
 * message, so a burst of calls does not hold every message it saw for half a minute.
 */
export abstract class ServerBase extends TimerSlots implements ServerTransaction, Lingerer {
  abstract readonly state: ServerInviteState | ServerNonInviteState;
  /** Responses go back over a stream: no retransmissions, zero-length wait timers. */
  protected readonly reliable: boolean;
  /** The request's method (the request itself is released after the final response). */
  readonly method: string;
  private req: SipRequest | undefined;
  /** The last response sent, while it is kept parsed (provisionals; streams; no bytes). */
  protected last: SipResponse | undefined;
  /** The final response as sent, for UDP retransmissions, and where it went. */
  private lastData: Uint8Array | undefined;
  private lastDest: Endpoint | undefined;
  /** The To header of the last response sent (its tag is the dialog's, §9.2, §17.2.3). */
  private lastTo: string | undefined;

  onCancel?: (cancel: SipRequest) => void;
  onNoAck?: () => void;
  onTransportError?: (err: Error) => void;

  /** The transport could not send for this transaction (it passes itself as the SendFailure). */
  sendFailed(err: Error): void {
    this.transportError(err);
  }

  constructor(
    ctx: TxContext,
    request: SipRequest,
    /** Where the request came from (shared once the transaction lingers). */
    public source: Endpoint,
    /** §17.2.3 key in the layer's server map. */
    readonly key: string,
    /** §8.2.2.2 merged-request key when this transaction is indexed for it. */
    readonly mergeKey: string | undefined,
  ) {
    super(ctx);
    this.req = request;
    this.method = request.method;
    this.reliable = source.protocol !== "udp"; // TCP or TLS
  }

  abstract respond(res: SipResponse): void;
  /** The request was retransmitted (matched this transaction, §17.2.3). */
  abstract receiveRequest(req: SipRequest): void;
  protected abstract enterTerminated(): void;

  acked(): void {}

  get request(): SipRequest | undefined {
    return this.req;
  }

  /** Whether a response has been sent (and can be resent). */
  protected get hasLast(): boolean {
    return this.last !== undefined || this.lastData !== undefined;
  }

  /** The To tag of the last response sent, if any. */
  get lastToTag(): string | undefined {
    if (this.last) return this.last.to.tag;
    // Rare (a CANCEL or an RFC 2543 ACK after the final): parse the kept text then.
    return this.lastTo === undefined ? undefined : parseNameAddr(this.lastTo, "To").tag;
  }

  /** Send a provisional (kept parsed: it may be resent, and a CANCEL reads its To tag). */
  protected sendProvisional(res: SipResponse): void {
    this.last = res;
    this.ctx.sender.sendResponse(res, this.source, this);
  }

  /**
   * Send the final response. Over UDP the bytes the transport returns are what later
   * retransmissions resend; the request and the parsed response are released.
   */
  protected sendFinal(res: SipResponse): void {
    const s = this.ctx.sender;
    const sent = s.sendResponse(res, this.source, this);
    this.req = undefined;
    if (this.state === "Terminated") return; // the transport failed synchronously
    if (sent && s.sendRaw && !this.reliable) {
      // Two fields, not the transport's {data, dest}: one object less per lingering transaction.
      this.lastData = sent.data;
      this.lastDest = sent.dest;
      // Only an INVITE's To tag is asked for later (CANCEL, RFC 2543 ACK); detached, since the
      // value is a slice of the whole received request.
      const to = this.method === "INVITE" ? res.get("to") : undefined;
      this.lastTo = to === undefined ? undefined : detach(to);
      this.last = undefined;
    } else {
      this.last = res;
      this.lastData = this.lastDest = undefined;
    }
  }

  /** Resend the last response (a retransmitted request, Timer G, the 2xx resend). */
  protected resend(): void {
    this.ctx.retransmitted(this.method);
    const s = this.ctx.sender;
    if (this.lastData && s.sendRaw) {
      s.sendRaw(this.lastData, this.lastDest!, this);
    } else if (this.last) s.sendResponse(this.last, this.source, this);
  }

  /** Nothing will be resent any more (ACK seen): keep only the To header. */
  protected forgetLast(): void {
    const to = this.last?.get("to");
    if (to !== undefined) this.lastTo = detach(to);
    this.last = undefined;
    this.lastData = this.lastDest = undefined;
  }

  /**
   * Nothing is left but the last timer (J, I, or L once the ACK is in): wait it out among the
   * lingering transactions, where retransmitted requests still find this one.
   */
  protected linger(ms: number, until?: number): void {
    this.stopLifetime();
    this.source = this.ctx.sharedEndpoint(this.source);
    if (this.lastDest) this.lastDest = this.ctx.sharedEndpoint(this.lastDest);
    if (this.last === undefined) {
      // Nothing parsed to resend (bytes, or nothing at all): a record does it all.
      this.lingerRec = this.ctx.recordServer(
        this,
        this.recordKind(),
        ms,
        until,
        this.lastTo,
        this.lastData,
        this.lastDest,
      );
      this.lastData = this.lastDest = this.lastTo = undefined;
      return;
    }
    this.ctx.lingerServer(this, ms, until);
  }

  /** The RecordKind it lingers as. */
  protected abstract recordKind(): number;

  /** §17.2.4: tell the TU, then the transaction is over. */
  protected transportError(err: Error): void {
    if (this.state === "Terminated") return;
    const report = this.onTransportError;
    this.toTerminated();
    report?.(err);
  }

  protected toTerminated(): void {
    this.stopTimers();
    this.enterTerminated();
    this.ctx.removeServer(this);
    // A TU may keep the transaction object (a call's record of it): keep nothing through it.
    this.req = undefined;
    this.last = undefined;
    this.lastData = this.lastDest = undefined;
    this.onCancel = this.onNoAck = this.onTransportError = undefined;
  }
}

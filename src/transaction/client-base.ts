// RFC 3261 §17.1: what the INVITE and non-INVITE client transactions share — identity, the two
// timer slots, sending with lazily cached bytes, and the §17.1.4 transport-error rule.

import { serialize, type SipRequest, type SipResponse } from "../sip/mod.ts";
import type { Endpoint } from "../transport/types.ts";
import { TimerSlots } from "./timer-slots.ts";
import type { TxContext } from "./context.ts";
import type { Lingerer } from "./linger.ts";
import type {
  ClientHandler,
  ClientInviteState,
  ClientNonInviteState,
  ClientTransaction,
} from "./types.ts";

/** What a transaction calls once nothing more is for the TU. */
const RELEASED: ClientHandler = {
  onResponse() {},
  onTimeout() {},
  onTransportError() {},
};

/**
 * Base of both client machines. Each transaction has at most one retransmission timer (A or E)
 * and one lifetime timer (B, D, F, K, M) armed; the two callbacks are allocated once per
 * transaction and dispatch on the current state, which tells which timer it was.
 */
export abstract class ClientBase extends TimerSlots implements ClientTransaction, Lingerer {
  abstract readonly state: ClientInviteState | ClientNonInviteState;
  /** §17.1.3 key in the layer's client map: the branch, then the method. */
  readonly key: string;
  /** dest.protocol is a stream: no retransmissions, zero-length wait timers (§17.1.1.2). */
  protected readonly reliable: boolean;
  /** The request's method (the request itself is released after the final response). */
  readonly method: string;
  private req: SipRequest | undefined;
  /** The request's bytes for retransmissions: as the transport sent them, or made on the first. */
  private raw: Uint8Array | undefined;
  /** The transport could not send for this transaction (it passes itself as the SendFailure). */
  sendFailed(err: Error): void {
    this.transportError(err);
  }

  constructor(
    ctx: TxContext,
    request: SipRequest,
    /** Where the request goes (shared once the transaction lingers). */
    public dest: Endpoint,
    protected handler: ClientHandler,
    key: string,
  ) {
    super(ctx);
    this.req = request;
    this.method = request.method;
    this.key = key;
    this.reliable = dest.protocol !== "udp"; // TCP or TLS
  }

  get request(): SipRequest | undefined {
    return this.req;
  }

  /** The branch, read from the key: one string less to keep while the transaction lingers. */
  get branch(): string {
    return this.key.slice(0, this.key.indexOf("\0"));
  }

  /**
   * The final response is in: from here the transaction only waits out Timer D, K or M, and
   * lets the request (and its bytes) go.
   */
  protected release(): void {
    this.req = undefined;
    this.raw = undefined;
  }

  /** Send the request for the first time and arm the initial timers. */
  abstract start(): void;
  /** A response matched this transaction (§17.1.3). */
  abstract receive(res: SipResponse): void;
  protected abstract enterTerminated(): void;

  cancel(_reason?: string): void {}

  /** Not an INVITE in Accepted: the ACK is only sent (the INVITE client overrides this). */
  sendAck(ack: SipRequest, dest: Endpoint, _toTag: string): void {
    this.ctx.sender.sendRequest(ack, dest);
  }

  terminate(): void {
    if (this.state !== "Terminated") this.toTerminated();
  }

  /**
   * Nothing more goes to the handler but onTerminated: drop it (and all its closures hold)
   * unless it wants that last event.
   */
  protected releaseHandler(): void {
    if (!this.handler.onTerminated) this.handler = RELEASED;
  }

  /** Send the request for the first time; its bytes are kept for the retransmissions. */
  protected transmitRequest(): void {
    const sent = this.ctx.sender.sendRequest(this.req!, this.dest, this);
    // Not when the transport moved a large request to TCP: the bytes name TCP in their Via.
    if (sent && this.ctx.sender.sendRaw && sent.dest.protocol === this.dest.protocol) {
      if (!this.reliable && this.req) this.raw = sent.data;
    }
  }

  /** Retransmit the request (Timers A and E), from its bytes when the sender takes bytes. */
  protected retransmitRequest(): void {
    const req = this.req;
    if (!req) return;
    const s = this.ctx.sender;
    this.ctx.retransmitted(this.method);
    if (s.sendRaw) s.sendRaw(this.raw ??= serialize(req), this.dest, this);
    else s.sendRequest(req, this.dest, this);
  }

  /**
   * Nothing is left but the last timer (D, K, M): wait it out among the lingering transactions,
   * where retransmitted responses still find this one.
   */
  protected linger(ms: number): void {
    this.stopLifetime();
    this.dest = this.ctx.sharedEndpoint(this.dest);
    this.ctx.lingerClient(this, ms);
  }

  /**
   * Wait out the last timer as a record (linger-records.ts) when nothing but the record is
   * needed for it: the TU has not asked for onTerminated. A transport error on a resend then
   * ends nothing early and reports to no one; the peer's next retransmission tries again.
   * False when it cannot (the caller lingers as an object then).
   */
  protected lingerAsRecord(
    kind: number,
    ms: number,
    until: number | undefined,
    str: string | undefined,
    data: Uint8Array | undefined,
    to: Endpoint | undefined,
  ): boolean {
    if (this.handler.onTerminated) return false;
    this.stopLifetime();
    this.handler = RELEASED;
    this.dest = this.ctx.sharedEndpoint(this.dest);
    this.lingerRec = this.ctx.recordClient(this, kind, ms, until, str, data, to);
    return true;
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
    this.release();
    this.ctx.removeClient(this);
    this.handler.onTerminated?.(this);
  }

  /** Terminate first (so the TU sees state Terminated), then run `report`. */
  protected toTerminatedAfter(report: () => void): void {
    this.stopTimers();
    this.enterTerminated();
    this.release();
    this.ctx.removeClient(this);
    report();
    this.handler.onTerminated?.(this);
  }
}

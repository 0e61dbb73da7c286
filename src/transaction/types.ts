// Contract between the transaction layer (RFC 3261 §17, RFC 6026), the transport below it and
// the transaction user (dialog / B2BUA core) above it.

import type { SipRequest, SipResponse } from "../sip/mod.ts";
import type { Endpoint, SendFailure, SentMessage } from "../transport/types.ts";

export type { SentMessage };
import type { Clock, Random, Timers } from "../util/clock.ts";
import type { Registry } from "../util/metrics.ts";

/** What the transaction layer needs from the transport layer. Neither call throws. */
export interface MessageSender {
  /**
   * Serialize and send a request to `dest` (Via already in place). May return the bytes and
   * address, which a transaction then keeps for its retransmissions.
   */
  sendRequest(req: SipRequest, dest: Endpoint, fail?: SendFailure): SentMessage | void;
  /**
   * Send a response per RFC 3261 §18.2.2 / RFC 3581: over the connection the request came on
   * (`source` is where it came from), else to received/rport of the top Via. May return the
   * bytes and address it used: a server transaction then keeps those for its retransmissions
   * (through {@link sendRaw}) instead of the parsed response.
   */
  sendResponse(
    res: SipResponse,
    source: Endpoint,
    fail?: SendFailure,
  ): SentMessage | void;
  /**
   * Optional: send already-serialized bytes to exactly `dest` (for TCP, over a connection to
   * that address). When present, the transaction layer uses it for request retransmissions
   * (Timers A and E, hop-by-hop ACK resends), serializing once on the first retransmission.
   * Over unreliable transports, a response's retransmissions resend the bytes and address
   * {@link sendResponse} returned for it; over streams they go through sendResponse again,
   * which owns the §18.2.2 choice of connection.
   */
  sendRaw?(data: Uint8Array, dest: Endpoint, fail?: SendFailure): void;
}

/** Protocol timers (ms). Defaults T1 500, T2 4000, T4 5000. */
export interface TimerConfig {
  t1: number;
  t2: number;
  t4: number;
}

export interface TransactionLayerOptions extends TimerConfig {
  clock: Clock;
  timers: Timers;
  random: Random;
  sender: MessageSender;
  user: TransactionUser;
  /**
   * §17.2.1: send 100 Trying only if the TU has not answered within this many ms (RFC 3261
   * allows skipping it when the TU answers within 200 ms). 0, the default, sends it at once.
   */
  tryingDelay?: number;
  /**
   * Where `tandem_transactions_active{kind}` and `tandem_sip_retransmissions_total{method}`
   * go; the process-wide registry when omitted. Tests pass their own.
   */
  metrics?: Registry;
}

/** Events the layer delivers upward. */
export interface TransactionUser {
  /**
   * A request that created a new server transaction (`tx` set), or an ACK that matched no
   * INVITE server transaction (`tx` undefined: an ACK for a 2xx, which belongs to the dialog).
   * Retransmissions are absorbed by the layer and never reach here. CANCEL is handled by the
   * layer itself (see ServerTransaction.onCancel) and never reaches here either.
   */
  onRequest(req: SipRequest, tx: ServerTransaction | undefined, source: Endpoint): void;
  /**
   * A response that matched no client transaction: a 2xx retransmission for an INVITE whose
   * transaction has ended (RFC 6026 §7.2), or a stray. The TU re-ACKs 2xx it knows.
   */
  onStrayResponse(res: SipResponse, source: Endpoint): void;
}

/** Named states, RFC 3261 figures 5-8 as amended by RFC 6026. */
export type ClientInviteState =
  | "Calling"
  | "Proceeding"
  | "Accepted"
  | "Completed"
  | "Terminated";
export type ClientNonInviteState = "Trying" | "Proceeding" | "Completed" | "Terminated";
export type ServerInviteState =
  | "Proceeding"
  | "Accepted"
  | "Completed"
  | "Confirmed"
  | "Terminated";
export type ServerNonInviteState = "Trying" | "Proceeding" | "Completed" | "Terminated";

/** How a client transaction reports to its owner. */
export interface ClientHandler {
  /** Every response passed up: provisionals, the final, and (INVITE, Accepted) 2xx retransmissions. */
  onResponse(res: SipResponse, tx: ClientTransaction): void;
  /** Timer B or F fired with no final response. */
  onTimeout(tx: ClientTransaction): void;
  /** The transport could not deliver (ICMP, connection refused, reset). */
  onTransportError(tx: ClientTransaction, err: Error): void;
  /** The transaction reached Terminated (optional). */
  onTerminated?(tx: ClientTransaction): void;
}

/** A client transaction as the TU sees it. */
export interface ClientTransaction {
  /**
   * The request, until a final response arrives. A transaction that only waits out Timer D, K
   * or M then lets it go (undefined): at high call rates those 32 s of lingering parsed
   * messages would be most of the heap.
   */
  readonly request: SipRequest | undefined;
  readonly dest: Endpoint;
  readonly state: ClientInviteState | ClientNonInviteState;
  /** Branch of the top Via (transaction id). */
  readonly branch: string;
  /**
   * INVITE only: send CANCEL per §9.1 (same Request-URI, Call-ID, From, To, CSeq number, top
   * Via; Route copied) in its own non-INVITE client transaction. Before any provisional has
   * arrived, the CANCEL is held and sent when one arrives (§9.1); if a final arrives first it
   * is not sent. `reason` becomes a Reason header (RFC 3326) when given. The CANCEL's own
   * responses are absorbed; if no final response to the INVITE arrives within 64*T1 after the
   * CANCEL, the INVITE transaction times out (onTimeout).
   */
  cancel(reason?: string): void;
  /**
   * INVITE, Accepted (RFC 6026 §7.2): send the TU's ACK for the 2xx whose To tag is `toTag`
   * to `dest` now, and again for every retransmission of that 2xx, which then no longer
   * reaches the handler; a 2xx with another To tag (another fork) goes to the TU as a stray
   * response. The handler is released, so what it holds need not live until Timer M. In any
   * other state the ACK is just sent.
   */
  sendAck(ack: SipRequest, dest: Endpoint, toTag: string): void;
  /** Stop retransmitting and forget the transaction now (TU gave up on it). */
  terminate(): void;
}

/** A server transaction as the TU sees it. */
export interface ServerTransaction {
  /**
   * The request, until the final response is sent; undefined after (the transaction keeps
   * only what it needs to absorb retransmissions and resend its answer).
   */
  readonly request: SipRequest | undefined;
  readonly source: Endpoint;
  readonly state: ServerInviteState | ServerNonInviteState;
  /**
   * Send a response and drive the state machine. INVITE: 1xx keeps Proceeding; 2xx moves to
   * Accepted (RFC 6026) and the layer retransmits that 2xx (T1 doubling, capped at T2) until
   * {@link acked} is called or Timer L (64*T1) fires, then calls `onNoAck`; 300-699 moves to
   * Completed with Timers G/H and absorbs the ACK. Non-INVITE: per figure 8.
   */
  respond(res: SipResponse): void;
  /** INVITE: the TU saw the ACK for the 2xx (it matched the dialog): stop retransmitting. */
  acked(): void;
  /** INVITE: set by the TU to hear of a CANCEL matching this transaction (already answered 200). */
  onCancel?: (cancel: SipRequest) => void;
  /** INVITE: Timer L (or H for non-2xx) fired without an ACK. */
  onNoAck?: () => void;
  /** The transport failed while sending a response. */
  onTransportError?: (err: Error) => void;
}

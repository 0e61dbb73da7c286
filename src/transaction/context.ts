// What the four state machines need from the layer that owns them. Internal to the folder: the
// layer implements it once, so a transaction holds one reference instead of a bag of closures.

import type { SipRequest } from "../sip/mod.ts";
import type { Endpoint } from "../transport/types.ts";
import type { Timers } from "../util/clock.ts";
import type { ClientBase } from "./client-base.ts";
import type { ServerBase } from "./server-base.ts";
import type { MessageSender, TransactionUser } from "./types.ts";

/** A transaction's view of its layer. */
export interface TxContext {
  readonly t1: number;
  readonly t2: number;
  readonly t4: number;
  /** How long an INVITE server transaction waits for the TU before sending 100 Trying. */
  readonly tryingDelay: number;
  readonly timers: Timers;
  readonly sender: MessageSender;
  readonly user: TransactionUser;
  /** The layer's clock (ms), for the deadlines of lingering transactions. */
  now(): number;
  /** Drop a terminated client transaction from the matching map (live or lingering). */
  removeClient(tx: ClientBase): void;
  /** Drop a terminated server transaction from the matching maps (live or lingering). */
  removeServer(tx: ServerBase): void;
  /**
   * A client transaction only waits out its last timer (`ms`): keep it where retransmissions
   * still find it, out of the live map; it ends through `lingerExpired`.
   */
  lingerClient(tx: ClientBase, ms: number): void;
  /** {@link lingerClient} for a server transaction; `until` when its timer began earlier. */
  lingerServer(tx: ServerBase, ms: number, until?: number): void;
  /**
   * The transaction only waits out its last timer and needs nothing of the heap for it: keep
   * what it answers with as a record (linger-records.ts) and let the object go. The record's
   * number. `kind`: a RecordKind; `str`, `data`, `to`: its To header or ACKed tag, the bytes it
   * resends and where.
   */
  recordServer(
    tx: ServerBase,
    kind: number,
    ms: number,
    until: number | undefined,
    str: string | undefined,
    data: Uint8Array | undefined,
    to: Endpoint | undefined,
  ): number;
  /** {@link recordServer} for a client transaction. */
  recordClient(
    tx: ClientBase,
    kind: number,
    ms: number,
    until: number | undefined,
    str: string | undefined,
    data: Uint8Array | undefined,
    to: Endpoint | undefined,
  ): number;
  /** What a record is (a RecordKind), or 0 once it has ended. */
  recordKind(rec: number): number;
  /** Count one retransmission (`tandem_sip_retransmissions_total{method}`). */
  retransmitted(method: string): void;
  /** Send a CANCEL in its own non-INVITE client transaction whose responses are absorbed. */
  sendCancel(cancel: SipRequest, dest: Endpoint): void;
  /** A fresh To tag (for answers the layer makes itself). */
  newTag(): string;
  /** The one object for `ep`'s address, for what a lingering transaction keeps (see file). */
  sharedEndpoint(ep: Endpoint): Endpoint;
}

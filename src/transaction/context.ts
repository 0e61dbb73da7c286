// What the four state machines need from the layer that owns them. Internal to the folder: the
// layer implements it once, so a transaction holds one reference instead of a bag of closures.

import type { SipRequest } from "../sip/mod.ts";
import type { Endpoint } from "../transport/types.ts";
import type { Timers } from "../util/clock.ts";
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
  /** Drop a terminated client transaction from the matching map. */
  removeClient(key: string): void;
  /** Drop a terminated server transaction from the matching maps. */
  removeServer(key: string, mergeKey: string | undefined): void;
  /** Count one retransmission (`tandem_sip_retransmissions_total{method}`). */
  retransmitted(method: string): void;
  /** Send a CANCEL in its own non-INVITE client transaction whose responses are absorbed. */
  sendCancel(cancel: SipRequest, dest: Endpoint): void;
  /** A fresh To tag (for answers the layer makes itself). */
  newTag(): string;
}

// A call is two legs (RFC 7092 §3 B2BUA): the caller's leg, where Tandem is the UAS, and one
// outgoing leg per route attempt, where Tandem is the UAC. This file holds their state; the
// engine drives it.

import type { RouteConfig, RuleConfig } from "../config/types.ts";
import type { Dialog, OwnSide } from "../dialog/mod.ts";
import type { SipRequest, Uri } from "../sip/mod.ts";
import type { ClientTransaction, ServerTransaction } from "../transaction/mod.ts";
import type { Endpoint } from "../transport/types.ts";
import type { TimerHandle } from "../util/clock.ts";
import type { AttemptRecord, CallRecord } from "./record.ts";
import type { Slot } from "./limits.ts";

/** Named call states. */
export type CallState =
  | "Routing" // INVITE received, first attempt not yet sent (auth, media)
  | "Proceeding" // an attempt is out, nothing but 100 back
  | "Early" // a provisional was relayed to the caller
  | "Confirmed" // answered, both dialogs confirmed
  | "Ended";

/** Named attempt states. */
export type AttemptState =
  | "Calling" // INVITE sent
  | "Early" // provisional received
  | "Answered" // 2xx received and ACKed
  | "Cancelling" // CANCEL sent, final awaited
  | "Failed" // final non-2xx, timeout or transport error
  | "Abandoned"; // given up (failover/cancel); a late 2xx is ACKed and BYEd

/** The caller's side. */
export interface CallerLeg {
  invite: SipRequest;
  stx: ServerTransaction;
  source: Endpoint;
  localTag: string;
  /** Our Contact value towards the caller. */
  contact: string;
  /**
   * The caller leg's first hop, where its INVITE came from: the default destination of the
   * requests Tandem sends on the caller's dialog (the engine's destOf picks the route or target).
   */
  dest: Endpoint;
  dialog?: Dialog;
  /** Whether the caller's INVITE names 100rel in Supported or Require (RFC 3262). */
  reliable: boolean;
}

/**
 * A reliable provisional relayed to the caller (RFC 3262): the RSeq it has on the caller's leg
 * and the callee's provisional it carries, so that the caller's PRACK can be passed on.
 */
export interface RelayedReliable {
  rseq: number;
  attempt: Attempt;
  /** The callee's RSeq and the early dialog (its To tag) it came on. */
  calleeRseq: number;
  calleeTag: string;
  /** It carried the callee's SDP offer (the INVITE had none): the PRACK carries the answer. */
  offer: boolean;
}

/** One outgoing attempt (route try) and its dialog. */
export interface Attempt {
  index: number;
  route: CallRoute;
  state: AttemptState;
  invite: SipRequest;
  /** The INVITE client transaction, once the INVITE is on the wire. */
  ctx?: ClientTransaction;
  dest: Endpoint;
  contact: string;
  dialog?: Dialog;
  authTried: boolean;
  record: AttemptRecord;
  /**
   * Its 2xx carried the callee's offer (our INVITE had none, a delayed offer): the ACK waits for
   * the caller's, which carries the answer (RFC 3261 §13.2.2.4, RFC 3264 §2).
   */
  ackPending?: boolean;
  /**
   * Early dialogs by the callee's tag, once a second one appears (a proxy forked the INVITE,
   * RFC 3261 §12.1.2): each has its own target, route set and CSeq, and `dialog` is the one
   * the last provisional came on. Absent while there is one: most calls never fork.
   */
  forks?: Map<string, Dialog>;
  /** The last RSeq of the callee's reliable provisionals (RFC 3262 §4), per early dialog tag. */
  rseqs?: Map<string, number>;
  /** Our side of its dialog, as its INVITE was built (dropped once the call is confirmed). */
  own?: OwnSide;
  /** Its place in its route's call count, held until it fails, is given up or its call ends. */
  slot?: Slot;
  /** Counted in its route's quality figures (answered or failed). */
  qualityCounted?: boolean;
}

/** An in-dialog request relayed from one leg to the other, waiting for its answer. */
export interface PendingRelay {
  from: "a" | "b";
  stx: ServerTransaction;
  /** The relayed request's transaction, once it is on the wire. */
  ctx?: ClientTransaction;
  /** The relayed request's CSeq number (its ACK carries it, §13.2.2.4). */
  cseq?: number;
  method: string;
  /** A re-INVITE without SDP: its 2xx makes the offer and the ACK answers (RFC 3261 §14.1). */
  offerless?: boolean;
}

/**
 * RFC 3891: what a call made by an INVITE with Replaces is aimed at. The replaced call's other
 * leg's peer is the one to replace its dialog with Tandem, so the new call goes there, along that
 * leg's route set, naming that leg's dialog.
 */
export interface Replacing {
  /** The peer's Contact: the Request-URI. */
  target: Uri;
  dest: Endpoint;
  /** The leg's route set, as Route header values. */
  routeSet: string[];
  /** The Replaces value for the peer. */
  header: string;
  /** The replaced call's id (for logs). */
  replaced: string;
}

/**
 * A route as a call tries it. A route by host name becomes one entry per server DNS gave
 * (RFC 3263), each with the address it goes to and the lookup it came from: the servers of one
 * name are tried in turn on a 503, a timeout or a transport error (§4.3), and past on any other
 * failure, which speaks for them all.
 */
/**
 * A route as a call tries it: a server DNS found for a host name (`resolved`, one entry per
 * server, `dnsGroup` telling their name apart), or a URI ENUM gave for the called number.
 */
export type CallRoute = RouteConfig & { resolved?: Endpoint; dnsGroup?: number; enumTarget?: Uri };

/** A call and everything Tandem keeps about it. */
export interface Call {
  id: string;
  state: CallState;
  rule: RuleConfig;
  routes: CallRoute[];
  /**
   * A call to a phone registered through Tandem: its Contact (the Request-URI) and the
   * connection it registered over (where the INVITE goes).
   */
  target?: { uri: Uri; dest: Endpoint };
  a: CallerLeg;
  b?: Attempt;
  attempts: Attempt[];
  /** Maximum duration from RADIUS (h323-credit-time) overriding the route's, ms. */
  creditMs?: number;
  timers: {
    noProgress?: TimerHandle;
    noAnswer?: TimerHandle;
    maxDuration?: TimerHandle;
    keepalive?: TimerHandle;
  };
  /** Whether this call anchors media on a relay (the route's `media`). */
  media?: boolean;
  /** Whether any attempt of this call anchored media (its relay session must be released). */
  mediaUsed?: boolean;
  /** Its media went through a relay asked to record it (a rule with `record`). */
  recorded?: boolean;
  /** Relay operations of this call, chained so relayed messages keep their order. */
  mediaChain?: Promise<void>;
  /** RFC 3262 on the caller's leg: the last RSeq used and what each reliable one relayed. */
  reliable?: { rseq: number; relayed: RelayedReliable[] };
  /** Set when the caller's INVITE carried a Replaces matching another call (RFC 3891). */
  replacing?: Replacing;
  /**
   * RFC 5806 Diversion values the call's followed redirects collected, newest first: each
   * INVITE to a 3xx Contact carries them, so the next network knows whose number sent it on.
   */
  diversions?: string[];
  /** What checking the caller's Identity found (3GPP verstat), told to the callee in From. */
  verstat?: string;
  /** The SHAKEN origid this call's signed INVITEs carry (the same for every route tried). */
  origid?: string;
  /** re-INVITE in progress on either side (for glare, 491). */
  reinvite?: PendingRelay;
  /** ACK for a relayed re-INVITE's 2xx, per direction, to answer retransmissions. */
  record: CallRecord;
  /** Its place in its rule's call count, until it ends. */
  slot?: Slot;
}

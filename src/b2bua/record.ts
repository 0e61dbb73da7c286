// The in-memory record of a call, kept for CDRs, the control API and metrics: for each leg and
// each attempt, when things happened, who ended the call, the final code and the Reason.

/** Who ended a call or an attempt. */
export type EndedBy = "caller" | "callee" | "tandem";

/** One outgoing attempt (one route tried). */
export interface AttemptRecord {
  index: number;
  route: string;
  callId: string;
  ruri: string;
  from: string;
  to: string;
  target: string;
  /** Wall-clock ms. */
  inviteAt: number;
  firstProvisionalAt?: number;
  answerAt?: number;
  endAt?: number;
  finalStatus?: number;
  reason?: string;
  /** Why the attempt ended: "answered", "failover", "cancel", "timeout", ... */
  outcome?: string;
}

/** The whole call. */
export interface CallRecord {
  id: string;
  callerCallId: string;
  callerFrom: string;
  callerTo: string;
  callerRuri: string;
  source: string;
  rule: string;
  /** Who the caller authenticated as (digest user name, or source address), when the rule asks. */
  user?: string;
  inviteAt: number;
  firstProvisionalAt?: number;
  answerAt?: number;
  endAt?: number;
  /** The SIP status the caller finally got for its INVITE. */
  finalStatus?: number;
  endedBy?: EndedBy;
  /** Why: "bye", "cancel", "no-answer", "no-progress", "max-duration", "drop", "failed"... */
  endReason?: string;
  /** Reason header text seen or sent at the end (RFC 3326). */
  reasonHeader?: string;
  /**
   * The caller's INVITE headers named in `cdr.sip_headers` (lowercase name → its values joined
   * by ", "), for billing by account; absent when none is configured or present.
   */
  headers?: Record<string, string>;
  /**
   * STIR/SHAKEN: what checking the caller's Identity found (verstat, and the attestation and
   * origid of a PASSporT that passed, or the RFC 8224 status of a failure), and the attestation
   * Tandem signed the call's INVITEs with.
   */
  identity?: IdentityRecord;
  attempts: AttemptRecord[];
}

/** STIR/SHAKEN in a call's record. */
export interface IdentityRecord {
  verstat?: string;
  attest?: string;
  origid?: string;
  status?: number;
  /** The attestation of the Identity Tandem added to the INVITEs it sent. */
  signed?: string;
}

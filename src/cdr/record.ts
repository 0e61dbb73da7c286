// The call detail record Tandem writes once per call, when the call ends (RFC 3261 §12 dialog
// times; causes per ITU-T Q.850 and RFC 3326 Reason). Times are UTC epoch milliseconds.

/** Which side ended the call. */
export type EndedBy = "caller" | "callee" | "tandem";

/**
 * Why the call ended: `bye`, `cancel`, `rejected` (final non-2xx from the callee),
 * `timeout:no-progress`, `timeout:no-answer`, `timeout:media`, `max-duration`, `credit`,
 * `drop` (operator), `failover` (every route failed or was at its limits), `error`
 * (transport/internal), `interrupted` (up when Tandem stopped without ending it: a crash, a
 * lost worker, an exit without drain; billed to the last sign of life).
 */
export type EndReason =
  | "bye"
  | "cancel"
  | "rejected"
  | "timeout:no-progress"
  | "timeout:no-answer"
  | "timeout:media"
  | "max-duration"
  | "credit"
  | "drop"
  | "failover"
  | "error"
  | "interrupted";

/** The addressing of one leg: From, To and Request-URI, verbatim. */
export interface LegAddressing {
  from: string;
  to: string;
  ruri: string;
}

/** Optional RTP statistics for the call (from the media relay). */
export interface MediaStats {
  packetsIn?: number;
  packetsOut?: number;
  bytesIn?: number;
  bytesOut?: number;
  packetsLost?: number;
  /** Mean jitter (ms). */
  jitterMs?: number;
  codec?: string;
}

/** One call detail record; serialized as one JSON line in the journal. */
export interface CdrRecord {
  /** Unique CDR id (UUID); also the RADIUS Acct-Multi-Session-Id and h323-conf-id source. */
  id: string;
  /** Call-ID of the incoming (caller, "answer") leg. */
  callIdIn: string;
  /** Call-ID of the outgoing (callee, "originate") leg; absent if no INVITE was sent. */
  callIdOut?: string;
  /** From / To / Request-URI as received from the caller. */
  in: LegAddressing;
  /** As sent on the last attempt; absent if no INVITE was sent. */
  out?: LegAddressing;
  /** Caller's transport address, "ip:port". */
  source: string;
  /** Destination of the last attempt, "host:port". */
  destination?: string;
  /** The digest user name the call authenticated with, if any (also RADIUS User-Name). */
  user?: string;
  /** Routing rule and route names and the 1-based attempt number of the last attempt. */
  rule?: string;
  route?: string;
  attempt: number;
  /** INVITE received. */
  setupAt: number;
  /** First 1xx (other than 100) received. */
  progressAt?: number;
  /** 2xx received (call answered). */
  connectAt?: number;
  /** Call ended (BYE, CANCEL, final failure or teardown by Tandem). */
  disconnectAt: number;
  /** disconnectAt − setupAt. */
  durationMs: number;
  /** disconnectAt − connectAt, 0 if never answered. */
  billableMs: number;
  /** SIP final code of the INVITE toward the caller (200 when answered). */
  finalCode: number;
  /** Q.850 cause (from a Reason header, or mapped from the final code, 16 for BYE). */
  q850: number;
  /** Reason header text received or sent, if any. */
  reason?: string;
  endedBy: EndedBy;
  endReason: EndReason;
  /** The caller's INVITE headers named in `cdr.sip_headers` (lowercase name → values). */
  headers?: Record<string, string>;
  /**
   * STIR/SHAKEN: the caller's Identity as checked (verstat; the attestation and origid of a
   * PASSporT that passed, or the RFC 8224 status of a failure) and the attestation Tandem
   * signed the outgoing INVITEs with.
   */
  identity?: {
    verstat?: string;
    attest?: string;
    origid?: string;
    status?: number;
    signed?: string;
  };
  media?: MediaStats;
  /**
   * The call's media was recorded (a rule with `record`): rtpengine's pcap file in its
   * recording directory is named by `callIdIn`.
   */
  recorded?: boolean;
}

/** A fresh CDR id (RFC 9562 version 4 UUID). */
export function newCdrId(): string {
  return crypto.randomUUID();
}

/**
 * Fills durationMs and billableMs from the times; use when building a record.
 */
export function withDurations(
  rec: Omit<CdrRecord, "durationMs" | "billableMs">,
): CdrRecord {
  return {
    ...rec,
    durationMs: Math.max(0, rec.disconnectAt - rec.setupAt),
    billableMs: rec.connectAt === undefined ? 0 : Math.max(0, rec.disconnectAt - rec.connectAt),
  };
}

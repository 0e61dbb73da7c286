// The media relay as the B2BUA sees it (RFC 3264 offer/answer through an anchoring relay):
// one session per call, offers from either side, independent of the relay's control protocol.

/** One relayed call. `fromTag` is the caller's tag, `toTag` the callee's once known. */
export interface RelaySession {
  /** The caller leg's Call-ID. */
  callId: string;
  /** The caller leg's From tag. */
  fromTag: string;
  /** The callee leg's To tag; needed for answers and for offers coming from the callee. */
  toTag?: string;
}

/** A session whose callee tag is known. */
export type DialogSession = RelaySession & { toTag: string };

/** Which party sent the offer (initial INVITE: the caller; a re-INVITE/UPDATE: either). */
export type OfferSide = "caller" | "callee";

/** Per-request options. */
export interface OfferOptions {
  /** Who sent this offer. Default "caller". */
  from?: OfferSide;
  /**
   * Address family of the party that will receive the rewritten SDP, when it differs from the
   * sender's (IPv4 ↔ IPv6 legs).
   */
  family?: "IP4" | "IP6";
  /**
   * Which parties are WebRTC endpoints (RFC 8829/8834: ICE, DTLS-SRTP, rtcp-mux): the one that
   * sent this SDP and the one that will receive it. A relay that can converts between a WebRTC
   * party and a plain RTP one.
   */
  webrtc?: { sender: boolean; receiver: boolean };
  /**
   * Record the call's media (a relay that can: rtpengine, to pcap files named by the Call-ID),
   * with this metadata text kept beside the recording.
   */
  record?: { metadata: string };
}

/** Options of an answer: `from` names the side that sent the offer being answered. */
export type AnswerOptions = OfferOptions;

/** Media received by the relay from one party. */
export interface LegStats {
  side: OfferSide;
  tag: string;
  packets: number;
  bytes: number;
}

/** Counters of one session. */
export interface SessionStats {
  relay: string;
  legs: LegStats[];
  /** Protocol-specific raw answer (rtpproxy `Q` counters) when legs cannot be told apart. */
  raw?: unknown;
}

/** What the B2BUA calls; every method talks to the relay that holds the session. */
export interface MediaRelay {
  /** Relay an offer; returns the SDP to send to the other side. */
  offer(session: RelaySession, sdp: string, opts?: OfferOptions): Promise<string>;
  /** Relay the answer to an offer; returns the SDP to send to the offerer. */
  answer(session: DialogSession, sdp: string, opts?: AnswerOptions): Promise<string>;
  /** Release the session's ports. */
  delete(session: RelaySession): Promise<void>;
  /** Packet counters, or undefined when the session is not relayed. */
  stats(session: RelaySession): Promise<SessionStats | undefined>;
}

/** A single relay server behind {@link MediaRelay}, as a {@link RelayPool} member. */
export interface RelayDriver extends MediaRelay {
  /** "address:port" or "unix:/path". */
  readonly name: string;
  /** Resolves when the server answers a liveness probe. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** SDP policy applied by every driver. */
export interface RelayPolicy {
  /** Allowed codecs (names or payload numbers); empty = all. */
  codecs: string[];
  ice: "strip" | "keep";
}

/** The tags in protocol order: the offerer's first. */
export function orderedTags(
  session: RelaySession,
  side: OfferSide,
): { offerer: string; answerer?: string } {
  if (side === "caller") return { offerer: session.fromTag, answerer: session.toTag };
  if (session.toTag === undefined) {
    throw new TypeError("an offer from the callee needs session.toTag (the callee's tag)");
  }
  return { offerer: session.toTag, answerer: session.fromTag };
}

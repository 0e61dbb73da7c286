// MediaRelay over one rtpengine (docs "ng Control Protocol"): offer/answer with the offerer's
// tag as from-tag, so an offer from the callee swaps the tags as rtpengine expects. The codec
// mask is applied to the SDP before it reaches rtpengine (sdp.ts); ICE and address family map to
// the ng "ICE" and "address family" keys. Between a WebRTC party and a plain RTP one, rtpengine
// converts the media (DTLS-SRTP and ICE on the browser's side, RTP/AVP on the other).

import type { RtpengineClient } from "./rtpengine.ts";
import type { NgFlags } from "./rtpengine.ts";
import {
  type AnswerOptions,
  type DialogSession,
  type OfferOptions,
  orderedTags,
  type RelayDriver,
  type RelayPolicy,
  type RelaySession,
  type SessionStats,
} from "./relay.ts";
import { filterCodecs } from "./sdp.ts";

/** {@link RelayDriver} on an {@link RtpengineClient}. */
export class RtpengineRelay implements RelayDriver {
  constructor(private client: RtpengineClient, private policy: RelayPolicy) {}

  get name(): string {
    return this.client.relay;
  }

  private flags(opts: OfferOptions): NgFlags {
    const f: NgFlags = {
      replace: ["origin", "session-connection"],
      ICE: this.policy.ice === "strip" ? "remove" : undefined,
      "address family": opts.family,
    };
    const w = opts.webrtc;
    if (w?.receiver && !w.sender) {
      // To a browser: DTLS-SRTP with ICE and RTP/RTCP on one port, as WebRTC requires.
      f["transport-protocol"] = "UDP/TLS/RTP/SAVPF";
      f.ICE = "force";
      f["rtcp-mux"] = ["require"];
    } else if (w?.sender && !w.receiver) {
      // From a browser to a plain RTP party: no ICE, no encryption, RTCP on its own port.
      f["transport-protocol"] = "RTP/AVP";
      f.ICE = "remove";
      f["rtcp-mux"] = ["demux"];
    }
    if (opts.record) {
      f["record call"] = "yes";
      f.metadata = opts.record.metadata;
    }
    return f;
  }

  offer(session: RelaySession, sdp: string, opts: OfferOptions = {}): Promise<string> {
    const t = orderedTags(session, opts.from ?? "caller");
    const flags = this.flags(opts);
    // A re-offer inside the dialog names the other tag too, so rtpengine keeps the same branch.
    if (t.answerer !== undefined) flags["to-tag"] = t.answerer;
    return this.client.offer(
      session.callId,
      t.offerer,
      filterCodecs(sdp, this.policy.codecs),
      flags,
    );
  }

  answer(session: DialogSession, sdp: string, opts: AnswerOptions = {}): Promise<string> {
    const t = orderedTags(session, opts.from ?? "caller");
    return this.client.answer(
      session.callId,
      t.offerer,
      t.answerer!,
      filterCodecs(sdp, this.policy.codecs),
      this.flags(opts),
    );
  }

  delete(session: RelaySession): Promise<void> {
    return this.client.delete(session.callId, session.fromTag);
  }

  async stats(session: RelaySession): Promise<SessionStats> {
    const q = await this.client.query(session.callId);
    return {
      relay: this.name,
      legs: q.tags
        .filter((t) => t.tag === session.fromTag || t.tag === session.toTag)
        .map((t) => ({
          side: t.tag === session.fromTag ? "caller" : "callee",
          tag: t.tag,
          packets: t.rtp.packets,
          bytes: t.rtp.bytes,
        })),
    };
  }

  ping(): Promise<void> {
    return this.client.ping();
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

// MediaRelay over one rtpproxy (rtpproxy(8) control protocol): per m= line, `U` with the
// offerer's receive address and `L` with the answerer's, tags carrying the media number ";n".
// rtpproxy does not touch SDP, so the codec mask, ICE removal and c=/m= rewrite happen here.

import type { RtpproxyClient, RtpproxyPort } from "./rtpproxy.ts";
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
import { filterCodecs, mediaEndpoints, rewriteEndpoints, stripIce } from "./sdp.ts";

/** {@link RelayDriver} on an {@link RtpproxyClient}. */
export class RtpproxyRelay implements RelayDriver {
  constructor(
    private client: RtpproxyClient,
    private policy: RelayPolicy,
    /** Media address to write when the proxy's reply names none (old rtpproxy). */
    private mediaAddress: string,
  ) {}

  get name(): string {
    return this.client.relay;
  }

  private prepare(sdp: string): string {
    const masked = filterCodecs(sdp, this.policy.codecs);
    return this.policy.ice === "strip" ? stripIce(masked) : masked;
  }

  private async relayStreams(
    sdp: string,
    opts: OfferOptions,
    send: (
      address: string,
      port: number,
      index: number,
      modifiers: string,
    ) => Promise<RtpproxyPort>,
  ): Promise<string> {
    const body = this.prepare(sdp);
    const ports: number[] = [];
    let relayAddress: string | undefined;
    let family: "IP4" | "IP6" | undefined;
    for (const ep of mediaEndpoints(body)) {
      if (ep.port === 0) {
        ports.push(0);
        continue;
      }
      // "6": the party receiving this SDP is on IPv6 (rtpproxy's bridging modifier).
      const r = await send(ep.address, ep.port, ep.index, opts.family === "IP6" ? "6" : "");
      ports.push(r.port);
      relayAddress ??= r.address;
      family ??= r.family;
    }
    const address = relayAddress ?? this.mediaAddress;
    return rewriteEndpoints(
      body,
      address,
      family ?? (address.includes(":") ? "IP6" : "IP4"),
      ports,
    );
  }

  offer(session: RelaySession, sdp: string, opts: OfferOptions = {}): Promise<string> {
    const t = orderedTags(session, opts.from ?? "caller");
    return this.relayStreams(
      sdp,
      opts,
      (address, port, mediaIndex, modifiers) =>
        this.client.update(session.callId, address, port, t.offerer, t.answerer, {
          mediaIndex,
          modifiers,
        }),
    );
  }

  answer(session: DialogSession, sdp: string, opts: AnswerOptions = {}): Promise<string> {
    const t = orderedTags(session, opts.from ?? "caller");
    return this.relayStreams(
      sdp,
      opts,
      (address, port, mediaIndex, modifiers) =>
        this.client.lookup(session.callId, address, port, t.offerer, t.answerer!, {
          mediaIndex,
          modifiers,
        }),
    );
  }

  delete(session: RelaySession): Promise<void> {
    return this.client.delete(session.callId, session.fromTag, session.toTag);
  }

  async stats(session: RelaySession): Promise<SessionStats | undefined> {
    if (session.toTag === undefined) return undefined;
    const q = await this.client.query(session.callId, session.fromTag, session.toTag);
    // Q's counters differ between rtpproxy and rtpengine's emulation: report them raw.
    return { relay: this.name, legs: [], raw: q };
  }

  ping(): Promise<void> {
    return this.client.ping();
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

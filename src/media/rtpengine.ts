// rtpengine ng control protocol client (rtpengine docs "ng Control Protocol": ping, offer,
// answer, delete, query, list). Each request is "<cookie> <bencoded dict>" over UDP; the reply
// repeats the cookie and carries "result" ("ok", "pong", "error" with "error-reason").

import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import type { Registry } from "../util/metrics.ts";
import { bdecode, type BDecoded, bencode, type BValue } from "./bencode.ts";
import { BencodeError, RelayError } from "./errors.ts";
import { RelayMetrics } from "./metrics.ts";
import { type ControlOptions, relayName, UdpControlChannel } from "./udp-control.ts";

/** Extra ng keys for offer/answer ("ICE", "address family", "replace", "codec"...). */
export type NgFlags = Record<string, BValue | undefined>;

/** A decoded ng reply dictionary. */
export type NgReply = { [key: string]: BDecoded };

/** Packet counters of one direction or total. */
export interface PacketStats {
  packets: number;
  bytes: number;
  errors: number;
}

/** What the relay received from one party (one tag), summed over its media streams. */
export interface TagStats {
  tag: string;
  /** RTP received from this party. */
  rtp: PacketStats;
  /** RTCP received from this party. */
  rtcp: PacketStats;
  /** Relay ports this party sends to (one per RTP stream). */
  localPorts: number[];
}

/** The `query` answer, reduced to per-leg counters. */
export interface CallStats {
  /** Creation time, seconds since the epoch. */
  created: number;
  tags: TagStats[];
  totals: { rtp: PacketStats; rtcp: PacketStats };
}

/** Client options: timing plus where metrics and logs go. */
export interface RtpengineOptions extends ControlOptions {
  registry?: Registry;
  log?: Logger;
}

const zero = (): PacketStats => ({ packets: 0, bytes: 0, errors: 0 });

function num(v: BDecoded | undefined): number {
  return typeof v === "number" ? v : 0;
}

function dict(v: BDecoded | undefined): NgReply {
  return v && typeof v === "object" && !Array.isArray(v) ? v : {};
}

function list(v: BDecoded | undefined): BDecoded[] {
  return Array.isArray(v) ? v : [];
}

function add(to: PacketStats, from: BDecoded | undefined): void {
  const d = dict(from);
  to.packets += num(d.packets);
  to.bytes += num(d.bytes);
  to.errors += num(d.errors);
}

/** One rtpengine, reached over its ng UDP port. */
export class RtpengineClient {
  private channel: UdpControlChannel;
  private metrics: RelayMetrics;
  private log: Logger;

  constructor(host: string, port: number, opts: RtpengineOptions) {
    const relay = relayName(host, port);
    this.metrics = new RelayMetrics(relay, opts.registry);
    this.channel = new UdpControlChannel(host, port, opts, this.metrics);
    this.log = (opts.log ?? silentLogger).child({ relay });
  }

  /** "address:port" of the relay. */
  get relay(): string {
    return this.channel.relay;
  }

  /** Send any ng command; resolves with the reply, throws {@link RelayError} on "error". */
  async command(command: string, params: NgFlags = {}): Promise<NgReply> {
    const raw = await this.channel.request(command, bencode({ ...params, command }));
    let reply: BDecoded;
    try {
      reply = bdecode(raw);
    } catch (err) {
      this.metrics.error();
      if (err instanceof BencodeError) throw new RelayError(this.relay, command, err.message);
      throw err;
    }
    const d = dict(reply);
    const result = d.result;
    if (typeof d.warning === "string") {
      this.log.warn("media.relay_warning", { command, warning: d.warning });
    }
    if (result !== "ok" && result !== "pong") {
      this.metrics.error();
      const reason = typeof d["error-reason"] === "string" ? d["error-reason"] : String(result);
      throw new RelayError(this.relay, command, reason);
    }
    return d;
  }

  /** Liveness check; resolves when the relay answers "pong". */
  async ping(): Promise<void> {
    await this.command("ping");
  }

  /** Offer from the party tagged `fromTag`; returns the SDP to send to the other party. */
  async offer(callId: string, fromTag: string, sdp: string, flags: NgFlags = {}): Promise<string> {
    const r = await this.command("offer", {
      ...flags,
      "call-id": callId,
      "from-tag": fromTag,
      sdp,
    });
    return this.sdpOf(r, "offer");
  }

  /**
   * Answer to an offer that came from `fromTag`, given by `toTag`; returns the SDP to send to the
   * offerer.
   */
  async answer(
    callId: string,
    fromTag: string,
    toTag: string,
    sdp: string,
    flags: NgFlags = {},
  ): Promise<string> {
    const r = await this.command("answer", {
      ...flags,
      "call-id": callId,
      "from-tag": fromTag,
      "to-tag": toTag,
      sdp,
    });
    return this.sdpOf(r, "answer");
  }

  /** End the call (or only the branch between the two tags, when `toTag` is given). */
  async delete(callId: string, fromTag: string, toTag?: string): Promise<void> {
    await this.command("delete", { "call-id": callId, "from-tag": fromTag, "to-tag": toTag });
  }

  /** Per-tag packet counters of a call; {@link RelayError} "Unknown call-id" once it is gone. */
  async query(callId: string): Promise<CallStats> {
    const r = await this.command("query", { "call-id": callId });
    const tags: TagStats[] = [];
    for (const [tag, v] of Object.entries(dict(r.tags))) {
      const t: TagStats = { tag, rtp: zero(), rtcp: zero(), localPorts: [] };
      for (const m of list(dict(v).medias)) {
        for (const s of list(dict(m).streams)) {
          const sd = dict(s);
          // A stream flagged RTCP alone carries RTCP; with rtcp-mux (WebRTC) the one stream is
          // flagged both and carries the media.
          const flags = list(sd.flags);
          const isRtcp = flags.includes("RTCP") && !flags.includes("RTP");
          add(isRtcp ? t.rtcp : t.rtp, sd.stats);
          if (!isRtcp) t.localPorts.push(num(sd["local port"]));
        }
      }
      tags.push(t);
    }
    const totals = { rtp: zero(), rtcp: zero() };
    add(totals.rtp, dict(r.totals).RTP);
    add(totals.rtcp, dict(r.totals).RTCP);
    return { created: num(r.created), tags, totals };
  }

  /** Call-IDs the relay holds (up to `limit`, rtpengine's default 32 when omitted). */
  async list(limit?: number): Promise<string[]> {
    const r = await this.command("list", { limit });
    return list(r.calls).filter((c): c is string => typeof c === "string");
  }

  /** Close the control socket. */
  close(): Promise<void> {
    return this.channel.close();
  }

  private sdpOf(r: NgReply, command: string): string {
    if (typeof r.sdp !== "string") {
      this.metrics.error();
      throw new RelayError(this.relay, command, "reply has no sdp");
    }
    return r.sdp;
  }
}

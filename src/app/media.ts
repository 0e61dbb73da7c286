// Media anchoring for the B2BUA (RFC 3264 offer/answer through a relay): MediaHooks over the
// relay pools of src/media (rtpengine ng, rtpproxy), one pool per relay kind that some route
// uses. One relay session per call, keyed on the caller leg's Call-ID and From tag; the callee
// leg's To tag completes it once the callee has answered.

import type { Call, MediaHooks } from "../b2bua/mod.ts";
import type { Config } from "../config/types.ts";
import {
  createRelayPool,
  type MediaDeps,
  multipartBoundary,
  type OfferSide,
  type RelayPool,
  type RelaySession,
  runtimeTimers,
  sdpPartRange,
  type SessionStats,
  spliceBytes,
} from "../media/mod.ts";
import type { Logger } from "../util/log.ts";
import { isWebSocket } from "../transport/mod.ts";
import { metrics } from "../util/metrics.ts";

type RelayKind = "rtpengine" | "rtpproxy";

/** What {@link createMediaHooks} gives the wiring. */
export interface MediaService {
  hooks: MediaHooks;
  /**
   * The relay's counters of an ended call, read just before its session was released; resolves
   * undefined for calls that were not relayed (or whose relay did not answer).
   */
  stats(call: Call): Promise<SessionStats | undefined>;
  /** Pool status per relay kind (for /status). */
  status(): Record<string, ReturnType<RelayPool["status"]>>;
  /** Stop health checks and close every relay control socket. */
  close(): Promise<void>;
}

/** Where a call's relay session lives. */
interface Anchor {
  pool: RelayPool;
  kind: RelayKind;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** "IP6" for an IPv6 literal (bracketed or not), else "IP4". */
function familyOf(host: string): "IP4" | "IP6" {
  return host.includes(":") ? "IP6" : "IP4";
}

/** The other side of an offer/answer exchange. */
function other(side: OfferSide): OfferSide {
  return side === "caller" ? "callee" : "caller";
}

/** A body the relay can rewrite: an SDP session description (RFC 4566 §5: starts with v=). */
function isSdp(text: string): boolean {
  return /^\s*v=0/.test(text);
}

/**
 * `body` with its SDP (the whole body, or the application/sdp part of a multipart one) passed
 * through `relay`; the same bytes when there is no SDP or the relay gave it back unchanged
 * (onFailure "pass"), so that nothing else in the body is ever re-encoded.
 */
async function rewriteSdp(
  body: Uint8Array,
  contentType: string | undefined,
  relay: (sdp: string) => Promise<string>,
): Promise<Uint8Array> {
  const part = multipartBoundary(contentType) === undefined
    ? { start: 0, end: body.length }
    : sdpPartRange(body, contentType);
  if (!part) return body;
  const text = dec.decode(body.subarray(part.start, part.end));
  if (!isSdp(text)) return body;
  const out = await relay(text);
  if (out === text) return body;
  const bytes = enc.encode(out);
  return part.start === 0 && part.end === body.length ? bytes : spliceBytes(body, part, bytes);
}

/**
 * Relay hooks for the configuration, or undefined when no route anchors media (the engine then
 * never leaves its synchronous path).
 */
export function createMediaHooks(
  cfg: Config,
  log: Logger,
  deps: Partial<MediaDeps> = {},
): MediaService | undefined {
  const kinds = new Set<RelayKind>();
  for (const rule of [...cfg.rules, { routes: cfg.routes ?? [] }]) {
    for (const route of rule.routes) if (route.media !== "none") kinds.add(route.media);
  }
  if (kinds.size === 0) return undefined;
  const mc = cfg.media;
  if (!mc) throw new Error("routes anchor media but the configuration has no media section");

  const pools = new Map<RelayKind, RelayPool>();
  for (const kind of kinds) {
    pools.set(
      kind,
      createRelayPool(mc, kind, {
        timers: runtimeTimers,
        registry: metrics,
        ...deps,
        log: deps.log ?? log,
      }),
    );
  }
  /** The pool holding each call's session (the one its offer went to). */
  const anchors = new WeakMap<Call, Anchor>();
  /** Counters read at the end of each relayed call. */
  const ended = new WeakMap<Call, Promise<SessionStats | undefined>>();

  const sessionOf = (call: Call): RelaySession => ({
    callId: call.a.invite.callId,
    fromTag: call.a.invite.from.tag ?? "",
    toTag: call.b?.dialog?.remoteTag,
  });
  /** Is a party a WebRTC endpoint? A browser reaches Tandem over WebSocket (RFC 7118). */
  const webrtc = (call: Call, side: OfferSide) =>
    isWebSocket(side === "caller" ? call.a.source.protocol : call.b?.dest.protocol ?? "udp");
  const webrtcOf = (call: Call, sender: OfferSide) => ({
    sender: webrtc(call, sender),
    receiver: webrtc(call, other(sender)),
  });
  /** Family of the party that will receive SDP coming from `from`. */
  const familyFor = (call: Call, receiver: OfferSide) =>
    receiver === "caller" ? familyOf(call.a.source.host) : familyOf(call.b?.dest.host ?? "");

  /** The pool for this call's current route; a failover to another relay kind moves it. */
  const anchorFor = (call: Call): Anchor => {
    const kind = call.b?.route.media;
    if (kind === undefined || kind === "none") {
      throw new Error(`call ${call.id} has no route that anchors media`);
    }
    const held = anchors.get(call);
    if (held?.kind === kind) return held;
    if (held) void held.pool.delete(sessionOf(call));
    const anchor = { pool: pools.get(kind)!, kind };
    anchors.set(call, anchor);
    return anchor;
  };

  const hooks: MediaHooks = {
    uses: (route) => route.media !== "none",

    offer(call, from, body, contentType) {
      return rewriteSdp(body, contentType, async (text) => {
        const { pool, kind } = anchorFor(call);
        // A rule with `record` (its routes anchor on rtpengine, which records): every offer asks,
        // so a failover or re-INVITE keeps the recording on.
        const record = call.rule.record && kind === "rtpengine"
          ? { metadata: `tandem_call:${call.id}|rule:${call.rule.name}` }
          : undefined;
        const out = await pool.offer(sessionOf(call), text, {
          from,
          family: familyFor(call, other(from)),
          webrtc: webrtcOf(call, from),
          ...(record ? { record } : {}),
        });
        // An offer the relay took (onFailure "pass" hands the SDP back unchanged otherwise).
        if (record && out !== text) call.recorded = true;
        return out;
      });
    },

    answer(call, from, body, contentType) {
      return rewriteSdp(body, contentType, (text) => {
        const anchor = anchors.get(call);
        if (!anchor) return Promise.resolve(text); // the offer was not relayed (no SDP in it)
        const session = sessionOf(call);
        if (session.toTag === undefined) {
          throw new Error(`call ${call.id}: an answer without the callee's tag cannot be relayed`);
        }
        // The relay's `from` names the offerer: the side that did not send this answer.
        const offerer = other(from);
        return anchor.pool.answer({ ...session, toTag: session.toTag }, text, {
          from: offerer,
          family: familyFor(call, offerer),
          webrtc: webrtcOf(call, from),
        });
      });
    },

    end(call) {
      const anchor = anchors.get(call);
      if (!anchor) return;
      anchors.delete(call);
      // Wait for relay operations still queued on the call, so a late offer cannot recreate the
      // session after its delete; then read the counters and release the ports.
      const done = (call.mediaChain ?? Promise.resolve()).then(async () => {
        const session = sessionOf(call);
        let stats: SessionStats | undefined;
        try {
          stats = await anchor.pool.stats(session);
        } catch (err) {
          log.warn("media.stats_failed", { call: call.id, err });
        }
        await anchor.pool.delete(session);
        if (stats) {
          log.info("media.session_ended", {
            call: call.id,
            relay: stats.relay,
            legs: stats.legs.map((l) => ({ side: l.side, packets: l.packets, bytes: l.bytes })),
          });
        }
        return stats;
      }).catch((err) => {
        log.warn("media.end_failed", { call: call.id, err });
        return undefined;
      });
      ended.set(call, done);
    },
  };

  return {
    hooks,
    stats: (call) => ended.get(call) ?? Promise.resolve(undefined),
    status: () => Object.fromEntries([...pools].map(([k, p]) => [k, p.status()])),
    close: async () => {
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
  };
}

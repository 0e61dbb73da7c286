// The loopback channel SIP workers forward datagrams over: each worker binds a UDP socket on
// 127.0.0.1 and hands a datagram it does not own to the owner's socket, wrapped with the
// address it came from so the owner answers and stamps Via exactly as if it had received it.
//
// Frame: "TDW1", an 8-byte token the supervisor gives every worker of one cluster (so a stray
// or forged loopback datagram cannot inject SIP with a spoofed source), the source protocol
// (0 = udp), port (2 bytes), host length (1 byte), host (ASCII), then the datagram.

import { normalizeHost } from "./address.ts";
import type { Endpoint, Listener, SocketAdapter, UdpOptions } from "./types.ts";

const MAGIC = [0x54, 0x44, 0x57, 0x31]; // "TDW1"
export const LINK_TOKEN_BYTES = 8;
const HEAD = MAGIC.length + LINK_TOKEN_BYTES + 1 + 2 + 1;

/** What the link reports upward. */
export interface WorkerLinkEvents {
  /** A datagram forwarded by another worker, with its original source. */
  onMessage(data: Uint8Array, source: Endpoint): void;
  /** A frame that is not ours, or a forward to a worker that is not there. */
  onDrop(reason: "worker-down" | "bad-link-frame"): void;
}

/** Wrap a datagram for the link (pure; exported for tests). */
export function encodeFrame(token: Uint8Array, data: Uint8Array, source: Endpoint): Uint8Array {
  const host = source.host;
  const out = new Uint8Array(HEAD + host.length + data.length);
  out.set(MAGIC, 0);
  out.set(token, MAGIC.length);
  let i = MAGIC.length + LINK_TOKEN_BYTES;
  out[i++] = 0;
  out[i++] = source.port >> 8;
  out[i++] = source.port & 0xff;
  out[i++] = host.length;
  for (let k = 0; k < host.length; k++) out[i++] = host.charCodeAt(k);
  out.set(data, i);
  return out;
}

/** Unwrap a link frame; undefined when it is malformed or carries another token. */
export function decodeFrame(
  token: Uint8Array,
  frame: Uint8Array,
): { data: Uint8Array; source: Endpoint } | undefined {
  if (frame.length < HEAD) return undefined;
  for (let k = 0; k < MAGIC.length; k++) if (frame[k] !== MAGIC[k]) return undefined;
  for (let k = 0; k < LINK_TOKEN_BYTES; k++) {
    if (frame[MAGIC.length + k] !== token[k]) return undefined;
  }
  let i = MAGIC.length + LINK_TOKEN_BYTES;
  if (frame[i++] !== 0) return undefined;
  const port = (frame[i] << 8) | frame[i + 1];
  i += 2;
  const len = frame[i++];
  if (len === 0 || len > 45 || i + len > frame.length) return undefined;
  let host = "";
  for (let k = 0; k < len; k++) {
    const c = frame[i + k];
    // An IP literal: hex digits, '.', ':' and '%' (zone) only.
    if (
      !((c >= 48 && c <= 58) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 46 ||
        c === 37)
    ) return undefined;
    host += String.fromCharCode(c);
  }
  return {
    data: frame.subarray(i + len),
    source: { protocol: "udp", host: normalizeHost(host), port },
  };
}

/** One worker's end of the link. */
export class WorkerLink {
  private peers: (number | undefined)[] = [];

  private constructor(
    private readonly listener: Listener,
    private readonly token: Uint8Array,
    private readonly events: WorkerLinkEvents,
  ) {}

  /** Bind this worker's link socket on 127.0.0.1 (an ephemeral port). */
  static async open(
    adapter: SocketAdapter,
    token: Uint8Array,
    events: WorkerLinkEvents,
    udp?: UdpOptions,
  ): Promise<WorkerLink> {
    if (token.length !== LINK_TOKEN_BYTES) throw new RangeError("link token: 8 bytes");
    // deno-lint-ignore prefer-const
    let link: WorkerLink;
    const listener = await adapter.udp({ host: "127.0.0.1", port: 0 }, {
      onData: (frame, from) => link.receive(frame, from),
      onError: () => {/* a worker restarting: its datagrams are counted as dropped */},
    }, { receiveBuffer: udp?.receiveBuffer });
    link = new WorkerLink(listener, token, events);
    return link;
  }

  /** The link port other workers send to. */
  get port(): number {
    return this.listener.local.port;
  }

  /** The link ports of every worker, by index (undefined: that worker is not up). */
  setPeers(ports: (number | undefined)[]): void {
    this.peers = ports.slice();
  }

  /** Send a datagram to the worker `owner`. */
  forward(owner: number, data: Uint8Array, source: Endpoint): void {
    const port = this.peers[owner];
    if (port === undefined) return this.events.onDrop("worker-down");
    this.listener.send(
      encodeFrame(this.token, data, source),
      { host: "127.0.0.1", port },
      () => this.events.onDrop("worker-down"),
    );
  }

  private receive(frame: Uint8Array, from: Endpoint): void {
    const m = from.host === "127.0.0.1" ? decodeFrame(this.token, frame) : undefined;
    if (!m) return this.events.onDrop("bad-link-frame");
    this.events.onMessage(m.data, m.source);
  }

  close(): Promise<void> {
    return this.listener.close();
  }
}

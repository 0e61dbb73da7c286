// HEPv3 (the Homer Encapsulation Protocol, "EEP"): a copy of each SIP message Tandem sends or
// receives, with its addresses, ports and time, for a capture server (Homer, or Kamailio's
// sipcapture) to store and show as call flows. Pure: bytes in, bytes out.
//
// Packet: "HEP3", total length (uint16), then chunks of vendor (uint16, 0 = generic), type
// (uint16), length (uint16, header included) and value; integers in network byte order.

import type { Protocol } from "./types.ts";

/** What one captured message is. */
export interface HepMessage {
  src: { host: string; port: number };
  dst: { host: string; port: number };
  protocol: Protocol;
  /** Wall-clock ms of the capture. */
  timeMs: number;
  /** The capture agent's id (`hep.agent_id`), so a server tells its agents apart. */
  agentId: number;
  /** Sent as the authenticate-key chunk when set. */
  password?: string;
  /** The SIP message as on the wire. */
  payload: Uint8Array;
  /**
   * Sent as the correlation-id chunk when set: for a B2BUA the caller's Call-ID on both legs, so
   * the capture server can show the two dialogs of one call together.
   */
  correlationId?: string;
}

/** Generic chunk types (HEPv3 §3). */
const CHUNK = {
  family: 0x0001,
  protocolId: 0x0002,
  ip4Src: 0x0003,
  ip4Dst: 0x0004,
  ip6Src: 0x0005,
  ip6Dst: 0x0006,
  srcPort: 0x0007,
  dstPort: 0x0008,
  seconds: 0x0009,
  micros: 0x000a,
  protocolType: 0x000b,
  agentId: 0x000c,
  authKey: 0x000e,
  payload: 0x000f,
  correlationId: 0x0011,
} as const;

/** Address families as Linux numbers them (HEP carries AF_INET / AF_INET6). */
const AF_INET = 2;
const AF_INET6 = 10;
/** HEP protocol type of SIP. */
const PROTOCOL_SIP = 1;
/** A HEP packet's length is a uint16. */
const MAX_PACKET = 0xffff;

/**
 * The HEPv3 packet for `m`; undefined when its addresses are not IP literals of one family, or
 * the message is too large for one packet (a capture is best effort, never an error to SIP).
 */
export function encodeHep(m: HepMessage): Uint8Array | undefined {
  const src = ipBytes(m.src.host);
  const dst = ipBytes(m.dst.host);
  if (!src || !dst || src.length !== dst.length) return undefined;
  const v6 = src.length === 16;
  const enc = new TextEncoder();
  const key = m.password ? enc.encode(m.password) : undefined;
  const cid = m.correlationId ? enc.encode(m.correlationId) : undefined;
  const size = 6 + // header
    7 + 7 + // family, protocol id
    2 * (6 + src.length) + // addresses
    8 + 8 + // ports
    10 + 10 + // seconds, microseconds
    7 + 10 + // protocol type, agent id
    (key ? 6 + key.length : 0) +
    6 + m.payload.length +
    (cid ? 6 + cid.length : 0);
  if (size > MAX_PACKET) return undefined;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set([0x48, 0x45, 0x50, 0x33]); // "HEP3"
  view.setUint16(4, size);
  let at = 6;
  const chunk = (type: number, length: number) => {
    view.setUint16(at, 0);
    view.setUint16(at + 2, type);
    view.setUint16(at + 4, 6 + length);
    at += 6;
  };
  const u8 = (type: number, v: number) => {
    chunk(type, 1);
    view.setUint8(at, v);
    at += 1;
  };
  const u16 = (type: number, v: number) => {
    chunk(type, 2);
    view.setUint16(at, v);
    at += 2;
  };
  const u32 = (type: number, v: number) => {
    chunk(type, 4);
    view.setUint32(at, v >>> 0);
    at += 4;
  };
  const bytes = (type: number, b: Uint8Array) => {
    chunk(type, b.length);
    out.set(b, at);
    at += b.length;
  };
  u8(CHUNK.family, v6 ? AF_INET6 : AF_INET);
  u8(CHUNK.protocolId, m.protocol === "udp" ? 17 : 6);
  bytes(v6 ? CHUNK.ip6Src : CHUNK.ip4Src, src);
  bytes(v6 ? CHUNK.ip6Dst : CHUNK.ip4Dst, dst);
  u16(CHUNK.srcPort, m.src.port);
  u16(CHUNK.dstPort, m.dst.port);
  u32(CHUNK.seconds, Math.floor(m.timeMs / 1000));
  u32(CHUNK.micros, Math.round((m.timeMs % 1000) * 1000));
  u8(CHUNK.protocolType, PROTOCOL_SIP);
  u32(CHUNK.agentId, m.agentId);
  if (key) bytes(CHUNK.authKey, key);
  bytes(CHUNK.payload, m.payload);
  if (cid) bytes(CHUNK.correlationId, cid);
  return out;
}

/** The 4 or 16 bytes of an IPv4 or IPv6 literal (brackets allowed); undefined otherwise. */
export function ipBytes(host: string): Uint8Array | undefined {
  const h = host[0] === "[" ? host.slice(1, -1) : host;
  if (!h.includes(":")) {
    const parts = h.split(".");
    if (parts.length !== 4) return undefined;
    const out = new Uint8Array(4);
    for (let i = 0; i < 4; i++) {
      if (!/^\d{1,3}$/.test(parts[i]) || Number(parts[i]) > 255) return undefined;
      out[i] = Number(parts[i]);
    }
    return out;
  }
  // IPv6, with at most one "::", and an IPv4 tail allowed ("::ffff:192.0.2.1").
  const zone = h.indexOf("%");
  let text = zone >= 0 ? h.slice(0, zone) : h;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = ipBytes(text.slice(lastColon + 1));
    if (!v4) return undefined;
    const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hex(v4[0], v4[1])}:${hex(v4[2], v4[3])}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const group = (s: string) => (s === "" ? [] : s.split(":"));
  const head = group(halves[0]);
  const rest = halves.length === 2 ? group(halves[1]) : [];
  const given = head.length + rest.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const words: number[] = head.map(parseHex);
  if (halves.length === 2) { for (let i = given; i < 8; i++) words.push(0); }
  for (const g of rest) words.push(parseHex(g));
  if (words.some((w) => !(w >= 0))) return undefined;
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

function parseHex(g: string): number {
  return /^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : NaN;
}

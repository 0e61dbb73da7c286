// RFC 7118 SIP over WebSocket: the RFC 6455 opening handshake (§4, with the "sip" subprotocol
// RFC 7118 §4 requires) and base framing (§5), on byte chunks. Each WebSocket message carries
// exactly one SIP message (RFC 7118 §5.1), so a message is the framing: no Content-Length
// scan. Pure apart from SHA-1 (node:crypto, the same on Bun, Deno and Node) and the client's
// masking keys; the owner moves the bytes.

import { createHash } from "node:crypto";
import { FramingError } from "./errors.ts";
import { type Framer, type FrameSink, joinChunk } from "./stream-framer.ts";

/** RFC 6455 §1.3: appended to the client's key before hashing. */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** The opening handshake's request or response may not be longer than this. */
export const MAX_HANDSHAKE = 8192;

/** RFC 6455 §7.4.1 close codes we send. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  tooBig: 1009,
} as const;

/** Which end of the connection we are: servers read masked frames, clients write them. */
export type WsRole = "server" | "client";

/** Where a connection is: opening handshake, carrying messages, or done (closed or failed). */
type WsState = "handshake" | "open" | "closed";

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

const EMPTY = new Uint8Array(0);
const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** RFC 6455 §4.2.2: Sec-WebSocket-Accept for a client's Sec-WebSocket-Key. */
export function acceptFor(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

/** What a client's opening handshake asked for, or why it cannot be served. */
export type UpgradeRequest =
  | { ok: true; key: string; path: string; host?: string; origin?: string }
  | { ok: false; status: number; reason: string; extra?: string };

/**
 * RFC 6455 §4.2.1 and RFC 7118 §4: check a client's opening handshake (the text up to and with
 * the blank line). A request that is not a WebSocket upgrade offering "sip" is refused with
 * the HTTP status to answer.
 */
export function parseUpgradeRequest(head: string): UpgradeRequest {
  const lines = head.split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/1\.1$/.exec(lines[0]);
  if (!m) return { ok: false, status: 400, reason: "not an HTTP/1.1 request line" };
  if (m[1] !== "GET") return { ok: false, status: 405, reason: "only GET upgrades" };
  const h = headerMap(lines);
  if (!tokens(h.get("upgrade")).includes("websocket")) {
    return {
      ok: false,
      status: 426,
      reason: "SIP here is over WebSocket only (no Upgrade: websocket)",
      extra: "Upgrade: websocket\r\n",
    };
  }
  if (!tokens(h.get("connection")).includes("upgrade")) {
    return { ok: false, status: 400, reason: "Connection does not name Upgrade" };
  }
  if (h.get("sec-websocket-version")?.trim() !== "13") {
    return {
      ok: false,
      status: 426,
      reason: "WebSocket version 13 only",
      extra: "Sec-WebSocket-Version: 13\r\n",
    };
  }
  const key = h.get("sec-websocket-key")?.trim() ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return { ok: false, status: 400, reason: "missing or malformed Sec-WebSocket-Key" };
  }
  if (!tokens(h.get("sec-websocket-protocol")).includes("sip")) {
    return { ok: false, status: 400, reason: 'the "sip" subprotocol was not offered (RFC 7118)' };
  }
  const out: UpgradeRequest = { ok: true, key, path: m[2] };
  const host = h.get("host");
  if (host !== undefined) out.host = host.trim();
  const origin = h.get("origin");
  if (origin !== undefined) out.origin = origin.trim();
  return out;
}

/** The 101 answer to an accepted upgrade. */
export function upgradeResponse(key: string): string {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${acceptFor(key)}\r\nSec-WebSocket-Protocol: sip\r\n\r\n`;
}

/** The HTTP answer refusing an upgrade; the connection closes after it. */
export function refusalResponse(r: { status: number; reason: string; extra?: string }): string {
  const phrase = STATUS_TEXT[r.status] ?? "Bad Request";
  const body = r.reason + "\n";
  return `HTTP/1.1 ${r.status} ${phrase}\r\n${r.extra ?? ""}Content-Type: text/plain\r\n` +
    `Content-Length: ${enc.encode(body).length}\r\nConnection: close\r\n\r\n${body}`;
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
};

/** RFC 6455 §4.1: a client's opening handshake for `host` (the Host header) and `path`. */
export function upgradeRequest(host: string, path: string, key: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
    "Sec-WebSocket-Protocol: sip\r\n\r\n";
}

/** RFC 6455 §4.1 (client side): why a server's handshake answer is not acceptable, or "". */
export function checkUpgradeResponse(head: string, key: string): string {
  const lines = head.split("\r\n");
  const m = /^HTTP\/1\.1 (\d{3})/.exec(lines[0]);
  if (!m) return "not an HTTP/1.1 response";
  if (m[1] !== "101") return `the server answered ${lines[0].slice(9, 80)}`;
  const h = headerMap(lines);
  if (!tokens(h.get("upgrade")).includes("websocket")) return "no Upgrade: websocket";
  if (!tokens(h.get("connection")).includes("upgrade")) return "no Connection: Upgrade";
  if (h.get("sec-websocket-accept")?.trim() !== acceptFor(key)) {
    return "wrong Sec-WebSocket-Accept";
  }
  if (h.get("sec-websocket-protocol")?.trim().toLowerCase() !== "sip") {
    return 'the server did not choose the "sip" subprotocol';
  }
  return "";
}

function headerMap(lines: string[]): Map<string, string> {
  const h = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const c = lines[i].indexOf(":");
    if (c <= 0) continue;
    const name = lines[i].slice(0, c).trim().toLowerCase();
    const value = lines[i].slice(c + 1);
    // Repeated headers are one comma-separated list (RFC 9110 §5.3).
    h.set(name, h.has(name) ? `${h.get(name)},${value}` : value);
  }
  return h;
}

function tokens(v: string | undefined): string[] {
  return v === undefined ? [] : v.split(",").map((t) => t.trim().toLowerCase());
}

/**
 * One frame (RFC 6455 §5.2) carrying `payload` with `opcode`, FIN set. A client masks with a
 * fresh random key (§5.3); a server never masks.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, masked: boolean): Uint8Array {
  const n = payload.length;
  const lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const head = 2 + lenBytes + (masked ? 4 : 0);
  const out = new Uint8Array(head + n);
  out[0] = 0x80 | opcode;
  if (lenBytes === 0) out[1] = n;
  else if (lenBytes === 2) {
    out[1] = 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 127;
    // Messages are bounded far below 2^32: the high word stays zero.
    out[6] = n >>> 24;
    out[7] = (n >>> 16) & 0xff;
    out[8] = (n >>> 8) & 0xff;
    out[9] = n & 0xff;
  }
  if (!masked) {
    out.set(payload, head);
    return out;
  }
  out[1] |= 0x80;
  const key = crypto.getRandomValues(new Uint8Array(4));
  out.set(key, head - 4);
  for (let i = 0; i < n; i++) out[head + i] = payload[i] ^ key[i & 3];
  return out;
}

/**
 * A WebSocket connection's framing for SIP: the opening handshake (as server or client), then
 * frames in, one SIP message per WebSocket message out. After a failure it stays failed; the
 * owner closes the stream.
 */
export class WebSocketFramer implements Framer {
  private state: WsState = "handshake";
  private rest: Uint8Array = EMPTY;
  /** Fragments of a message whose first frame had FIN clear (RFC 6455 §5.4). */
  private fragments: Uint8Array[] | undefined;
  private fragmentBytes = 0;
  private failed: FramingError | undefined;
  private closeSent = false;
  /** Client: the key our handshake sent, to check the server's accept. */
  private clientKey = "";

  /**
   * `origins` (server): the web origins whose pages may connect; empty: any. Read when the
   * handshake arrives.
   */
  constructor(
    readonly role: WsRole,
    private readonly maxSize: number,
    private readonly origins: readonly string[] = [],
  ) {}

  get buffered(): number {
    return this.rest.length + this.fragmentBytes;
  }

  /** Has the opening handshake completed (messages may flow)? */
  get isOpen(): boolean {
    return this.state === "open";
  }

  /** Client: the opening handshake to write once the stream is connected. */
  start(host: string, path = "/"): Uint8Array {
    const key = crypto.getRandomValues(new Uint8Array(16));
    this.clientKey = btoa(String.fromCharCode(...key));
    return enc.encode(upgradeRequest(host, path, this.clientKey));
  }

  /** One SIP message as a text frame (RFC 7118 §5.1: text when UTF-8, which SIP text is). */
  frame(message: Uint8Array): Uint8Array {
    return encodeFrame(OP_TEXT, message, this.role === "client");
  }

  /**
   * A Ping (RFC 6455 §5.5.2) to keep a quiet connection open: browsers send no keep-alives of
   * their own, and a browser in a long call is reachable only over its connection. The Pong
   * counts as activity; a peer that is gone stops answering and the idle timeout closes it.
   */
  pingFrame(): Uint8Array | undefined {
    if (this.state !== "open") return undefined;
    return encodeFrame(OP_PING, EMPTY, this.role === "client");
  }

  /** A Close frame to send before closing the stream ourselves (idle, shutdown). */
  closeFrame(code: number = CloseCode.normal): Uint8Array | undefined {
    if (this.closeSent || this.state !== "open") return undefined;
    this.closeSent = true;
    return encodeFrame(OP_CLOSE, new Uint8Array([code >>> 8, code & 0xff]), this.role === "client");
  }

  push(chunk: Uint8Array, sink: FrameSink): FramingError | undefined {
    if (this.failed) return this.failed;
    if (this.state === "closed") return undefined; // after Close nothing more is read (§5.5.1)
    const data = joinChunk(this.rest, chunk);
    let pos = 0;
    if (this.state === "handshake") {
      const end = headEnd(data);
      if (end < 0 || end > MAX_HANDSHAKE) {
        if (end > MAX_HANDSHAKE || data.length > MAX_HANDSHAKE) {
          return this.refuse(sink, {
            status: 431,
            reason: `opening handshake longer than ${MAX_HANDSHAKE} bytes`,
          });
        }
        this.rest = data.slice();
        return undefined;
      }
      const head = latin1.decode(data.subarray(0, end));
      pos = end + 4;
      const err = this.role === "server" ? this.accept(head, sink) : this.opened(head, sink);
      if (err) return err;
    }
    while (this.state === "open") {
      const used = this.frameAt(data, pos, sink);
      if (typeof used !== "number") return used;
      if (used === 0) break;
      pos += used;
    }
    this.rest = pos >= data.length || this.state !== "open" ? EMPTY : data.slice(pos);
    return undefined;
  }

  private accept(head: string, sink: FrameSink): FramingError | undefined {
    const r = parseUpgradeRequest(head);
    if (!r.ok) return this.refuse(sink, r);
    // RFC 6455 §10.2: a browser names the page's origin; other clients may send none.
    if (r.origin !== undefined && this.origins.length > 0 && !this.origins.includes(r.origin)) {
      return this.refuse(sink, { status: 403, reason: `origin ${r.origin} is not allowed` });
    }
    sink.reply(enc.encode(upgradeResponse(r.key)));
    this.state = "open";
    sink.onOpen?.();
    return undefined;
  }

  private opened(head: string, sink: FrameSink): FramingError | undefined {
    const why = checkUpgradeResponse(head, this.clientKey);
    if (why) return this.fail(`WebSocket handshake refused: ${why}`);
    this.state = "open";
    sink.onOpen?.();
    return undefined;
  }

  private refuse(
    sink: FrameSink,
    r: { status: number; reason: string; extra?: string },
  ): FramingError {
    if (this.role === "server") sink.reply(enc.encode(refusalResponse(r)));
    return this.fail(`WebSocket handshake refused (${r.status}): ${r.reason}`);
  }

  /**
   * Parse the frame at `pos`: bytes used (0 when it is not whole yet), or the error that ends
   * the connection (a Close with the reason was queued for the peer).
   */
  private frameAt(data: Uint8Array, pos: number, sink: FrameSink): number | FramingError {
    const avail = data.length - pos;
    if (avail < 2) return 0;
    const b0 = data[pos];
    const b1 = data[pos + 1];
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.protocolError(sink, "reserved bits set");
    const masked = (b1 & 0x80) !== 0;
    // §5.1: a server closes on an unmasked client frame, a client on a masked server frame.
    if (masked !== (this.role === "server")) {
      return this.protocolError(sink, masked ? "masked frame from server" : "unmasked frame");
    }
    let len = b1 & 0x7f;
    let off = 2;
    if (len === 126) {
      if (avail < 4) return 0;
      len = (data[pos + 2] << 8) | data[pos + 3];
      off = 4;
    } else if (len === 127) {
      if (avail < 10) return 0;
      const high = (data[pos + 2] << 24 | data[pos + 3] << 16 | data[pos + 4] << 8 |
        data[pos + 5]) >>> 0;
      const low = (data[pos + 6] << 24 | data[pos + 7] << 16 | data[pos + 8] << 8 |
        data[pos + 9]) >>> 0;
      if (high !== 0 || low > this.maxSize) return this.tooBig(sink, "frame");
      len = low;
      off = 10;
    }
    if ((opcode & 0x8) !== 0 && (!fin || len > 125)) {
      return this.protocolError(sink, "fragmented or long control frame");
    }
    if (len > this.maxSize || this.fragmentBytes + len > this.maxSize) {
      return this.tooBig(sink, "message");
    }
    const keyAt = pos + off;
    if (masked) off += 4;
    if (avail < off + len) return 0;
    const payload = data.slice(pos + off, pos + off + len);
    if (masked) {
      for (let i = 0; i < len; i++) payload[i] ^= data[keyAt + (i & 3)];
    }
    const err = this.onFrame(fin, opcode, payload, sink);
    return err ?? off + len;
  }

  private onFrame(
    fin: boolean,
    opcode: number,
    payload: Uint8Array,
    sink: FrameSink,
  ): FramingError | undefined {
    switch (opcode) {
      case OP_TEXT:
      case OP_BINARY:
        if (this.fragments) return this.protocolError(sink, "new message inside a fragmented one");
        if (fin) sink.onMessage(payload);
        else {
          this.fragments = [payload];
          this.fragmentBytes = payload.length;
        }
        return undefined;
      case OP_CONTINUATION: {
        if (!this.fragments) return this.protocolError(sink, "continuation without a message");
        this.fragments.push(payload);
        this.fragmentBytes += payload.length;
        if (!fin) return undefined;
        const whole = new Uint8Array(this.fragmentBytes);
        let at = 0;
        for (const f of this.fragments) {
          whole.set(f, at);
          at += f.length;
        }
        this.fragments = undefined;
        this.fragmentBytes = 0;
        sink.onMessage(whole);
        return undefined;
      }
      case OP_PING:
        sink.reply(encodeFrame(OP_PONG, payload, this.role === "client"));
        return undefined;
      case OP_PONG:
        return undefined;
      case OP_CLOSE: {
        // §5.5.1: answer with a Close echoing the status code, then the stream ends.
        if (!this.closeSent) {
          this.closeSent = true;
          sink.reply(encodeFrame(OP_CLOSE, payload.subarray(0, 2), this.role === "client"));
        }
        this.state = "closed";
        sink.onEnd?.();
        return undefined;
      }
      default:
        return this.protocolError(sink, `unknown opcode ${opcode}`);
    }
  }

  private protocolError(sink: FrameSink, why: string): FramingError {
    this.sendClose(sink, CloseCode.protocolError);
    return this.fail(`WebSocket protocol error: ${why}`);
  }

  private tooBig(sink: FrameSink, what: string): FramingError {
    this.sendClose(sink, CloseCode.tooBig);
    return this.fail(`WebSocket ${what} exceeds ${this.maxSize} bytes`);
  }

  private sendClose(sink: FrameSink, code: number): void {
    const f = this.closeFrame(code);
    if (f) sink.reply(f);
  }

  private fail(detail: string): FramingError {
    this.rest = EMPTY;
    this.fragments = undefined;
    this.fragmentBytes = 0;
    this.state = "closed";
    return this.failed = new FramingError(detail, "EWEBSOCKET");
  }
}

/** Offset of the CRLFCRLF ending an HTTP head, or -1. */
function headEnd(data: Uint8Array): number {
  for (let i = 0; i + 3 < data.length; i++) {
    if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

// RFC 3261 §18.3 framing over streams: a message ends Content-Length bytes after the blank line
// that ends its headers. RFC 5626 §3.5.1 keep-alive: a CRLFCRLF between messages is a "ping"
// (the owner answers CRLF, the "pong"); a lone CRLF between messages is ignored (§7.5).

import { findHeaderEnd } from "../sip/mod.ts";
import { FramingError } from "./errors.ts";

/** Where a framer delivers what it found in the stream. */
export interface FrameSink {
  /** One whole message (a fresh copy the receiver may keep). */
  onMessage(message: Uint8Array): void;
  /**
   * Bytes the framing itself answers with, written at once: the pong to a keep-alive ping, a
   * WebSocket handshake answer or Close.
   */
  reply(bytes: Uint8Array): void;
  /** WebSocket: the opening handshake completed; messages may now be sent. */
  onOpen?(): void;
  /** WebSocket: the peer closed in good order (a Close was answered); close the stream. */
  onEnd?(): void;
}

/** How SIP messages are cut from a stream and wrapped for it: §18.3 framing or WebSocket. */
export interface Framer {
  /** Feed one chunk; returns the framing error that killed the stream, if any. */
  push(chunk: Uint8Array, sink: FrameSink): FramingError | undefined;
  /** The bytes that carry one SIP message on this stream. */
  frame(message: Uint8Array): Uint8Array;
  /** Bytes held while waiting for the rest of a message. */
  readonly buffered: number;
}

const EMPTY = new Uint8Array(0);
const CRLF = new Uint8Array([13, 10]);

/**
 * Splits a byte stream into SIP messages. Pure: no I/O, no timers. After a framing error the
 * framer stays failed, because the next message boundary is unknown; the owner closes the stream.
 */
export class StreamFramer implements Framer {
  private rest: Uint8Array = EMPTY;
  /** Where to resume the CRLFCRLF search in `rest`, so slow headers are not rescanned. */
  private scanFrom = 0;
  /** Total size of the message at the start of `rest`, once its headers were read. */
  private expected = -1;
  /** CRLFs seen in a row between messages (two make a ping). */
  private crlfs = 0;
  private failed: FramingError | undefined;

  constructor(private readonly maxSize: number) {}

  /** Bytes held while waiting for the rest of a message. */
  get buffered(): number {
    return this.rest.length;
  }

  /** A SIP message is its own framing on a stream (§18.3: Content-Length). */
  frame(message: Uint8Array): Uint8Array {
    return message;
  }

  /** Feed one chunk; returns the framing error that killed the stream, if any. */
  push(chunk: Uint8Array, sink: FrameSink): FramingError | undefined {
    if (this.failed) return this.failed;
    const data = joinChunk(this.rest, chunk);
    let pos = 0;
    const end = data.length;
    while (pos < end) {
      if (this.expected < 0) {
        // Between messages: CRLFs are keep-alives or leftovers.
        while (pos < end && data[pos] === 13) {
          if (pos + 1 >= end) break;
          if (data[pos + 1] !== 10) break;
          pos += 2;
          if (++this.crlfs === 2) {
            this.crlfs = 0;
            sink.reply(CRLF); // the pong
          }
        }
        if (pos >= end || (data[pos] === 13 && pos + 1 >= end)) break;
        this.crlfs = 0;
        const he = findHeaderEnd(data, Math.max(pos, this.scanFrom));
        if (he < 0) {
          if (end - pos > this.maxSize) return this.fail(`headers exceed ${this.maxSize} bytes`);
          this.scanFrom = Math.max(pos, end - 3);
          break;
        }
        const cl = contentLength(data, pos, he);
        if (typeof cl === "string") return this.fail(cl);
        this.expected = he + 4 - pos + cl;
        if (this.expected > this.maxSize) {
          return this.fail(`message of ${this.expected} bytes exceeds ${this.maxSize}`);
        }
      }
      if (end - pos < this.expected) break;
      sink.onMessage(data.slice(pos, pos + this.expected));
      pos += this.expected;
      this.expected = -1;
      this.scanFrom = pos;
    }
    // Keep the unconsumed tail (copied: the caller may reuse its chunk buffer).
    this.rest = pos >= end ? EMPTY : data.slice(pos);
    this.scanFrom = Math.max(0, this.scanFrom - pos);
    return undefined;
  }

  private fail(detail: string): FramingError {
    this.rest = EMPTY;
    return this.failed = new FramingError(`stream framing lost: ${detail}`, "EFRAMING");
  }
}

/** What a framer kept of the stream followed by a new chunk (the chunk itself when none). */
export function joinChunk(rest: Uint8Array, chunk: Uint8Array): Uint8Array {
  if (rest.length === 0) return chunk;
  const data = new Uint8Array(rest.length + chunk.length);
  data.set(rest, 0);
  data.set(chunk, rest.length);
  return data;
}

/**
 * Content-Length (or compact "l") of the header block data[from, headEnd): the number, or a
 * string saying why framing is impossible (§18.3: mandatory over streams).
 */
function contentLength(data: Uint8Array, from: number, headEnd: number): number | string {
  let value = -1;
  let i = from;
  // Skip the start line.
  while (i < headEnd && data[i] !== 10) i++;
  i++;
  while (i < headEnd) {
    let eol = i;
    while (eol < headEnd && data[eol] !== 13) eol++;
    const v = headerValueIfContentLength(data, i, eol);
    if (v !== undefined) {
      if (!/^[0-9]{1,9}$/.test(v)) return `bad Content-Length "${v.slice(0, 20)}"`;
      const n = Number(v);
      if (value >= 0 && n !== value) return "several different Content-Length values";
      value = n;
    }
    i = eol + 2;
  }
  return value < 0 ? "missing Content-Length" : value;
}

/** The trimmed value when line data[s, e) is a Content-Length / l header, else undefined. */
function headerValueIfContentLength(data: Uint8Array, s: number, e: number): string | undefined {
  const c0 = data[s] | 0x20;
  if (c0 !== 0x63 /* c */ && c0 !== 0x6c /* l */) return undefined;
  let colon = s;
  while (colon < e && data[colon] !== 58) colon++;
  if (colon >= e) return undefined;
  let ne = colon;
  while (ne > s && (data[ne - 1] === 32 || data[ne - 1] === 9)) ne--;
  const len = ne - s;
  if (len !== 1 && len !== 14) return undefined;
  let name = "";
  for (let k = s; k < ne; k++) name += String.fromCharCode(data[k] | 0x20);
  if (name !== "l" && name !== "content-length") return undefined;
  let v = "";
  for (let k = colon + 1; k < e; k++) v += String.fromCharCode(data[k]);
  return v.trim();
}

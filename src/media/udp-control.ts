// Cookie-matched request/reply over UDP, shared by the rtpengine ng protocol (docs "ng Control
// Protocol": "<cookie> <bencoded dict>") and the rtpproxy command protocol (rtpproxy(8),
// "<cookie> <command>"). A retransmission reuses its cookie: rtpengine caches replies by cookie,
// so a retried offer is answered from the cache rather than executed twice.

import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import type { Clock, Timers } from "../util/clock.ts";
import { systemClock } from "../util/clock.ts";
import { RelayError, RelayTimeoutError } from "./errors.ts";
import type { RelayMetrics } from "./metrics.ts";
import { runtimeTimers } from "./runtime-timers.ts";

/** Timing of control requests. */
export interface ControlOptions {
  /** Wait per attempt, ms. */
  timeout: number;
  /** Retransmissions after the first attempt. */
  retries: number;
  timers?: Timers;
  clock?: Clock;
}

/** A control channel: send `body` under a fresh cookie, resolve with the reply after the cookie. */
export interface ControlChannel {
  /** "address:port" or socket path, for errors and metrics. */
  readonly relay: string;
  request(command: string, body: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

interface Pending {
  command: string;
  resolve(reply: Uint8Array): void;
  reject(err: Error): void;
}

const enc = new TextEncoder();
let cookieSeq = 0;
const cookiePrefix = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);

/** A cookie unique in this process: random per process, then a counter. */
export function newCookie(): string {
  cookieSeq = (cookieSeq + 1) % 0x7fffffff;
  return `${cookiePrefix}_${cookieSeq}`;
}

/** Split "<cookie> <rest>" (the reply framing of both protocols); undefined when malformed. */
export function splitCookie(data: Uint8Array): { cookie: string; rest: Uint8Array } | undefined {
  const sp = data.indexOf(0x20);
  if (sp <= 0) return undefined;
  return { cookie: new TextDecoder().decode(data.subarray(0, sp)), rest: data.subarray(sp + 1) };
}

/** "address:port", IPv6 in brackets: the relay label in errors, logs and metrics. */
export function relayName(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One UDP socket to one relay, many requests in flight, matched by cookie. */
export class UdpControlChannel implements ControlChannel {
  readonly relay: string;
  private socket: dgram.Socket | undefined;
  private pending = new Map<string, Pending>();
  private timers: Timers;
  private clock: Clock;

  constructor(
    private host: string,
    private port: number,
    private opts: ControlOptions,
    private metrics?: RelayMetrics,
  ) {
    this.relay = relayName(host, port);
    this.timers = opts.timers ?? runtimeTimers;
    this.clock = opts.clock ?? systemClock;
  }

  private open(): dgram.Socket {
    if (this.socket) return this.socket;
    const s = dgram.createSocket(isIPv6(this.host) ? "udp6" : "udp4");
    s.on("message", (msg: Uint8Array) => this.onMessage(msg));
    // ICMP unreachable surfaces here on some runtimes; the retry timer decides the outcome.
    s.on("error", () => {});
    this.socket = s;
    return s;
  }

  private onMessage(msg: Uint8Array): void {
    const split = splitCookie(new Uint8Array(msg));
    if (!split) return;
    const p = this.pending.get(split.cookie);
    if (!p) return; // late reply to a request that already timed out, or not ours
    this.pending.delete(split.cookie);
    p.resolve(split.rest);
  }

  request(command: string, body: Uint8Array): Promise<Uint8Array> {
    const cookie = newCookie();
    const head = enc.encode(cookie + " ");
    const packet = new Uint8Array(head.length + body.length);
    packet.set(head);
    packet.set(body, head.length);
    const socket = this.open();
    const started = this.clock.now();
    this.metrics?.request(command);
    return new Promise<Uint8Array>((resolve, reject) => {
      let attempts = 0;
      let timer = { cancel() {} };
      const send = () => {
        attempts++;
        socket.send(packet, this.port, this.host, () => {});
        timer = this.timers.set(this.opts.timeout, () => {
          if (!this.pending.has(cookie)) return;
          if (attempts <= this.opts.retries) return send();
          this.pending.delete(cookie);
          this.metrics?.timeout();
          reject(new RelayTimeoutError(this.relay, command, attempts, this.opts.timeout));
        });
      };
      this.pending.set(cookie, {
        command,
        resolve: (reply) => {
          timer.cancel();
          this.metrics?.replied(this.clock.now() - started);
          resolve(reply);
        },
        reject: (err) => {
          timer.cancel();
          reject(err);
        },
      });
      send();
    });
  }

  /** Close the socket; requests still waiting fail with {@link RelayError}. */
  close(): Promise<void> {
    for (const [cookie, p] of this.pending) {
      this.pending.delete(cookie);
      p.reject(new RelayError(this.relay, p.command, "control channel closed"));
    }
    const s = this.socket;
    this.socket = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.close(() => resolve()));
  }
}

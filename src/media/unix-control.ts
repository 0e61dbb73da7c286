// rtpproxy control over a unix stream socket (rtpproxy(8) "-s unix:/path"): one connection per
// command, the reply ends at the first newline or when the proxy closes. rtpproxy's unix mode has
// no cookie; `cookies: true` prefixes one for proxies that expect it ("cunix:").

import net from "node:net";
import { RelayError, RelayTimeoutError } from "./errors.ts";
import type { RelayMetrics } from "./metrics.ts";
import { runtimeTimers } from "./runtime-timers.ts";
import { type ControlChannel, type ControlOptions, newCookie, splitCookie } from "./udp-control.ts";
import { systemClock } from "../util/clock.ts";

/** A unix-socket control channel to one rtpproxy. */
export class UnixControlChannel implements ControlChannel {
  readonly relay: string;
  private open = new Set<net.Socket>();

  constructor(
    private path: string,
    private opts: ControlOptions & { cookies?: boolean },
    private metrics?: RelayMetrics,
  ) {
    this.relay = `unix:${path}`;
  }

  async request(command: string, body: Uint8Array): Promise<Uint8Array> {
    const clock = this.opts.clock ?? systemClock;
    const started = clock.now();
    this.metrics?.request(command);
    let last: Error | undefined;
    for (let attempt = 1; attempt <= this.opts.retries + 1; attempt++) {
      try {
        const reply = await this.once(command, body);
        this.metrics?.replied(clock.now() - started);
        return reply;
      } catch (err) {
        last = err as Error;
        if (!(err instanceof RelayTimeoutError) && !(err instanceof ConnectError)) break;
      }
    }
    if (last instanceof RelayTimeoutError || last instanceof ConnectError) {
      this.metrics?.timeout();
      throw new RelayTimeoutError(this.relay, command, this.opts.retries + 1, this.opts.timeout);
    }
    this.metrics?.error();
    throw last;
  }

  private once(command: string, body: Uint8Array): Promise<Uint8Array> {
    const cookie = this.opts.cookies ? newCookie() : undefined;
    const head = new TextEncoder().encode(cookie ? `${cookie} ` : "");
    const packet = new Uint8Array(head.length + body.length + 1);
    packet.set(head);
    packet.set(body, head.length);
    packet[packet.length - 1] = 0x0a;
    return new Promise((resolve, reject) => {
      const chunks: Uint8Array[] = [];
      let done = false;
      const sock = net.createConnection({ path: this.path });
      this.open.add(sock);
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        timer.cancel();
        this.open.delete(sock);
        sock.destroy();
        if (err) return reject(err);
        let data: Uint8Array = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let o = 0;
        for (const c of chunks) data.set(c, (o += c.length) - c.length);
        if (data[data.length - 1] === 0x0a) data = data.subarray(0, data.length - 1);
        if (cookie) {
          const split = splitCookie(data);
          if (!split || split.cookie !== cookie) {
            return reject(new RelayError(this.relay, command, "reply with a foreign cookie"));
          }
          data = split.rest;
        }
        resolve(data);
      };
      const timer = (this.opts.timers ?? runtimeTimers).set(
        this.opts.timeout,
        () => finish(new RelayTimeoutError(this.relay, command, 1, this.opts.timeout)),
      );
      sock.on("connect", () => sock.write(packet));
      sock.on("data", (d: Uint8Array) => {
        chunks.push(new Uint8Array(d));
        if (d.includes(0x0a)) finish();
      });
      sock.on("end", () => finish());
      sock.on("error", (e: Error) => finish(new ConnectError(e.message)));
    });
  }

  /** Abort connections still open. */
  close(): Promise<void> {
    for (const s of this.open) s.destroy();
    this.open.clear();
    return Promise.resolve();
  }
}

/** Socket-level failure (no listener, reset): retried like a timeout. */
class ConnectError extends Error {}

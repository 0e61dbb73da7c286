// rtpproxy command protocol client (rtpproxy(8) "Control protocol"; rtpengine speaks it too with
// --listen-udp): V / VF capability checks, U (create or update the offerer's side), L (lookup:
// the answerer's side), D (delete), Q (query counters). Over UDP with cookies, or a unix socket.

import type { Registry } from "../util/metrics.ts";
import { RelayError } from "./errors.ts";
import { RelayMetrics } from "./metrics.ts";
import { UnixControlChannel } from "./unix-control.ts";
import {
  type ControlChannel,
  type ControlOptions,
  relayName,
  UdpControlChannel,
} from "./udp-control.ts";

/** Where an rtpproxy listens: UDP host/port, or a unix socket path. */
export type RtpproxyTarget = { host: string; port: number } | { path: string; cookies?: boolean };

/** Client options: timing plus the metrics registry. */
export interface RtpproxyOptions extends ControlOptions {
  registry?: Registry;
}

/** The relay's answer to U/L: where the other party must send. */
export interface RtpproxyPort {
  port: number;
  /** Relay media address, when the proxy names it (rtpproxy ≥ 20071116, rtpengine). */
  address?: string;
  family?: "IP4" | "IP6";
}

/** U/L options. */
export interface RtpproxyStreamOptions {
  /** 1-based m= line number, sent as ";n" after the tags (rtpproxy ≥ 20050322). */
  mediaIndex?: number;
  /** Command modifiers after the letter: "c8,0" codecs, "6" IPv6, "I"/"E"... */
  modifiers?: string;
}

const dec = new TextDecoder();
const enc = new TextEncoder();

/** One rtpproxy. */
export class RtpproxyClient {
  private channel: ControlChannel;
  private metrics: RelayMetrics;

  constructor(target: RtpproxyTarget, opts: RtpproxyOptions) {
    const relay = "path" in target ? `unix:${target.path}` : relayName(target.host, target.port);
    this.metrics = new RelayMetrics(relay, opts.registry);
    this.channel = "path" in target
      ? new UnixControlChannel(target.path, { ...opts, cookies: target.cookies }, this.metrics)
      : new UdpControlChannel(target.host, target.port, opts, this.metrics);
  }

  /** "address:port" or "unix:/path". */
  get relay(): string {
    return this.channel.relay;
  }

  /** Send a raw command line; resolves with the reply text, {@link RelayError} on "E<n>". */
  async command(line: string): Promise<string> {
    if (/[\r\n\0]/.test(line)) {
      throw new RelayError(this.relay, line.split(" ")[0], "CR/LF/NUL in command");
    }
    const letter = /^[A-Za-z]+/.exec(line)?.[0] ?? line;
    const reply = dec.decode(await this.channel.request(letter, enc.encode(line))).trim();
    if (/^E\d*$/.test(reply)) {
      this.metrics.error();
      throw new RelayError(this.relay, letter, `error reply ${reply}`);
    }
    return reply;
  }

  /** Base protocol version ("20040107"). */
  version(): Promise<string> {
    return this.command("V");
  }

  /** Liveness check via `V`. */
  async ping(): Promise<void> {
    await this.version();
  }

  /** Whether the proxy supports the protocol extension dated `feature` ("20050322"...). */
  async supports(feature: string): Promise<boolean> {
    return (await this.command(`VF ${feature}`)) === "1";
  }

  /**
   * `U`: create the session or update the side of `fromTag` (the offerer), receiving at
   * `address:port`. Returns where the other party must send.
   */
  update(
    callId: string,
    address: string,
    port: number,
    fromTag: string,
    toTag?: string,
    opts: RtpproxyStreamOptions = {},
  ): Promise<RtpproxyPort> {
    return this.stream("U", callId, address, port, fromTag, toTag, opts);
  }

  /** `L`: the answerer (`toTag`) receives at `address:port`; returns where the offerer sends. */
  lookup(
    callId: string,
    address: string,
    port: number,
    fromTag: string,
    toTag: string,
    opts: RtpproxyStreamOptions = {},
  ): Promise<RtpproxyPort> {
    return this.stream("L", callId, address, port, fromTag, toTag, opts);
  }

  /** `D`: delete the session (or the branch to `toTag`). */
  async delete(callId: string, fromTag: string, toTag?: string): Promise<void> {
    await this.command(["D", ...this.tokens(callId, fromTag, toTag)].join(" "));
  }

  /** `Q`: remaining TTL and the proxy's packet counters, as it returns them. */
  async query(
    callId: string,
    fromTag: string,
    toTag: string,
  ): Promise<{ ttl: number; counters: number[] }> {
    const reply = await this.command(["Q", ...this.tokens(callId, fromTag, toTag)].join(" "));
    const n = reply.split(/\s+/).map(Number);
    if (!n.length || n.some((x) => !Number.isFinite(x))) {
      this.metrics.error();
      throw new RelayError(this.relay, "Q", `unexpected reply ${JSON.stringify(reply)}`);
    }
    return { ttl: n[0], counters: n.slice(1) };
  }

  /** Close the control socket. */
  close(): Promise<void> {
    return this.channel.close();
  }

  private tokens(...t: (string | undefined)[]): string[] {
    const out = t.filter((x): x is string => x !== undefined);
    for (const x of out) {
      if (!x || /\s/.test(x)) {
        throw new RelayError(this.relay, "?", `bad token ${JSON.stringify(x)}`);
      }
    }
    return out;
  }

  private async stream(
    cmd: "U" | "L",
    callId: string,
    address: string,
    port: number,
    fromTag: string,
    toTag: string | undefined,
    opts: RtpproxyStreamOptions,
  ): Promise<RtpproxyPort> {
    const idx = opts.mediaIndex !== undefined ? `;${opts.mediaIndex}` : "";
    const tags = [fromTag + idx, ...(toTag !== undefined ? [toTag + idx] : [])];
    this.tokens(callId, address, fromTag, toTag, opts.modifiers || undefined);
    const line = [`${cmd}${opts.modifiers ?? ""}`, callId, address, String(port), ...tags].join(
      " ",
    );
    const reply = await this.command(line);
    const [p, addr, fam] = reply.split(/\s+/);
    const rport = Number(p);
    if (!Number.isInteger(rport) || rport <= 0 || rport > 65535) {
      this.metrics.error();
      throw new RelayError(this.relay, cmd, `no session port in reply ${JSON.stringify(reply)}`);
    }
    const family = fam === "6" || addr?.includes(":") ? "IP6" : addr ? "IP4" : undefined;
    return { port: rport, address: addr, family };
  }
}

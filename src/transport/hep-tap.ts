// Sends a HEPv3 copy of every SIP message in and out to a capture server (`hep`), over UDP from
// a socket of its own. Best effort by design: a capture that cannot be built or sent is
// counted and forgotten; SIP never waits for it.

import { createSocket, type Socket } from "node:dgram";
import { familyOf } from "./address.ts";
import { encodeHep } from "./hep.ts";
import { rawCallId } from "../sip/call-id-hash.ts";
import type { Endpoint, Protocol } from "./types.ts";
import { metrics } from "../util/metrics.ts";

/** Where captures go and how they are labelled. */
export interface HepSettings {
  host: string;
  port: number;
  agentId: number;
  password?: string;
}

/** What the transport layer hands each message to. */
export interface CaptureSink {
  capture(data: Uint8Array, src: Endpoint, dst: Endpoint, protocol: Protocol): void;
}

const mPackets = metrics.counter(
  "tandem_hep_packets_total",
  "HEP copies of SIP messages for the capture server (hep), by result: sent, failed (the " +
    "socket refused it), skipped (no IP address to put in it, or too large).",
);

export class HepTap implements CaptureSink {
  private sock: Socket;
  private closed = false;
  /**
   * The call a Call-ID belongs to, as the caller's Call-ID (the B2BUA knows which of its
   * outgoing legs belongs to which incoming one); undefined for a message of no call, whose own
   * Call-ID is sent. The capture server then shows both legs of a call as one.
   */
  correlate: ((callId: string) => string | undefined) | undefined;

  constructor(readonly settings: HepSettings) {
    this.sock = createSocket(familyOf(settings.host) === 6 ? "udp6" : "udp4");
    // A capture server that is down answers with ICMP: counted per send, not fatal.
    this.sock.on("error", () => mPackets.inc({ result: "failed" }));
    this.sock.unref();
  }

  capture(data: Uint8Array, src: Endpoint, dst: Endpoint, protocol: Protocol): void {
    if (this.closed) return;
    const s = this.settings;
    const callId = rawCallId(data);
    const pkt = encodeHep({
      src,
      dst,
      protocol,
      timeMs: Date.now(),
      agentId: s.agentId,
      password: s.password,
      payload: data,
      correlationId: callId === undefined ? undefined : (this.correlate?.(callId) ?? callId),
    });
    if (!pkt) return void mPackets.inc({ result: "skipped" });
    this.sock.send(pkt, s.port, s.host, (err) => {
      mPackets.inc({ result: err ? "failed" : "sent" });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sock.close();
    } catch { /* closed already */ }
  }
}

/** Whether two capture settings are the same (a reload that keeps them keeps the socket). */
export function sameHep(a: HepSettings | undefined, b: HepSettings | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.host === b.host &&
    a.port === b.port && a.agentId === b.agentId && a.password === b.password);
}

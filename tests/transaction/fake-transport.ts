// Test fixtures for the transaction layer: a recording fake of the transport's MessageSender,
// a recording TU and handler, message builders, and a layer on ManualTimers.

import {
  headerList,
  parseMessage,
  serialize,
  SipRequest,
  type SipResponse,
} from "../../src/sip/mod.ts";
import {
  buildResponse,
  type ClientHandler,
  type ClientTransaction,
  type MessageSender,
  type SentMessage,
  type ServerTransaction,
  TransactionLayer,
  type TransactionUser,
} from "../../src/transaction/mod.ts";
import type { Endpoint, SendFailure } from "../../src/transport/types.ts";
import { reportSendFailure } from "../../src/transport/errors.ts";
import { ManualClock, ManualTimers } from "../../src/util/timer-queue.ts";
import { Registry } from "../../src/util/metrics.ts";

export const UDP: Endpoint = { host: "192.0.2.10", port: 5060, protocol: "udp" };
export const TCP: Endpoint = { host: "192.0.2.10", port: 5060, protocol: "tcp" };

/**
 * Send times (ms) of a message retransmitted over UDP at T1, doubling, capped at T2 (Timer E,
 * Timer G, the 2xx resend of §13.3.1.4), within the 64·T1 the transaction lives: T1 500, T2 4 s.
 */
export const T1_DOUBLING_TO_T2 = [
  0,
  500,
  1500,
  3500,
  7500,
  11500,
  15500,
  19500,
  23500,
  27500,
  31500,
];

/** One message the fake transport was asked to send, parsed back when sent as bytes. */
export interface Sent {
  at: number;
  how: "request" | "response" | "raw";
  msg: SipRequest | SipResponse;
  dest: Endpoint;
  fail?: SendFailure;
}

/**
 * A fake transport: records every send; can fail the next send synchronously. With `raw` it
 * also takes bytes (sendRaw) and returns what it sent, as the real transport layer does, so
 * transactions keep bytes for their retransmissions; without, they keep parsed messages.
 */
export class FakeTransport implements MessageSender {
  readonly sent: Sent[] = [];
  /** When set, the next send calls its fail callback synchronously with this error. */
  failNext: Error | undefined;
  sendRaw?: (data: Uint8Array, dest: Endpoint, fail?: SendFailure) => void;

  constructor(private clock: ManualClock, private raw = false) {
    if (raw) {
      this.sendRaw = (data, dest, fail) => {
        this.record("raw", parseMessage(data) as SipRequest, dest, fail);
      };
    }
  }
  sendRequest(req: SipRequest, dest: Endpoint, fail?: SendFailure): SentMessage | void {
    // Round-trip through bytes, as a real transport would, so later edits do not leak in.
    const data = serialize(req);
    this.record("request", parseMessage(data) as SipRequest, dest, fail);
    if (this.raw) return { data, dest };
  }
  sendResponse(
    res: SipResponse,
    source: Endpoint,
    fail?: SendFailure,
  ): SentMessage | void {
    const data = serialize(res);
    this.record("response", parseMessage(data) as SipResponse, source, fail);
    if (this.raw) return { data, dest: source };
  }
  private record(
    how: Sent["how"],
    msg: SipRequest | SipResponse,
    dest: Endpoint,
    fail?: SendFailure,
  ) {
    this.sent.push({ at: this.clock.now(), how, msg, dest, fail });
    const e = this.failNext;
    if (e && fail) {
      this.failNext = undefined;
      reportSendFailure(fail, e);
    }
  }
  /** Times at which requests with `method` were sent. */
  times(method: string): number[] {
    return this.sent.filter((s) => s.msg.isRequest && (s.msg as SipRequest).method === method)
      .map((s) => s.at);
  }
  /** Times at which responses with `status` were sent. */
  responseTimes(status: number): number[] {
    return this.sent.filter((s) => !s.msg.isRequest && (s.msg as SipResponse).status === status)
      .map((s) => s.at);
  }
  requests(method: string): SipRequest[] {
    return this.sent.filter((s) => s.msg.isRequest && (s.msg as SipRequest).method === method)
      .map((s) => s.msg as SipRequest);
  }
  responses(): SipResponse[] {
    return this.sent.filter((s) => !s.msg.isRequest).map((s) => s.msg as SipResponse);
  }
}

/** A TU that records what reaches it; `onNew` may respond or set callbacks. */
export class RecordingUser implements TransactionUser {
  readonly requests: { req: SipRequest; tx: ServerTransaction | undefined; source: Endpoint }[] =
    [];
  readonly strays: SipResponse[] = [];
  onNew: (req: SipRequest, tx: ServerTransaction) => void = () => {};
  onRequest(req: SipRequest, tx: ServerTransaction | undefined, source: Endpoint): void {
    this.requests.push({ req, tx, source });
    if (tx) this.onNew(req, tx);
  }
  onStrayResponse(res: SipResponse): void {
    this.strays.push(res);
  }
}

/** A client handler that records every event. */
export class RecordingHandler implements ClientHandler {
  readonly responses: SipResponse[] = [];
  readonly events: string[] = [];
  readonly errors: Error[] = [];
  onResponse(res: SipResponse, tx: ClientTransaction): void {
    this.responses.push(res);
    this.events.push(`response ${res.status} ${tx.state}`);
  }
  onTimeout(tx: ClientTransaction): void {
    this.events.push(`timeout ${tx.state}`);
  }
  onTransportError(tx: ClientTransaction, err: Error): void {
    this.errors.push(err);
    this.events.push(`error ${tx.state}`);
  }
  onTerminated(): void {
    this.events.push("terminated");
  }
}

let rawByDefault = false;

/**
 * A test that runs twice: with a sender that returns nothing (transactions keep parsed
 * messages) and with one that takes and returns bytes (transactions keep only bytes once
 * their final is out). Both must behave the same on the wire.
 */
export function withBothSenders(name: string, fn: () => void): void {
  for (const raw of [false, true]) {
    Deno.test(raw ? `${name} [bytes kept]` : name, () => {
      rawByDefault = raw;
      try {
        fn();
      } finally {
        rawByDefault = false;
      }
    });
  }
}

/** A layer with T1 500, T2 4000, T4 5000 on ManualTimers, a fake transport and a recording TU. */
export function setup(opts: { raw?: boolean; tryingDelay?: number } = {}) {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const sender = new FakeTransport(clock, opts.raw ?? rawByDefault);
  const user = new RecordingUser();
  const metrics = new Registry();
  let seed = 1;
  const random = () => {
    // xorshift: deterministic, distinct per call
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  const layer = new TransactionLayer({
    t1: 500,
    t2: 4000,
    t4: 5000,
    clock,
    timers,
    random,
    sender,
    user,
    metrics,
    tryingDelay: opts.tryingDelay,
  });
  return { clock, timers, sender, user, layer, metrics };
}

/** An INVITE (or other method) as a UAC would send it, with two Route headers. */
export function request(
  method: string,
  branch: string,
  opts: { protocol?: "UDP" | "TCP"; toTag?: string; cseq?: number; fromTag?: string } = {},
): SipRequest {
  const h: [string, string][] = [
    ["Via", `SIP/2.0/${opts.protocol ?? "UDP"} 198.51.100.1:5060;branch=${branch}`],
    ["Via", "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKupstream"],
    ["Max-Forwards", "70"],
    ["Route", "<sip:p1.example.com;lr>"],
    ["Route", "<sip:p2.example.com;lr>"],
    ["From", `"Alice" <sip:alice@example.com>;tag=${opts.fromTag ?? "a1"}`],
    ["To", `<sip:bob@example.org>${opts.toTag ? ";tag=" + opts.toTag : ""}`],
    ["Call-ID", "c1@198.51.100.1"],
    ["CSeq", `${opts.cseq ?? 1} ${method === "ACK" || method === "CANCEL" ? "INVITE" : method}`],
    ["Timestamp", "54"],
    ["Contact", "<sip:alice@198.51.100.1>"],
  ];
  const r = new SipRequest(method, "sip:bob@example.org", headerList(h));
  if (method === "ACK" || method === "CANCEL") r.set("CSeq", `${opts.cseq ?? 1} ${method}`);
  return r;
}

/** A response to `req` with a To tag (except 100). */
export function reply(req: SipRequest, status: number, toTag = "b1"): SipResponse {
  return buildResponse(req, status, String(status), status === 100 ? undefined : toTag);
}

/** The ACK a UAC sends for a non-2xx final to `invite` (same branch). */
export function ackFor(invite: SipRequest, toTag = "b1"): SipRequest {
  const a = new SipRequest(
    "ACK",
    invite.uri,
    headerList([
      ["Via", invite.getAll("via")[0]],
      ["Max-Forwards", "70"],
      ["From", invite.get("from")!],
      ["To", `${invite.get("to")};tag=${toTag}`],
      ["Call-ID", invite.callId],
      ["CSeq", `${invite.cseq.seq} ACK`],
    ]),
  );
  return a;
}

// An in-memory loop network for B2BUA tests (as pjsip's loop transport): every message the
// engine sends is serialized and re-parsed, as on the wire, and kept for the test to read. The
// test plays the caller and the callees by injecting messages. Time is a ManualClock.

import { B2bua, type B2buaServices } from "../../src/b2bua/mod.ts";
import type { Config, RouteConfig, RuleConfig } from "../../src/config/types.ts";
import {
  parseMessage,
  serialize,
  type SipMessage,
  SipRequest,
  SipResponse,
} from "../../src/sip/mod.ts";
import { TransactionLayer } from "../../src/transaction/mod.ts";
import { NoListenerError } from "../../src/transport/errors.ts";
import type { Endpoint, Protocol } from "../../src/transport/types.ts";
import type { Logger } from "../../src/util/log.ts";
import { Registry } from "../../src/util/metrics.ts";
import { ManualTimers } from "../../src/util/timer-queue.ts";
import { prng } from "../util/prng.ts";

export const CALLER: Endpoint = { host: "10.0.0.1", port: 5070, protocol: "udp" };
export const LOCAL: Endpoint = { host: "10.0.0.9", port: 5060, protocol: "udp" };

/** A message the engine sent, and where. */
export interface Sent {
  msg: SipMessage;
  dest: Endpoint;
}

/** Build a route with defaults, overridable per test. */
export function route(host: string, port: number, over: Partial<RouteConfig> = {}): RouteConfig {
  return {
    name: `${host}:${port}`,
    host,
    port,
    transport: "udp",
    timers: { noProgress: 5000 },
    stopCodes: [486, 600, 603],
    failoverOnTimeout: true,
    followRedirects: false,
    headers: { add: {}, pass: ["x-*"], remove: [] },
    media: "none",
    weight: 1,
    ...over,
  };
}

/** A config with the given rules. */
export function config(rules: RuleConfig[]): Config {
  return {
    source: "<test>",
    sip: {
      listen: [{ address: LOCAL.host, port: LOCAL.port, transports: ["udp"] }],
      t1: 500,
      t2: 4000,
      t4: 5000,
      maxMessageSize: 65535,
      maxHeaders: 256,
      udpReceiveBuffer: 0,
      udpSendThread: false,
      tcpIdleTimeout: 120000,
      tcpConnectTimeout: 3000,
      tcpMaxConnections: 20_000,
      wsOrigins: [],
      userAgent: "Tandem-test",
      workers: 1,
      dns: { servers: [], timeout: 1000, attempts: 2 },
    },
    log: { level: "error", format: "json" },
    limits: { maxCalls: 1000, retryAfter: 5, drainTimeout: 60000, dropUserAgents: [] },
    rules,
  };
}

/** A rule matching everything with these routes. */
export function rule(routes: RouteConfig[], name = "all"): RuleConfig {
  return {
    name,
    match: {},
    routes,
    auth: { mode: "none", realm: "tandem", onTimeout: "reject" },
    order: "listed",
  };
}

let seed = 1;
/** A seeded random source per loop (mulberry32, full 2^32 period: tags never repeat in long runs). */
function seededRandom(): () => number {
  return prng((seed++ * 0x9e3779b9) >>> 0);
}

/** The engine, its transaction layer and the loop. */
export class Loop {
  readonly timers = new ManualTimers();
  readonly sent: Sent[] = [];
  readonly b2bua: B2bua;
  readonly txl: TransactionLayer;
  /** Transports Tandem listens on: localFor throws NoListenerError for the others, as it does. */
  readonly transports = new Set<Protocol>(["udp", "tcp", "tls"]);
  private cursor = 0;
  /** Where keep-alives (CRLFs) went, in order. */
  readonly pings: Endpoint[] = [];

  constructor(
    public cfg: Config,
    services: B2buaServices = {},
    overloaded?: () => boolean,
    ownsCallId?: (callId: string) => boolean,
    log?: Logger,
  ) {
    const random = seededRandom();
    // Like the transport layer: what goes out is serialized, recorded as the peer would parse
    // it, and returned as bytes, which transactions keep for their retransmissions.
    const wire = (m: SipMessage, dest: Endpoint) => {
      const data = serialize(m);
      this.sent.push({ msg: parseMessage(data), dest });
      return { data, dest };
    };
    const net = {
      localFor: (d: Endpoint) => {
        if (!this.transports.has(d.protocol)) {
          throw new NoListenerError(`no ${d.protocol} listener`, "ENOLISTENER");
        }
        return { ...LOCAL, protocol: d.protocol };
      },
      isLocal: (h: string) => h === LOCAL.host,
      sendRequest: (r: SipRequest, dest: Endpoint) => wire(r, dest),
      sendResponse: (r: SipResponse, src: Endpoint) => wire(r, src),
      sendRaw: (data: Uint8Array, dest: Endpoint) => {
        // A keep-alive (CRLFs only) is no message: kept apart for the tests that look for it.
        if (data.length > 0 && data.every((b) => b === 13 || b === 10)) {
          return void this.pings.push(dest);
        }
        this.sent.push({ msg: parseMessage(data), dest });
      },
    };
    this.b2bua = new B2bua({
      config: () => this.cfg,
      overloaded,
      net,
      clock: this.timers.manual,
      timers: this.timers,
      random,
      services,
      ownsCallId,
      log,
    });
    this.txl = new TransactionLayer({
      t1: 500,
      t2: 4000,
      t4: 5000,
      clock: this.timers.manual,
      timers: this.timers,
      random,
      sender: net,
      user: this.b2bua,
      metrics: new Registry(),
    });
    this.b2bua.attach(this.txl);
  }

  /** Inject a message as if it arrived from `from`. */
  inject(text: string | SipMessage, from: Endpoint): void {
    const m = typeof text === "string"
      ? parseMessage(new TextEncoder().encode(text.replace(/\n/g, "\r\n")))
      : parseMessage(serialize(text));
    if (m instanceof SipRequest) this.txl.receiveRequest(m, from);
    else this.txl.receiveResponse(m as SipResponse, from);
  }

  /** Messages sent since the last call of `take`. */
  take(): Sent[] {
    // Consumed messages are dropped, so long runs (scripts/bench-core.ts) hold nothing.
    const out = this.sent.splice(0);
    this.cursor = 0;
    return out;
  }

  /** The next sent message matching `pred` (since the last take), or throws. */
  expect(pred: (s: Sent) => boolean, what: string): Sent {
    const all = this.take();
    const hit = all.find(pred);
    if (!hit) {
      const seen = all.map((s) => describe(s.msg) + ` -> ${s.dest.port}`).join("; ");
      throw new Error(`expected ${what}; sent: [${seen}]`);
    }
    return hit;
  }
}

/** "INVITE" or "200 INVITE" for messages. */
export function describe(m: SipMessage): string {
  return m instanceof SipRequest ? m.method : `${(m as SipResponse).status} ${m.cseq.method}`;
}

/** Is this a request of `method` sent to `port`? */
export function req(method: string, port?: number): (s: Sent) => boolean {
  return (s) =>
    s.msg instanceof SipRequest && s.msg.method === method &&
    (port === undefined || s.dest.port === port);
}

/** Is this a response with `status` to `method`? */
export function res(status: number, method = "INVITE"): (s: Sent) => boolean {
  return (s) =>
    s.msg instanceof SipResponse && s.msg.status === status && s.msg.cseq.method === method;
}

/** The caller's INVITE. */
export function callerInvite(user = "alice-kit", extra = "", n = 1): string {
  const body =
    "v=0\no=caller 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n";
  return `INVITE sip:${user}@10.0.0.9:5060 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-caller-${n};rport
Max-Forwards: 70
From: "Alice" <sip:alice@10.0.0.1:5070>;tag=caller-tag-${n}
To: <sip:${user}@10.0.0.9:5060>
Call-ID: caller-call-${n}@10.0.0.1
CSeq: 1 INVITE
Contact: <sip:alice@10.0.0.1:5070;transport=UDP>
X-Account: 1234
User-Agent: caller-ua
${extra}Content-Type: application/sdp
Content-Length: ${body.replace(/\n/g, "\r\n").length}

${body}`;
}

/** The caller's INVITE without a body (a delayed offer, RFC 3261 §13.2.1). */
export function delayedOfferInvite(user = "alice-kit", extra = "", n = 1): string {
  return callerInvite(user, extra, n).replace(
    /Content-Type: application\/sdp\nContent-Length: \d+\n\n[\s\S]*$/,
    "Content-Length: 0\n\n",
  );
}

/** The caller's ACK for its INVITE's 2xx, with `body` as the answer. */
export function ackWithAnswer(to: string, body: string, n = 1): string {
  const wire = body.replace(/\n/g, "\r\n");
  return callerInDialog("ACK", to, 1, n).replace(
    "Content-Length: 0\n",
    `Content-Type: application/sdp\nContent-Length: ${wire.length}\n`,
  ) + body;
}

/** A response from a callee to the INVITE (or other request) it received. */
export function answer(
  to: SipMessage,
  status: number,
  toTag: string,
  opts: { contact?: string; body?: string; extra?: string } = {},
): string {
  const r = to as SipRequest;
  const via = r.getAll("via").map((v) => `Via: ${v}\n`).join("");
  const body = opts.body ?? "";
  const toHdr = r.to.tag ? r.get("to") : `${r.get("to")};tag=${toTag}`;
  return `SIP/2.0 ${status} Whatever
${via}From: ${r.get("from")}
To: ${toHdr}
Call-ID: ${r.callId}
CSeq: ${r.get("cseq")}
${opts.contact ? `Contact: ${opts.contact}\n` : ""}${opts.extra ?? ""}${
    body ? "Content-Type: application/sdp\n" : ""
  }Content-Length: ${body.replace(/\n/g, "\r\n").length}

${body}`;
}

/** An in-dialog request from the caller, using the tags of the dialog Tandem created. */
export function callerInDialog(
  method: string,
  toHeader: string,
  cseq: number,
  n = 1,
  extra = "",
): string {
  return `${method} sip:10.0.0.9:5060 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-caller-${method}-${cseq}-${n}
Max-Forwards: 70
From: "Alice" <sip:alice@10.0.0.1:5070>;tag=caller-tag-${n}
To: ${toHeader}
Call-ID: caller-call-${n}@10.0.0.1
CSeq: ${cseq} ${method}
${extra}Content-Length: 0

`;
}

/** The callee's BYE on the dialog of `inv` (the INVITE it received), callee tag `tag`. */
export function calleeBye(inv: SipRequest, tag = "callee-tag"): string {
  return `BYE sip:10.0.0.9:5060 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.2:5090;branch=z9hG4bK-callee-bye
From: ${inv.get("to")};tag=${tag}
To: ${inv.get("from")}
Call-ID: ${inv.callId}
CSeq: 1 BYE
Max-Forwards: 70
Content-Length: 0

`;
}

// Bad packets never crash Tandem and never leave a call behind: whole calls run through the
// transaction layer and the B2BUA while mutated copies of their own messages (a tag, a CSeq, a
// branch, a header line changed; bytes flipped) arrive before, after or instead of the real ones,
// as a broken or hostile peer would send them, and the operator drops some calls. What must
// hold, for every seed:
// - nothing a message can do throws out of the transaction layer or the B2BUA (in the server
//   that would be a message dropped as "handler-error", unanswered), no request ends in the
//   B2BUA's catch-all 500 ("request-failed"), and nothing else logs a warning or an error;
// - no message Tandem sends names the other side's hosts (topology hiding); a share of the
//   callers sit behind a record-routing proxy, whose address the callees must not see either,
//   and whose Record-Route must come back in the answers that set up the caller's dialog;
//   another share are browsers over WebSocket, whose made-up .invalid host no callee may see;
// - once the timers have run out (the route's max-duration ends confirmed calls nobody hangs
//   up), no call, leg or transaction is left, every call has ended exactly once, and its record
//   (the CDR) is whole, consistent, and gives the status the caller got.
// The parse/check/Via rules in front of the transaction layer are the server's (app/server.ts,
// transport/layer.ts). Seeded: FUZZ_SEED replays a run, FUZZ_CALLS sets the number of calls,
// FUZZ_RATE the share of messages that get a mutated copy (0.3).

import { strict as assert } from "node:assert";
import { digestAuthorization } from "../../src/aaa/digest.ts";
import {
  checkMessage,
  parseMessage,
  SipParseError,
  SipRequest,
  type SipResponse,
} from "../../src/sip/mod.ts";
import type { CallRecord } from "../../src/b2bua/mod.ts";
import { stampVia } from "../../src/transport/mod.ts";
import type { Endpoint } from "../../src/transport/types.ts";
import { Logger } from "../../src/util/log.ts";
import { latin1, mutate, mutateField } from "../sip/mutate.ts";
import { prng } from "../util/prng.ts";
import {
  ackWithAnswer,
  answer,
  CALLER,
  callerInDialog,
  callerInvite,
  config,
  delayedOfferInvite,
  describe,
  LOCAL,
  Loop,
  route,
  rule,
  type Sent,
} from "./loop.ts";

/**
 * A record-routing proxy in front of some callers: what they send reaches Tandem from it, with
 * its Via on top (and its Record-Route on the INVITE), and what Tandem sends them goes to it.
 * Same port as the caller, so the flow finds messages to either by port.
 */
const PROXY: Endpoint = { host: "10.0.0.60", port: 5070, protocol: "udp" };
const PROXY_RR = "<sip:10.0.0.60:5070;lr;ftag=x>";

const SDP = "v=0\no=- 1 1 IN IP4 10.0.0.2\ns=-\nc=IN IP4 10.0.0.2\nt=0 0\nm=audio 4002 RTP/AVP 0\n";
const enc = new TextEncoder();

/** Drives calls and slips mutated messages into them. */
class Fuzzer {
  mutated = 0;
  delivered = 0;
  dropped = 0;
  /** The current call's caller is on TCP: reliable, so no retransmissions and zero timers. */
  callerTcp = false;
  /** The current call's caller is behind PROXY (never with callerTcp). */
  callerProxied = false;
  /**
   * The current call's caller is a browser over WebSocket (RFC 7118): its Via, From and Contact
   * name WS_HOST, which nobody can dial (never with the other two).
   */
  callerWs = false;
  private last = "";

  constructor(readonly loop: Loop, readonly r: () => number, readonly rate: number) {}

  /**
   * Send `text` (a message with "\n" line ends) from `from`; sometimes a mutated copy goes
   * before or after it, or instead of it (the real one lost).
   */
  send(text: string, from: Endpoint): void {
    if (from === CALLER && this.callerTcp) {
      text = text.replaceAll("SIP/2.0/UDP 10.0.0.1", "SIP/2.0/TCP 10.0.0.1");
      from = { ...CALLER, protocol: "tcp" };
    } else if (from === CALLER && this.callerWs) {
      text = text.replaceAll("SIP/2.0/UDP 10.0.0.1:5070", `SIP/2.0/WS ${WS_HOST}`)
        .replaceAll("@10.0.0.1:5070", `@${WS_HOST}`);
      from = { ...CALLER, protocol: "ws" };
    } else if (from === CALLER && this.callerProxied) {
      text = viaProxy(text);
      from = PROXY;
    }
    if (this.r() >= this.rate) return this.loop.inject(text, from);
    const mode = Math.floor(this.r() * 3); // 0: before, 1: after, 2: instead
    if (mode === 1) this.loop.inject(text, from);
    this.garbage(text.replace(/\n/g, "\r\n"), from);
    if (mode === 0) this.loop.inject(text, from);
  }

  /** One mutated copy through what the server does with a datagram. */
  private garbage(wire: string, from: Endpoint): void {
    this.mutated++;
    const bytes = this.r() < 0.7
      ? enc.encode(mutateField(wire, this.r))
      : mutate(enc.encode(wire), this.r);
    let m;
    try {
      m = parseMessage(bytes);
    } catch (e) {
      if (e instanceof SipParseError) return; // answered 400 or dropped by the transport
      throw e;
    }
    if (checkMessage(m)) return; // answered 400 (requests) or dropped (responses)
    this.last = latin1.decode(bytes);
    if (m instanceof SipRequest) {
      stampVia(m, from);
      this.delivered++;
      this.loop.txl.receiveRequest(m, from);
    } else {
      const v = (m as SipResponse).topVia;
      if (!v || v.host !== LOCAL.host || (v.port ?? 5060) !== LOCAL.port) return; // §18.1.2
      this.delivered++;
      this.loop.txl.receiveResponse(m as SipResponse, from);
    }
  }

  /** Sometimes the operator drops the call (DELETE /calls/:id) at this point of its flow. */
  maybeDrop(aCallId: string): void {
    if (this.r() >= 0.04) return;
    for (const call of this.loop.b2bua.calls.values()) {
      if (call.record.callerCallId === aCallId) this.loop.b2bua.drop(call.id);
    }
    this.dropped++;
  }

  /** The mutated message delivered last (for the failure message). */
  get lastDelivered(): string {
    return this.last;
  }

  /** The newest message sent since the last look that matches, or undefined. */
  find(pred: (s: Sent) => boolean): Sent | undefined {
    const all = this.take();
    for (let i = all.length - 1; i >= 0; i--) if (pred(all[i])) return all[i];
    return undefined;
  }

  /**
   * The first final response each caller got to its INVITE, by Call-ID and Tandem's To tag (the
   * call's, or a fresh one for an INVITE that never became a call): what the call's record must
   * say it got.
   */
  readonly finals = new Map<string, number>();

  /** Addressing headers that named the other side's hosts (topology hiding broken). */
  readonly leaks: string[] = [];

  /**
   * 1xx and 2xx to the callers' first INVITEs (CSeq 1), with a To tag, sent to PROXY (they set up
   * a dialog through it), and
   * how many of them carried its Record-Route back (RFC 3261 §12.1.1). Counted, not checked one
   * by one: a mutated INVITE may have lost the header on its way in.
   */
  proxiedAnswers = 0;
  proxiedAnswersWithRoute = 0;

  /** Reliable 183s sent by callees, and how many of them a PRACK reached (RFC 3262). */
  reliableSent = 0;
  reliablePracked = 0;
  /** Attended transfers (shape 14): replacing INVITEs reaching the callee, and those mapped. */
  replacesSent = 0;
  replacesMapped = 0;

  /** Delayed offers answered in the caller's ACK, and how many reached the callee's ACK. */
  delayedAcks = 0;
  delayedAcksWithAnswer = 0;

  /** What Tandem sent since the last look, noting the callers' finals and any leak. */
  take(): Sent[] {
    const all = this.loop.take();
    for (const s of all) {
      const leak = leakIn(s);
      if (leak) this.leaks.push(leak);
      const m = s.msg;
      if (m instanceof SipRequest || s.dest.port !== CALLER.port) continue;
      const status = (m as SipResponse).status;
      if (
        s.dest.host === PROXY.host && status > 100 && status < 300 &&
        m.cseq.method === "INVITE" && m.cseq.seq === 1 && m.to.tag !== undefined
      ) {
        this.proxiedAnswers++;
        if (m.getAll("record-route").includes(PROXY_RR)) this.proxiedAnswersWithRoute++;
      }
      const key = `${m.callId} ${m.to.tag}`;
      if (status >= 200 && m.cseq.method === "INVITE" && !this.finals.has(key)) {
        this.finals.set(key, status);
      }
    }
    return all;
  }
}

/**
 * `text` from the caller as PROXY forwards it: a request gets the proxy's Via on top (its branch
 * made from the caller's, so retransmissions and a non-2xx ACK still match) and, for an INVITE
 * out of dialog, its Record-Route; a response passes as it is (the proxy took its Via off).
 */
function viaProxy(text: string): string {
  if (text.startsWith("SIP/2.0 ")) return text;
  const branch = /^Via: [^\n]*;branch=([^;\n]+)/m.exec(text)?.[1] ?? "none";
  const via = `Via: SIP/2.0/UDP ${PROXY.host}:${PROXY.port};branch=z9hG4bK-px-${branch}\n`;
  let out = text.replace(/^Via: /m, `${via}Via: `);
  if (out.startsWith("INVITE ") && !/^To: [^\n]*;tag=/m.test(out)) {
    out = out.replace(/^Via: /m, `Record-Route: ${PROXY_RR}\nVia: `);
  }
  return out;
}

/**
 * A host as a host: not inside a longer token ("10.0.0.21", "%4010.0.0.1") nor as a user part
 * ("sip:10.0.0.1@…", which is the caller's to choose).
 */
const asHost = (host: string) =>
  [host, new RegExp(`(?<![\\w%.-])${host.replaceAll(".", "\\.")}(?![0-9@])`)] as const;
/** A browser caller's made-up host (RFC 7118 §5). */
const WS_HOST = "k7x9ad2q.invalid";
const CALLER_HOSTS = ["10.0.0.1", PROXY.host, WS_HOST].map(asHost);
/** The callees, the forking branch and the Record-Route proxy on the callee side. */
const CALLEE_HOSTS = ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.7"].map(asHost);
const ADDRESSING = ["via", "contact", "record-route", "route", "from", "to", "call-id"];

/**
 * RFC 7092 §4 topology hiding: what Tandem sends to one side names none of the other side's
 * hosts in its Request-URI or addressing headers. Bodies (SDP: media is not anchored here),
 * extension headers (passed by policy) and a relayed 3xx's Contact (the caller is meant to
 * follow it) carry what they carry.
 */
function leakIn(s: Sent): string | undefined {
  const m = s.msg;
  // The side by Call-ID: Tandem makes the callee legs' ("<20 characters>@10.0.0.9"); the
  // caller's is its own (or what a mutation made of it), and may name a mutated host.
  const toCallee = /^[0-9a-z]{20}@10\.0\.0\.9$/.test(m.callId);
  const others = toCallee ? CALLER_HOSTS : CALLEE_HOSTS;
  const status = m instanceof SipRequest ? 0 : (m as SipResponse).status;
  const texts: string[] = m instanceof SipRequest ? [m.uri] : [];
  for (const h of m.headers) {
    if (!ADDRESSING.includes(h.key)) continue;
    // Towards the caller, the dialog's identity (Call-ID, and its From and To URIs) is what the
    // caller chose, a mutation included: Tandem copies it, it does not make it up.
    if (!toCallee && (h.key === "call-id" || h.key === "from" || h.key === "to")) continue;
    // A response echoes the Via, From, To and Call-ID of the request it answers: the side it
    // goes to. What Tandem adds of its own is the Contact.
    if (status > 0 && h.key !== "contact" && h.key !== "record-route") continue;
    if (h.key === "contact" && status >= 300 && status < 400) continue;
    texts.push(h.value);
  }
  for (const t of texts) {
    for (const [host, re] of others) {
      // The address a message goes to is no secret of the other side: a caller whose Contact a
      // mutation moved onto a callee's host is sent its BYE there.
      if (host === s.dest.host) continue;
      if (re.test(t)) {
        return `${describe(m)} to ${s.dest.host}:${s.dest.port} names ${host}: ${t}`;
      }
    }
  }
  return undefined;
}

const isReq = (method: string, callId?: string, port?: number) => (s: Sent) =>
  s.msg instanceof SipRequest && s.msg.method === method &&
  (callId === undefined || s.msg.callId === callId) &&
  (port === undefined || s.dest.port === port);
const isRes = (status: number, method: string, callId: string) => (s: Sent) =>
  !(s.msg instanceof SipRequest) && (s.msg as SipResponse).status === status &&
  s.msg.cseq.method === method && s.msg.callId === callId;

/** The newest INVITE Tandem sent to a callee for call `n`, and where it went. */
function calleeInvite(f: Fuzzer, n: number): Sent | undefined {
  return f.find((s) =>
    isReq("INVITE")(s) && s.dest.port !== CALLER.port && s.msg.get("x-call") === `${n}`
  );
}

/**
 * One call, its caller on UDP, on TCP, or behind a proxy, in one of fifteen shapes: answered and
 * replaced by a third party (attended transfer, RFC 3891), answered and hung up by the caller (with a re-INVITE, an INFO relayed, a re-INVITE glare where the callee
 * refuses Tandem's with 491, an UPDATE from the callee, early media before the answer, reliable
 * early media PRACKed by the caller or by Tandem, or a forked second answer) or by
 * the callee; cancelled while ringing; refused with 486;
 * failed over after a 503; redirected by a 302 to a callee that refuses; or challenged for
 * credentials (407) by a callee that then refuses. The flow stops where a message it needs did not
 * come (a mutation changed the call); timers take it from there.
 */
function oneCall(f: Fuzzer, n: number): void {
  const aCallId = `caller-call-${n}@10.0.0.1`;
  const shape = Math.floor(f.r() * 15);
  f.callerTcp = f.r() < 0.25;
  f.callerWs = !f.callerTcp && f.r() < 0.15;
  f.callerProxied = !f.callerTcp && !f.callerWs && f.r() < 0.3;
  const offers100rel = shape === 12 ? "Supported: 100rel\n" : "";
  // A share of callers make a delayed offer: no SDP in the INVITE, the answer in the ACK.
  const delayed = f.r() < 0.15;
  const makeInvite = delayed ? delayedOfferInvite : callerInvite;
  f.send(makeInvite("fuzz", `X-Call: ${n}\n${offers100rel}`, n), CALLER);
  let sent = calleeInvite(f, n);
  if (!sent) return;
  if (shape === 7) {
    // The callee asks for credentials: Tandem answers the challenge with the route's.
    const challenge = 'Proxy-Authenticate: Digest realm="carrier", nonce="n' + n +
      '", qop="auth", algorithm=MD5\n';
    f.send(answer(sent.msg, 407, `c0${n}`, { extra: challenge }), sent.dest);
    sent = calleeInvite(f, n);
    if (!sent) return;
  }
  if (shape === 4 || shape === 5) {
    // The first callee sends it elsewhere: a 503 fails over to the next route, a 302 is followed.
    const first = sent.msg as SipRequest;
    const contact = "<sip:moved@10.0.0.4:5090>";
    f.send(answer(first, shape === 4 ? 503 : 302, `c0${n}`, { contact }), sent.dest);
    sent = calleeInvite(f, n);
    if (!sent) return;
  }
  const inv = sent.msg as SipRequest;
  const callee = sent.dest;
  const b = inv.callId;
  f.send(answer(inv, 180, `ct${n}`), callee);
  f.maybeDrop(aCallId);
  if (shape === 2) { // CANCEL while ringing
    f.send(
      callerInvite("fuzz", `X-Call: ${n}\n`, n).replace("INVITE sip", "CANCEL sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"),
      CALLER,
    );
    const cancel = f.find(isReq("CANCEL", b))?.msg as SipRequest | undefined;
    if (!cancel) return;
    f.send(answer(cancel, 200, `ct${n}`), callee);
    f.send(answer(inv, 487, `ct${n}`), callee);
    const final = f.find(isRes(487, "INVITE", aCallId))?.msg;
    if (!final) return;
    return f.send(callerInDialog("ACK", final.get("to")!, 1, n), CALLER);
  }
  if (shape === 3 || shape === 5 || shape === 7) { // refused
    f.send(answer(inv, 486, `ct${n}`), callee);
    const final = f.find(isRes(486, "INVITE", aCallId))?.msg;
    if (!final) return;
    return f.send(callerInDialog("ACK", final.get("to")!, 1, n), CALLER);
  }
  const contact = `<sip:b@${callee.host}:${callee.port}>`;
  const rr = "Record-Route: <sip:10.0.0.7;lr>\n";
  if (shape === 10) { // early media: a 183 with SDP before the answer
    f.send(answer(inv, 183, `ct${n}`, { contact, body: SDP }), callee);
  }
  if (shape === 12 || shape === 13) {
    // Reliable early media (RFC 3262): the caller PRACKs it through Tandem (12), or Tandem
    // PRACKs it itself for a caller without 100rel (13).
    const extra = `Require: 100rel\nRSeq: ${n + 1}\n`;
    f.send(answer(inv, 183, `ct${n}`, { contact, body: SDP, extra }), callee);
    f.reliableSent++;
    if (shape === 12) {
      const p = f.find(isRes(183, "INVITE", aCallId))?.msg;
      if (!p) return;
      const rack = `RAck: ${p.get("rseq")} 1 INVITE\n`;
      f.send(callerInDialog("PRACK", p.get("to")!, 2, n, rack), CALLER);
    }
    const prack = f.find(isReq("PRACK", b))?.msg as SipRequest | undefined;
    if (!prack) return;
    if (prack.get("rack") === `${n + 1} ${inv.cseq.seq} INVITE`) f.reliablePracked++;
    f.send(answer(prack, 200, `ct${n}`), callee);
  }
  if (shape === 11) {
    // A forking proxy: a second branch rings and answers too, after the first (§13.2.2.4: the
    // second dialog is ACKed and ended with BYE).
    f.send(answer(inv, 180, `fk${n}`, { contact: "<sip:fork@10.0.0.5:5090>" }), callee);
    f.send(answer(inv, 200, `ct${n}`, { contact, body: SDP, extra: rr }), callee);
    f.send(answer(inv, 200, `fk${n}`, { contact: "<sip:fork@10.0.0.5:5090>", body: SDP }), callee);
  } else f.send(answer(inv, 200, `ct${n}`, { contact, body: SDP, extra: rr }), callee);
  const ok = f.find(isRes(200, "INVITE", aCallId))?.msg;
  if (!ok) return;
  const to = ok.get("to")!;
  f.send(delayed ? ackWithAnswer(to, SDP, n) : callerInDialog("ACK", to, 1, n), CALLER);
  if (delayed) {
    f.delayedAcks++;
    const ack = f.find(isReq("ACK", b))?.msg;
    if (ack && ack.body.length > 0 && ack.get("content-type")) f.delayedAcksWithAnswer++;
  }
  f.maybeDrop(aCallId);
  let cseq = shape === 12 ? 3 : 2;
  if (shape === 0 || shape === 6) {
    // A re-INVITE (hold), or an INFO, from the caller.
    const method = shape === 0 ? "INVITE" : "INFO";
    f.send(callerInDialog(method, to, cseq, n, "Contact: <sip:alice@10.0.0.1:5070>\n"), CALLER);
    const mid = f.find(isReq(method, b))?.msg as SipRequest | undefined;
    if (!mid) return;
    f.send(answer(mid, 200, `ct${n}`, shape === 0 ? { contact, body: SDP } : {}), callee);
    if (!f.find(isRes(200, method, aCallId))) return;
    if (shape === 0) f.send(callerInDialog("ACK", to, cseq, n), CALLER);
    cseq++;
  }
  // A request from the callee inside its dialog (its own CSeq space).
  const fromCallee = (method: string, seq: number, extra = "", body = "") =>
    `${method} sip:alice@10.0.0.1:5070 SIP/2.0
Via: SIP/2.0/UDP ${callee.host}:${callee.port};branch=z9hG4bK-callee-${method}-${seq}-${n}
Max-Forwards: 70
Route: <sip:10.0.0.9:5060;lr>
From: ${inv.get("to")};tag=ct${n}
To: ${inv.get("from")}
Call-ID: ${b}
CSeq: ${seq} ${method}
${extra}${body ? "Content-Type: application/sdp\n" : ""}Content-Length: ${
      body.replace(/\n/g, "\r\n").length
    }

${body}`;
  if (shape === 8) {
    // Glare: both ends re-INVITE at once; the callee refuses Tandem's with 491 (§14.1).
    f.send(callerInDialog("INVITE", to, cseq, n, `Contact: <sip:alice@10.0.0.1:5070>\n`), CALLER);
    const re = f.find(isReq("INVITE", b))?.msg as SipRequest | undefined;
    f.send(fromCallee("INVITE", 1, `Contact: ${contact}\n`, SDP), callee);
    if (re) f.send(answer(re, 491, `ct${n}`), callee);
    const final = f.find((s) =>
      !(s.msg instanceof SipRequest) && s.msg.callId === aCallId && s.msg.cseq.seq === cseq &&
      (s.msg as SipResponse).status >= 200
    );
    if (final) f.send(callerInDialog("ACK", to, cseq, n), CALLER);
    cseq++;
  }
  if (shape === 9) { // the callee updates the session (RFC 3311), the caller accepts
    f.send(fromCallee("UPDATE", 1, `Contact: ${contact}\n`, SDP), callee);
    const update = f.find(isReq("UPDATE", aCallId, CALLER.port))?.msg as SipRequest | undefined;
    if (!update) return;
    f.send(answer(update, 200, "x", { contact: "<sip:alice@10.0.0.1:5070>", body: SDP }), CALLER);
    if (!f.find(isRes(200, "UPDATE", b))) return;
  }
  if (shape === 14) {
    // Attended transfer (RFC 3891): a third party replaces the caller; the callee takes the new
    // call and ends the replaced dialog, whose BYE reaches the caller; the third party hangs up.
    const m = 500_000 + n;
    const tandemTag = /;tag=([^;>\s]+)/.exec(to)?.[1];
    const replaces = `Replaces: ${aCallId};to-tag=${tandemTag};from-tag=caller-tag-${n}\n`;
    f.send(callerInvite("fuzz", `X-Call: ${m}\n${replaces}`, m), CALLER);
    const rep = calleeInvite(f, m);
    if (!rep) return;
    const rinv = rep.msg as SipRequest;
    f.replacesSent++;
    if (rinv.get("replaces") === `${b};to-tag=ct${n};from-tag=${inv.from.tag}`) f.replacesMapped++;
    f.send(answer(rinv, 200, `rt${n}`, { contact, body: SDP }), rep.dest);
    const ok2 = f.find(isRes(200, "INVITE", `caller-call-${m}@10.0.0.1`))?.msg;
    if (!ok2) return;
    const to2 = ok2.get("to")!;
    f.send(callerInDialog("ACK", to2, 1, m), CALLER);
    f.send(fromCallee("BYE", 2), callee);
    const old = f.find(isReq("BYE", aCallId, CALLER.port))?.msg as SipRequest | undefined;
    if (old) f.send(answer(old, 200, "x"), CALLER);
    f.send(callerInDialog("BYE", to2, 2, m), CALLER);
    const bye2 = f.find(isReq("BYE", rinv.callId))?.msg as SipRequest | undefined;
    if (bye2) f.send(answer(bye2, 200, `rt${n}`), rep.dest);
    return;
  }
  if (shape === 1) { // the callee hangs up
    f.send(fromCallee("BYE", 2), callee);
    const bye = f.find(isReq("BYE", aCallId, CALLER.port))?.msg as SipRequest | undefined;
    if (!bye) return;
    return f.send(answer(bye, 200, "x"), CALLER);
  }
  f.send(callerInDialog("BYE", to, cseq, n), CALLER);
  const bye = f.find(isReq("BYE", b))?.msg as SipRequest | undefined;
  if (!bye) return;
  f.send(answer(bye, 200, `ct${n}`), callee);
}

/**
 * What a CDR must say of an ended call, whatever happened to its messages: when it ended and why,
 * the caller's final status, times in order, an answer exactly when the status is 2xx, no
 * answered call longer than the route's max-duration (it is billed), every attempt closed.
 */
function recordProblems(rec: CallRecord, maxDurationMs: number): string[] {
  const p: string[] = [];
  if (rec.endAt === undefined || rec.endAt < rec.inviteAt) p.push("no end, or before the INVITE");
  if (!rec.endedBy || !rec.endReason) p.push("no endedBy/endReason");
  if (rec.finalStatus === undefined) p.push("no final status for the caller");
  const ok = rec.finalStatus !== undefined && rec.finalStatus >= 200 && rec.finalStatus < 300;
  if (ok !== (rec.answerAt !== undefined)) p.push("answered iff 2xx does not hold");
  if (rec.answerAt !== undefined && rec.endAt !== undefined) {
    if (rec.answerAt < rec.inviteAt || rec.answerAt > rec.endAt) p.push("answer out of order");
    if (rec.endAt - rec.answerAt > maxDurationMs + 1000) p.push("longer than max-duration");
  }
  if (rec.firstProvisionalAt !== undefined && rec.firstProvisionalAt < rec.inviteAt) {
    p.push("provisional before the INVITE");
  }
  for (const at of rec.attempts) {
    if (at.endAt === undefined || !at.outcome) p.push(`attempt ${at.index} not closed`);
    if (at.answerAt !== undefined && (at.answerAt < at.inviteAt || (at.endAt ?? 0) < at.answerAt)) {
      p.push(`attempt ${at.index} answer out of order`);
    }
  }
  return p;
}

Deno.test("fuzzed messages inside whole calls: nothing throws, nothing is left behind", () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? (Date.now() % 0x7fffffff));
  const calls = Number(Deno.env.get("FUZZ_CALLS") ?? 3000);
  console.log(`b2bua fuzz: FUZZ_SEED=${seed} FUZZ_CALLS=${calls}`);
  const warnings: string[] = [];
  const log = new Logger("warn", "json", (line) => warnings.push(line));
  const ended = new Map<string, number>();
  const badRecords: string[] = [];
  const records: { rec: CallRecord; tag: string }[] = [];
  const timers = { noProgress: 5000, noAnswer: 30_000, maxDuration: 3_600_000 };
  // Limits high enough never to refuse: their counts must still come back to zero.
  const limits = { maxCalls: 1_000_000 };
  const cfg = config([{
    ...rule([
      route("10.0.0.2", 5090, {
        timers,
        followRedirects: true,
        auth: { username: "tandem", password: "secret" },
        limits,
      }),
      route("10.0.0.3", 5090, { timers, transport: "tcp", limits }),
    ]),
    limits,
  }]);
  cfg.limits.maxCalls = 1_000_000;
  const loop = new Loop(
    cfg,
    {
      onCallEnded: (rec, call) => {
        ended.set(rec.id, (ended.get(rec.id) ?? 0) + 1);
        records.push({ rec, tag: call.a.localTag });
        const bad = recordProblems(rec, timers.maxDuration);
        if (bad.length) badRecords.push(`${bad.join("; ")}: ${JSON.stringify(rec)}`);
      },
      digest: digestAuthorization,
    },
    undefined,
    undefined,
    log,
  );
  loop.transports.add("ws");
  const f = new Fuzzer(loop, prng(seed), Number(Deno.env.get("FUZZ_RATE") ?? 0.3));
  let started = 0;
  for (let n = 0; n < calls; n++) {
    try {
      oneCall(f, n);
    } catch (e) {
      throw new Error(
        `call ${n} (FUZZ_SEED=${seed}) threw ${(e as Error).stack}\nlast mutated message:\n` +
          f.lastDelivered,
      );
    }
    started = n + 1;
    // Let some retransmission timers fire between calls, as they would on a live server.
    loop.timers.advance(Math.floor(f.r() * 200));
  }
  loop.timers.advance(2 * 3_600_000);
  f.take();
  // A challenge whose mutation Tandem cannot answer (an unknown algorithm) is a warning, and the
  // 407 goes back to the caller. Nothing else may warn: "request-failed" is the catch-all 500.
  const unexpected = warnings.filter((w) => !w.includes('"event":"digest-failed"'));
  assert.deepEqual(
    unexpected.slice(0, 3),
    [],
    `${unexpected.length} unexpected warnings or errors (seed ${seed})`,
  );
  assert.equal(loop.b2bua.calls.size, 0, "calls left after every timer ran out");
  assert.equal(loop.b2bua.legCount, 0, "legs left");
  assert.deepEqual(loop.txl.size, { client: 0, server: 0 }, "transactions left");
  const held = [...loop.b2bua.limits.rules, ...loop.b2bua.limits.routes]
    .filter(([, u]) => u.live !== 0 || u.admitted === 0).map(([name, u]) => `${name} ${u.live}`);
  assert.deepEqual(held, [], "rule and route counts not back to zero (or never counted)");
  assert.deepEqual(badRecords.slice(0, 2), [], `${badRecords.length} inconsistent call records`);
  assert.deepEqual(f.leaks.slice(0, 3), [], `${f.leaks.length} messages leak the other side`);
  assert.ok(
    (f.proxiedAnswers > 0 || calls < 1000) &&
      f.proxiedAnswersWithRoute >= f.proxiedAnswers * 0.95,
    `${f.proxiedAnswersWithRoute} of ${f.proxiedAnswers} answers through the proxy kept its route`,
  );
  assert.ok(
    (f.delayedAcks > 0 || calls < 1000) && f.delayedAcksWithAnswer >= f.delayedAcks * 0.8,
    `${f.delayedAcksWithAnswer} of ${f.delayedAcks} delayed offers' answers reached the callee`,
  );
  // Most reliable provisionals get their PRACK, with the callee's RSeq and CSeq (mutations lose
  // some on the way: counted, like the proxy's routes).
  assert.ok(
    (f.reliableSent > 0 || calls < 1000) && f.reliablePracked >= f.reliableSent * 0.6,
    `${f.reliablePracked} of ${f.reliableSent} reliable provisionals PRACKed as sent`,
  );
  // Most replacing INVITEs reach the callee naming its own leg of the replaced call.
  assert.ok(
    (f.replacesSent > 0 || calls < 1000) && f.replacesMapped >= f.replacesSent * 0.6,
    `${f.replacesMapped} of ${f.replacesSent} replacing INVITEs named the callee's leg`,
  );
  // The CDR's status is the one the caller got (re-INVITEs aside: the first final to its INVITE).
  const misreported = records.flatMap(({ rec, tag }) => {
    const got = f.finals.get(`${rec.callerCallId} ${tag}`);
    return got === undefined || got === rec.finalStatus
      ? []
      : [`${rec.finalStatus} recorded, caller got ${got}: ${JSON.stringify(rec)}`];
  });
  assert.deepEqual(misreported.slice(0, 2), [], `${misreported.length} CDRs misreport the status`);
  const twice = [...ended].filter(([, k]) => k !== 1);
  assert.deepEqual(twice, [], "calls that ended more than once");
  console.log(
    `b2bua fuzz: ${started} calls (${f.dropped} dropped by the operator), ${ended.size} call ` +
      `records, ${f.mutated} mutated ` +
      `messages, ${f.delivered} reached the transaction layer, ${f.reliablePracked} of ` +
      `${f.reliableSent} reliable provisionals PRACKed, ${f.delayedAcksWithAnswer} of ` +
      `${f.delayedAcks} delayed offers answered to the callee, ${f.replacesMapped} of ` +
      `${f.replacesSent} replacing INVITEs mapped`,
  );
  // The mutations must mostly survive the parser, or the B2BUA goes untested.
  assert.ok(f.delivered > f.mutated / 3, `only ${f.delivered} of ${f.mutated} delivered`);
});

// RFC 2866 §5 accounting attributes, Cisco style (Cisco "RADIUS VSA Voice Implementation
// Guide"): one Start / Interim-Update / Stop per call leg, h323-* VSAs as `name=value` text.

import { Buffer } from "node:buffer";
import { type RadiusAttribute, VENDOR_CISCO } from "./codec.ts";
import { ciscoTime } from "./cisco-time.ts";
import { q850Hex, sipToQ850 } from "./q850.ts";

/**
 * What accounting needs to know about a call. The CDR record (`src/cdr` CdrRecord) satisfies
 * it structurally; a live call (Start, Interim) simply lacks the end fields.
 */
export interface AccountingCall {
  id: string;
  callIdIn: string;
  callIdOut?: string;
  in: { from: string; to: string; ruri: string };
  out?: { from: string; to: string; ruri: string };
  source: string;
  destination?: string;
  user?: string;
  setupAt: number;
  connectAt?: number;
  disconnectAt?: number;
  finalCode?: number;
  q850?: number;
  endReason?: string;
}

/**
 * The call leg, as Cisco gateways name it: `answer` is the incoming leg from the caller,
 * `originate` the outgoing leg Tandem placed toward the callee.
 */
export type CallLeg = "answer" | "originate";

/** Per-gateway values of every accounting packet. */
export interface AccountingContext {
  /** NAS-IP-Address (IPv4 only; omitted otherwise). */
  nasIp?: string;
  /** h323-gw-id. */
  gatewayId: string;
  /** Wall-clock time of sending (epoch ms), for Event-Timestamp and Acct-Delay-Time. */
  now: number;
}

const STATUS = { start: "Start", stop: "Stop", interim: "Interim-Update" } as const;

/**
 * RFC 2866 §5.10 Acct-Terminate-Cause for a CDR end reason:
 * bye/cancel/rejected → User-Request, timeout:no-answer/no-progress → Idle-Timeout,
 * timeout:media → Lost-Carrier, max-duration/credit → Session-Timeout, drop → Admin-Reset,
 * failover → Service-Unavailable, error → NAS-Error, interrupted (Tandem stopped with the call
 * up) → NAS-Reboot.
 */
export function terminateCause(endReason: string | undefined): string {
  switch (endReason) {
    case "timeout:no-answer":
    case "timeout:no-progress":
      return "Idle-Timeout";
    case "timeout:media":
      return "Lost-Carrier";
    case "max-duration":
    case "credit":
      return "Session-Timeout";
    case "drop":
      return "Admin-Reset";
    case "failover":
      return "Service-Unavailable";
    case "error":
      return "NAS-Error";
    case "interrupted":
      return "NAS-Reboot";
    default:
      return "User-Request";
  }
}

/** The user part of a SIP/SIPS/TEL URI inside a header value; "" if there is none. */
export function uriUser(value: string | undefined): string {
  const m = /(?:sips?:([^@;>?\s:]+)(?::[^@;>?\s]*)?@|tel:([^;>?\s]+))/i.exec(value ?? "");
  return m ? m[1] ?? m[2] : "";
}

/** Cisco h323-conf-id text from a CDR UUID: four 8-hex-digit groups, upper case. */
export function confId(cdrId: string): string {
  const hex = cdrId.replace(/-/g, "").toUpperCase().padEnd(32, "0").slice(0, 32);
  return `${hex.slice(0, 8)} ${hex.slice(8, 16)} ${hex.slice(16, 24)} ${hex.slice(24, 32)}`;
}

/** Acct-Session-Id of one leg: the CDR id and a leg suffix, stable across retries. */
export function acctSessionId(cdrId: string, leg: CallLeg): string {
  return `${cdrId}-${leg === "answer" ? "a" : "o"}`;
}

function host(addr: string | undefined): string {
  if (!addr) return "";
  const v6 = /^\[([^\]]+)\]/.exec(addr);
  if (v6) return v6[1];
  const i = addr.lastIndexOf(":");
  return i > 0 && addr.indexOf(":") === i ? addr.slice(0, i) : addr;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function build(
  kind: keyof typeof STATUS,
  call: AccountingCall,
  leg: CallLeg,
  ctx: AccountingContext,
): RadiusAttribute[] {
  const addr = leg === "answer" ? call.in : call.out ?? call.in;
  const callId = leg === "answer" ? call.callIdIn : call.callIdOut ?? call.callIdIn;
  const remote = leg === "answer" ? host(call.source) : host(call.destination);
  const userName = call.user || uriUser(call.in.from) || host(call.source);
  const a: RadiusAttribute[] = [
    ["Acct-Status-Type", STATUS[kind]],
    ["User-Name", userName],
    ["Calling-Station-Id", uriUser(addr.from)],
    ["Called-Station-Id", uriUser(addr.ruri) || uriUser(addr.to)],
    ["Acct-Session-Id", acctSessionId(call.id, leg)],
    // RFC 2866 §5.11: links the two legs; the CDR id also tells a retried Stop from a new one.
    ["Acct-Multi-Session-Id", call.id],
    ["Service-Type", "Login-User"],
    ["NAS-Port-Type", "Virtual"],
    ["Event-Timestamp", new Date(Math.floor(ctx.now / 1000) * 1000)],
  ];
  if (ctx.nasIp && IPV4.test(ctx.nasIp)) a.push(["NAS-IP-Address", ctx.nasIp]);
  const vsa = (name: string, value: string): RadiusAttribute => [
    "Vendor-Specific",
    VENDOR_CISCO,
    [[name, Buffer.from(value, "utf8")]],
  ];
  const h323 = (name: string, value: string) => vsa(name, `${name}=${value}`);
  a.push(
    h323("h323-conf-id", confId(call.id)),
    h323("h323-call-origin", leg),
    h323("h323-call-type", "VoIP"),
    h323("h323-gw-id", ctx.gatewayId),
    h323("h323-setup-time", ciscoTime(call.setupAt)),
    vsa("Cisco-AVPair", `call-id=${callId}`),
    vsa("Cisco-AVPair", "session-protocol=sipv2"),
  );
  if (remote) a.push(h323("h323-remote-address", remote));
  if (kind === "start" || kind === "interim") {
    if (call.connectAt !== undefined) a.push(h323("h323-connect-time", ciscoTime(call.connectAt)));
    if (kind === "interim" && call.connectAt !== undefined) {
      a.push(["Acct-Session-Time", Math.max(0, Math.floor((ctx.now - call.connectAt) / 1000))]);
    }
    return a;
  }
  // Stop. A call that never connected gets connect-time = disconnect-time, as Cisco gateways
  // report it, and Acct-Session-Time 0.
  const end = call.disconnectAt ?? ctx.now;
  const cause = call.q850 ?? (call.finalCode ? sipToQ850(call.finalCode) : 16);
  a.push(
    h323("h323-connect-time", ciscoTime(call.connectAt ?? end)),
    h323("h323-disconnect-time", ciscoTime(end)),
    h323("h323-disconnect-cause", q850Hex(cause)),
    [
      "Acct-Session-Time",
      call.connectAt === undefined ? 0 : Math.max(0, Math.floor((end - call.connectAt) / 1000)),
    ],
    ["Acct-Terminate-Cause", terminateCause(call.endReason)],
    ["Acct-Delay-Time", Math.max(0, Math.floor((ctx.now - end) / 1000))],
  );
  return a;
}

/** Accounting-Request Start for one leg (send when the call is answered). */
export function accountingStart(
  call: AccountingCall,
  leg: CallLeg,
  ctx: AccountingContext,
): RadiusAttribute[] {
  return build("start", call, leg, ctx);
}

/** Accounting-Request Interim-Update for one leg (every RadiusConfig.interimInterval). */
export function accountingInterim(
  call: AccountingCall,
  leg: CallLeg,
  ctx: AccountingContext,
): RadiusAttribute[] {
  return build("interim", call, leg, ctx);
}

/** Accounting-Request Stop for one leg, also for calls that never connected. */
export function accountingStop(
  call: AccountingCall,
  leg: CallLeg,
  ctx: AccountingContext,
): RadiusAttribute[] {
  return build("stop", call, leg, ctx);
}

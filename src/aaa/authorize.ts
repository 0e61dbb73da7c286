// Authorization of incoming calls over RADIUS: Cisco-style by source address (User-Name = IP)
// and SIP Digest per draft-sterman-aaa-sip-00 §3 (FreeRADIUS rlm_digest) or RFC 5090 §3.

import { Buffer } from "node:buffer";
import { type RadiusAttribute, values } from "./codec.ts";
import { DigestParseError, parseDigestParams, quoteParam } from "./auth-params.ts";
import { createNonce } from "./nonce.ts";
import { RadiusTimeoutError } from "./errors.ts";
import type { RadiusClient, RadiusReply } from "./radius-client.ts";

/** What the B2BUA needs to decide and route a call. */
export interface AuthorizationResult {
  outcome: "accept" | "reject" | "timeout";
  /** h323-credit-time (or Session-Timeout) in ms: cap the call's duration. */
  creditTimeMs?: number;
  /** `h323-ivr-in=Routing:<route>` entries, in order: route names or host[:port]. */
  routes?: string[];
  /** `h323-ivr-in=CLI:<user>`: replace the From user. */
  callerId?: string;
  /** `h323-ivr-in=Display:<name>`: replace the From display name. */
  display?: string;
  /** h323-return-code (Cisco: 0 success, anything else a reject). */
  returnCode?: number;
  /** Reply-Message, if any (for logs). */
  message?: string;
}

/** The credentials of a Proxy-Authorization header (RFC 3261 §22.4, RFC 7616 §3.4). */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm?: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
  opaque?: string;
}

/** Request context common to both authorization modes. */
export interface AuthorizeContext {
  /** NAS-IP-Address (IPv4). */
  nasIp?: string;
  /** Caller's user (From) → Calling-Station-Id. */
  callingStationId?: string;
  /** Called user (Request-URI) → Called-Station-Id. */
  calledStationId?: string;
  /** The CDR id → Acct-Session-Id, so auth and accounting records can be joined. */
  sessionId?: string;
}

/**
 * The Proxy-Authenticate value of a 407 (RFC 3261 §22.3): realm, a stateless signed nonce
 * (see nonce.ts), qop="auth", algorithm=MD5; `stale` after an expired nonce.
 */
export function digestChallenge(
  opts: { realm: string; secret: string; now: number; stale?: boolean },
): string {
  const parts = [
    `realm=${quoteParam(opts.realm)}`,
    `nonce=${quoteParam(createNonce(opts.secret, opts.now))}`,
    `qop="auth"`,
    `algorithm=MD5`,
  ];
  if (opts.stale) parts.push("stale=true");
  return `Digest ${parts.join(", ")}`;
}

/** Parses a Proxy-Authorization value; throws DigestParseError (answer 400 or a new 407). */
export function parseProxyAuthorization(header: string): DigestCredentials {
  const p = parseDigestParams(header);
  for (const k of ["username", "realm", "nonce", "uri", "response"]) {
    if (p[k] === undefined) throw new DigestParseError(header, `missing ${k}`);
  }
  if (p.qop && (!p.nc || !p.cnonce)) throw new DigestParseError(header, "qop without nc/cnonce");
  return {
    username: p.username,
    realm: p.realm,
    nonce: p.nonce,
    uri: p.uri,
    response: p.response,
    algorithm: p.algorithm,
    qop: p.qop,
    nc: p.nc,
    cnonce: p.cnonce,
    opaque: p.opaque,
  };
}

// draft-sterman-aaa-sip-00 §3.2 Digest-Attributes sub-attribute types.
const STERMAN: Record<string, number> = {
  realm: 1,
  nonce: 2,
  method: 3,
  uri: 4,
  qop: 5,
  algorithm: 6,
  cnonce: 8,
  nc: 9,
  username: 10,
};

function sub(type: number, value: string): RadiusAttribute {
  const v = Buffer.from(value, "utf8");
  if (v.length > 251) throw new DigestParseError(value, "value longer than 251 octets");
  return [207, Buffer.concat([Buffer.from([type, v.length + 2]), v])];
}

/** The Digest attributes of an Access-Request in the chosen style. */
export function digestAttributes(
  creds: DigestCredentials,
  method: string,
  style: "draft-sterman" | "rfc5090" = "draft-sterman",
): RadiusAttribute[] {
  const fields: [string, string | undefined][] = [
    ["realm", creds.realm],
    ["nonce", creds.nonce],
    ["method", method],
    ["uri", creds.uri],
    ["qop", creds.qop],
    ["algorithm", creds.algorithm],
    ["cnonce", creds.cnonce],
    ["nc", creds.nc],
    ["username", creds.username],
  ];
  if (style === "draft-sterman") {
    const out: RadiusAttribute[] = [["Digest-Response", creds.response]];
    for (const [k, v] of fields) if (v !== undefined && v !== "") out.push(sub(STERMAN[k], v));
    return out;
  }
  const names: Record<string, string> = {
    realm: "Digest-Realm",
    nonce: "Digest-Nonce",
    method: "Digest-Method",
    uri: "Digest-URI",
    qop: "Digest-Qop",
    algorithm: "Digest-Algorithm",
    cnonce: "Digest-CNonce",
    nc: "Digest-Nonce-Count",
    username: "Digest-Username",
  };
  // RFC 5090 §3.10.5.1 carries the digest in its own Digest-Response (103), not attr 206.
  const out: RadiusAttribute[] = [[103, Buffer.from(creds.response, "utf8")]];
  for (const [k, v] of fields) if (v !== undefined && v !== "") out.push([names[k], v]);
  return out;
}

function common(ctx: AuthorizeContext): RadiusAttribute[] {
  const a: RadiusAttribute[] = [["Service-Type", "Login-User"], ["NAS-Port-Type", "Virtual"]];
  if (ctx.nasIp && /^\d+\.\d+\.\d+\.\d+$/.test(ctx.nasIp)) a.push(["NAS-IP-Address", ctx.nasIp]);
  if (ctx.callingStationId) a.push(["Calling-Station-Id", ctx.callingStationId]);
  if (ctx.calledStationId) a.push(["Called-Station-Id", ctx.calledStationId]);
  if (ctx.sessionId) a.push(["Acct-Session-Id", ctx.sessionId]);
  return a;
}

const SAFE = /^[^\r\n\0]*$/;

function strip(v: string, name: string): string {
  return v.startsWith(`${name}=`) ? v.slice(name.length + 1) : v;
}

/**
 * Reads an Access-Accept/Reject: h323-credit-time (seconds, with or without the Cisco
 * `h323-credit-time=` prefix; Session-Timeout as fallback), h323-return-code, and the
 * `h323-ivr-in=` Cisco-AVPairs `Routing:<route>`, `CLI:<user>`, `Display:<name>` (also
 * accepted from an h323-ivr-in VSA if a dictionary defines one). Values containing CR, LF or
 * NUL are dropped (they would be copied into SIP headers).
 */
export function parseAuthorizationReply(reply: RadiusReply): AuthorizationResult {
  const res: AuthorizationResult = {
    outcome: reply.code === "Access-Accept" ? "accept" : "reject",
  };
  const cisco = reply.cisco;
  const credit = values(cisco["h323-credit-time"]).map((v) => strip(v, "h323-credit-time"))[0] ??
    values(reply.attributes["Session-Timeout"])[0];
  if (credit !== undefined && /^\s*\d+\s*$/.test(credit)) res.creditTimeMs = Number(credit) * 1000;
  const rc = values(cisco["h323-return-code"]).map((v) => strip(v, "h323-return-code"))[0];
  if (rc !== undefined && /^\s*\d+\s*$/.test(rc)) {
    res.returnCode = Number(rc);
    if (res.returnCode !== 0) res.outcome = "reject";
  }
  const ivr = [
    ...values(cisco["Cisco-AVPair"]).filter((v) => v.startsWith("h323-ivr-in=")),
    ...values(cisco["h323-ivr-in"]),
  ].map((v) => strip(v, "h323-ivr-in")).filter((v) => SAFE.test(v));
  for (const v of ivr) {
    const m = /^(Routing|CLI|Display):(.*)$/i.exec(v);
    if (!m) continue;
    const key = m[1].toLowerCase();
    if (key === "routing" && m[2]) (res.routes ??= []).push(m[2].trim());
    else if (key === "cli" && m[2]) res.callerId = m[2].trim();
    else if (key === "display") res.display = m[2];
  }
  const msg = values(reply.attributes["Reply-Message"])[0];
  if (msg !== undefined) res.message = msg;
  return res;
}

async function ask(client: RadiusClient, attrs: RadiusAttribute[]): Promise<AuthorizationResult> {
  try {
    return parseAuthorizationReply(await client.access(attrs));
  } catch (e) {
    if (e instanceof RadiusTimeoutError) return { outcome: "timeout" };
    throw e;
  }
}

/**
 * Cisco-style authorization by source address: User-Name and User-Password are the caller's
 * IP (the password can be overridden, e.g. to Cisco's customary "cisco").
 */
export function authorizeBySource(
  client: RadiusClient,
  ip: string,
  ctx: AuthorizeContext & { password?: string } = {},
): Promise<AuthorizationResult> {
  return ask(client, [
    ["User-Name", ip],
    ["User-Password", ctx.password ?? ip],
    ...common(ctx),
  ]);
}

/**
 * Digest authorization: the server checks the response (FreeRADIUS `digest` module) and
 * returns the call's credit and routing. Check the nonce with checkNonce() first.
 */
export function authorizeDigest(
  client: RadiusClient,
  creds: DigestCredentials,
  method: string,
  ctx: AuthorizeContext & { style?: "draft-sterman" | "rfc5090" } = {},
): Promise<AuthorizationResult> {
  return ask(client, [
    ["User-Name", creds.username],
    ...digestAttributes(creds, method, ctx.style),
    ...common(ctx),
  ]);
}

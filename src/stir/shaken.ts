// STIR/SHAKEN for a B2BUA: the authentication service (RFC 8224 §5) signs the INVITEs it places
// for calls it vouches for, and the verification service (RFC 8224 §6.2, ATIS-1000074 §5.3)
// checks the Identity headers of the INVITEs it receives and says what it found the way 3GPP TS
// 24.229 does (verstat).

import { parseNameAddr, type SipRequest } from "../sip/mod.ts";
import { metrics } from "../util/metrics.ts";
import type { KeyObject } from "node:crypto";
import type { CertificateCache } from "./certificate-cache.ts";
import { es256Sign, es256Verify } from "./keys.ts";
import {
  type Attestation,
  IdentityError,
  identityPpt,
  identityValue,
  parseIdentity,
  type ReceivedPassport,
  signingInput,
} from "./passport.ts";
import { canonicalTn } from "./tn.ts";
import { tnAuthorized } from "./tn-auth-list.ts";

/** 3GPP TS 24.229 §7.2A.20: what verification found, as the callee is told. */
export type Verstat = "TN-Validation-Passed" | "TN-Validation-Failed" | "No-TN-Validation";

/** The outcome of checking a caller's Identity headers. */
export interface Verification {
  verstat: Verstat;
  /** Of the PASSporT that passed. */
  attest?: Attestation;
  origid?: string;
  /** For a failure: the answer RFC 8224 §6.2.2 gives (438, 437, 436, 403) and why. */
  status?: number;
  reason?: string;
  detail?: string;
}

export interface SignerOptions {
  /** The EC P-256 key (see loadSigningKey). */
  key: KeyObject;
  /** Where verifiers fetch the certificate (the PASSporT's x5u and the header's info). */
  x5u: string;
}

export interface VerifierOptions {
  certificates: CertificateCache;
  /** ms an iat may lie from now either way (RFC 8224 §6.2.1 freshness). */
  maxAge: number;
}

const mSigned = metrics.counter(
  "tandem_stir_signed_total",
  "Outgoing INVITEs given a SHAKEN Identity header, by attestation; skipped: the calling or " +
    "called party was not a telephone number.",
);
const mVerified = metrics.counter(
  "tandem_stir_verifications_total",
  "Incoming INVITEs checked for a SHAKEN Identity header, by verstat (passed, failed, none) " +
    "and, for failures, the RFC 8224 answer (438, 437, 436, 403).",
);

/**
 * SHAKEN Identity headers checked per INVITE: a call carries one (two across a transition), and
 * each can cost a certificate fetch.
 */
const MAX_CHECKED = 3;

const enc = new TextEncoder();

export class Shaken {
  constructor(
    private readonly opts: {
      signer?: SignerOptions;
      verifier?: VerifierOptions;
      /** Wall-clock ms. */
      now: () => number;
    },
  ) {}

  get signs(): boolean {
    return this.opts.signer !== undefined;
  }

  get verifies(): boolean {
    return this.opts.verifier !== undefined;
  }

  /**
   * The Identity header value for an INVITE from `origUser` to `destUser` (URI user parts), or
   * undefined when either is not a telephone number (nothing SHAKEN can vouch for).
   */
  sign(
    origUser: string | undefined,
    destUser: string | undefined,
    attest: Attestation,
    origid: string,
  ): string | undefined {
    const s = this.opts.signer;
    if (!s) return undefined;
    const orig = canonicalTn(origUser);
    const dest = canonicalTn(destUser);
    if (orig === undefined || dest === undefined) {
      mSigned.inc({ attest: "skipped" });
      return undefined;
    }
    const iat = Math.floor(this.opts.now() / 1000);
    const input = signingInput({ attest, orig, dest: [dest], iat, origid }, s.x5u);
    const sig = es256Sign(s.key, enc.encode(input));
    mSigned.inc({ attest });
    return identityValue(input, sig, s.x5u);
  }

  /**
   * Check the SHAKEN Identity headers of an incoming INVITE: passed when one of them is
   * fresh, names the request's calling and called numbers and is signed by a certificate with a
   * path to a trusted STI-CA; none when it carries none.
   */
  async verify(req: SipRequest): Promise<Verification> {
    const v = this.opts.verifier;
    const values = req.getAll("identity").filter((h) => {
      const ppt = identityPpt(h);
      return ppt === "" || ppt === "shaken";
    });
    if (!v || values.length === 0) {
      mVerified.inc({ verstat: "none" });
      return { verstat: "No-TN-Validation" };
    }
    const orig = callingTn(req);
    const dest = calledTns(req);
    let first: IdentityError | undefined;
    for (const value of values.slice(0, MAX_CHECKED)) {
      try {
        const p = parseIdentity(value);
        await this.check(p, orig, dest, v);
        mVerified.inc({ verstat: "passed" });
        return {
          verstat: "TN-Validation-Passed",
          attest: p.claims.attest,
          origid: p.claims.origid,
        };
      } catch (e) {
        if (!(e instanceof IdentityError)) throw e;
        first ??= e;
      }
    }
    const err = first!;
    mVerified.inc({ verstat: "failed", status: String(err.status) });
    return {
      verstat: "TN-Validation-Failed",
      status: err.status,
      reason: err.reason,
      detail: err.message,
    };
  }

  /** Cheap checks first: a stale or misaddressed PASSporT costs no fetch and no signature. */
  private async check(
    p: ReceivedPassport,
    orig: string | undefined,
    dest: string[],
    v: VerifierOptions,
  ): Promise<void> {
    const age = this.opts.now() - p.claims.iat * 1000;
    if (Math.abs(age) > v.maxAge) {
      throw new IdentityError(
        403,
        "Stale Date",
        `iat ${p.claims.iat} is ${Math.round(age / 1000)} s old`,
      );
    }
    if (orig === undefined || canonicalTn(p.claims.orig) !== orig) {
      throw new IdentityError(
        438,
        "Invalid Identity Header",
        `orig ${p.claims.orig} is not the calling number ${orig ?? "(none)"}`,
      );
    }
    if (!p.claims.dest.some((d) => dest.includes(canonicalTn(d) ?? ""))) {
      throw new IdentityError(
        438,
        "Invalid Identity Header",
        `dest ${p.claims.dest.join(",")} is not the called number ${dest.join(" or ") || "(none)"}`,
      );
    }
    const { key, authority } = await v.certificates.credential(p.x5u);
    // A certificate for numbers (a delegate certificate) signs for those numbers only.
    if (!tnAuthorized(authority, orig)) {
      throw new IdentityError(
        437,
        "Unsupported Credential",
        `the certificate's TNAuthList does not cover the calling number ${orig}`,
      );
    }
    if (!es256Verify(key, enc.encode(p.signingInput), p.signature)) {
      throw new IdentityError(438, "Invalid Identity Header", "signature does not verify");
    }
  }
}

/**
 * ATIS-1000074 §5.2.3: the calling number is P-Asserted-Identity's when the request has one (a
 * tel: URI or a SIP URI with a number), else From's.
 */
export function callingTn(req: SipRequest): string | undefined {
  for (const pai of req.getAll("p-asserted-identity")) {
    try {
      const tn = canonicalTn(parseNameAddr(pai, "P-Asserted-Identity").uri.user);
      if (tn !== undefined) return tn;
    } catch {
      // A malformed P-Asserted-Identity vouches for nothing; From still may.
    }
  }
  return canonicalTn(req.from.uri.user);
}

/** RFC 8224 §5.2: the called number is To's; the Request-URI's (after a retarget) counts too. */
function calledTns(req: SipRequest): string[] {
  const out: string[] = [];
  const to = canonicalTn(req.to.uri.user);
  if (to !== undefined) out.push(to);
  const ruri = canonicalTn(req.ruri.user);
  if (ruri !== undefined && ruri !== to) out.push(ruri);
  return out;
}

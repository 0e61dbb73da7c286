// The TNAuthList certificate extension (RFC 8226 §9, EXPLICIT tags; RFC 9118 for ranges): what
// a STIR certificate may sign for. A SHAKEN service provider's certificate names its service
// provider code (SPC) and so vouches for any number the provider chooses; a delegate certificate
// (RFC 9060) lists the numbers or number ranges it holds, and a PASSporT it signs for another
// number is not to be believed, however good the signature.

import type { Bytes } from "./der.ts";
import { DerReader, malformed, smallInteger } from "./der.ts";

/** What a TNAuthList grants. */
export interface TnAuthList {
  /** Service provider codes: a provider's certificate, not bound to numbers. */
  spc: string[];
  /** Number ranges: `count` numbers of the same length from `start`. */
  ranges: { start: string; count: number }[];
  /** Single numbers. */
  tns: string[];
}

const TAG = { sequence: 0x30, ia5: 0x16, integer: 0x02, spc: 0xa0, range: 0xa1, one: 0xa2 };
const TN = /^[0-9#*]{1,15}$/;

/** Parses the extension's value (the DER of TNAuthorizationList); throws "malformed". */
export function parseTnAuthList(der: Bytes): TnAuthList {
  const out: TnAuthList = { spc: [], ranges: [], tns: [] };
  const top = new DerReader(der);
  const list = top.enter(TAG.sequence, "TNAuthorizationList");
  top.finish("the TNAuthList extension");
  const text = (r: DerReader, what: string) => {
    const t = r.expect(TAG.ia5, what);
    return String.fromCharCode(...t.value);
  };
  const number = (r: DerReader, what: string) => {
    const at = r.offset;
    const s = text(r, what);
    if (!TN.test(s)) throw malformed(at, `expected ${what} of 1-15 digits, # or *, found "${s}"`);
    return s;
  };
  while (!list.atEnd) {
    const tag = list.peekTag();
    if (tag === TAG.spc) {
      const e = list.enter(TAG.spc, "an SPC entry");
      out.spc.push(text(e, "a service provider code"));
      e.finish("the SPC entry");
    } else if (tag === TAG.range) {
      const e = list.enter(TAG.range, "a range entry");
      const r = e.enter(TAG.sequence, "a TelephoneNumberRange");
      const start = number(r, "the range's start");
      const count = smallInteger(r.expect(TAG.integer, "the range's count"), "the range's count");
      r.finish("the TelephoneNumberRange");
      e.finish("the range entry");
      if (count < 2) {
        throw malformed(r.offset, `expected a range count of 2 or more, found ${count}`);
      }
      out.ranges.push({ start, count });
    } else if (tag === TAG.one) {
      const e = list.enter(TAG.one, "a number entry");
      out.tns.push(number(e, "a telephone number"));
      e.finish("the number entry");
    } else {
      throw malformed(list.offset, `expected an spc, range or one entry, found tag ${tag}`);
    }
  }
  if (!out.spc.length && !out.ranges.length && !out.tns.length) {
    throw malformed(0, "expected at least one TNAuthList entry, found none");
  }
  return out;
}

/**
 * Whether a certificate with this TNAuthList may sign for `tn` (canonical digits): always with an
 * SPC (the provider vouches for its own numbers), else only for a number it lists or one in a
 * listed range (same length, start <= tn < start + count).
 */
export function tnAuthorized(list: TnAuthList, tn: string): boolean {
  if (list.spc.length) return true;
  if (list.tns.includes(tn)) return true;
  if (!/^\d+$/.test(tn)) return false;
  const n = BigInt(tn);
  return list.ranges.some(({ start, count }) =>
    /^\d+$/.test(start) && start.length === tn.length && n >= BigInt(start) &&
    n < BigInt(start) + BigInt(count)
  );
}

// RFC 2865 §3 / RFC 2866 §3 packet encoding and decoding, RFC 3579 §3.2 Message-Authenticator,
// on the npm `radius` package with the embedded dictionary instead of its on-disk files.

import radius from "radius";
import { Buffer } from "node:buffer";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { EMBEDDED_DICTIONARY } from "./dictionary.ts";
import { RadiusProtocolError } from "./errors.ts";

/** Cisco's IANA private enterprise number. */
export const VENDOR_CISCO = 9;

/**
 * One attribute in the package's array syntax: `[name, value]`, `[id, Buffer]` for raw ones,
 * or `["Vendor-Specific", vendorId, [[name, value], ...]]`.
 */
export type RadiusAttribute =
  | [string, string | number | Date | Buffer]
  | [number, Buffer]
  | ["Vendor-Specific", number, [string | number, string | number | Buffer][]];

/** Packet codes Tandem sends or receives. */
export type RadiusCode =
  | "Access-Request"
  | "Access-Accept"
  | "Access-Reject"
  | "Access-Challenge"
  | "Accounting-Request"
  | "Accounting-Response";

/** A decoded reply: standard attributes by name, Cisco VSAs under `vendor`. */
export interface DecodedPacket {
  code: RadiusCode;
  identifier: number;
  /** Standard attributes; repeated ones become arrays. */
  attributes: Record<string, unknown>;
  /** Cisco (vendor 9) attributes by name; repeated ones become arrays. */
  cisco: Record<string, unknown>;
}

interface RadiusPackage {
  _load_dictionary(text: string): string[];
  unload_dictionaries(): void;
  load_dictionaries(): void;
  encode(args: Record<string, unknown>): Buffer;
  decode(args: Record<string, unknown>): {
    code: string;
    identifier: number;
    attributes: Record<string, unknown>;
  };
}

const pkg = radius as unknown as RadiusPackage;

// The package only offers `add_dictionary(path)` (read at first use from disk), so a compiled
// binary would throw "Invalid dictionary location". Its text parser `_load_dictionary` is
// exported, though: load the embedded text through it once and replace the disk loader with a
// no-op on this module's singleton. Nothing else in Tandem uses the package.
let installed = false;
function install(): void {
  if (installed) return;
  pkg.unload_dictionaries();
  pkg._load_dictionary(EMBEDDED_DICTIONARY);
  pkg.load_dictionaries = () => {};
  installed = true;
}
install();

/** Encodes a request; Access-Requests get a random authenticator and a Message-Authenticator. */
export function encodeRequest(
  code: "Access-Request" | "Accounting-Request",
  identifier: number,
  secret: string,
  attributes: RadiusAttribute[],
): Buffer {
  try {
    return pkg.encode({
      code,
      identifier,
      secret,
      attributes: attributes.map((a) => [...a]),
      // RFC 3579 §3.2; also defends against the Blast-RADIUS forgery (RFC 9765 hardening).
      add_message_authenticator: code === "Access-Request",
    });
  } catch (e) {
    throw new RadiusProtocolError(`cannot encode ${code}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Checks the Response Authenticator (RFC 2865 §3) and, when the reply carries one, its
 * Message-Authenticator (RFC 3579 §3.2). False means: drop the packet. Written here rather
 * than with the package's `verify_response`, which rejects any reply without a
 * Message-Authenticator when the request had one (FreeRADIUS 3.2 omits it outside EAP).
 */
export function verifyResponse(request: Buffer, response: Buffer, secret: string): boolean {
  if (response.length < 20) return false;
  const len = response.readUInt16BE(2);
  if (len < 20 || len > response.length || response[1] !== request[1]) return false;
  const pkt = Buffer.from(response.subarray(0, len));
  const got = Buffer.from(pkt.subarray(4, 20));
  request.copy(pkt, 4, 4, 20);
  const want = createHash("md5").update(pkt).update(secret).digest();
  if (!timingSafeEqual(want, got)) return false;
  // Walk the attributes for a Message-Authenticator (type 80, length 18).
  for (let i = 20; i + 2 <= len;) {
    const t = pkt[i], l = pkt[i + 1];
    if (l < 2 || i + l > len) return false;
    if (t === 80) {
      if (l !== 18) return false;
      const ma = Buffer.from(pkt.subarray(i + 2, i + 18));
      pkt.fill(0, i + 2, i + 18);
      const mac = createHmac("md5", secret).update(pkt).digest();
      return timingSafeEqual(mac, ma);
    }
    i += l;
  }
  return true;
}

/** Decodes a packet (reply or, in tests, a request) with the embedded dictionary. */
export function decodePacket(packet: Buffer, secret: string): DecodedPacket {
  let d;
  try {
    d = pkg.decode({ packet, secret });
  } catch (e) {
    throw new RadiusProtocolError(`cannot decode RADIUS packet: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const attributes = { ...d.attributes };
  const vsa = (attributes["Vendor-Specific"] ?? {}) as Record<string, unknown>;
  delete attributes["Vendor-Specific"];
  return { code: d.code as RadiusCode, identifier: d.identifier, attributes, cisco: vsa };
}

/** Values of an attribute that may be absent, single or repeated, as strings. */
export function values(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map((x) =>
    Buffer.isBuffer(x) ? x.toString("utf8") : String(x)
  );
}

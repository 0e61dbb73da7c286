// IP literal and CIDR helpers, written without node:net so the core stays runtime-neutral.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 blocks, because a dual-stack socket
// reports IPv4 peers that way.

/** Parse an IPv4 literal (dotted quad, no leading zeros) to 4 bytes. */
function parseV4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

/** Parse an IPv6 literal (RFC 4291 §2.2 text forms, no zone, no brackets) to 16 bytes. */
function parseV6(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let tail4: Uint8Array | undefined;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    tail4 = parseV4(s.slice(lastColon + 1));
    if (!tail4) return undefined;
    s = s.slice(0, lastColon + 1) + "0:0"; // two placeholder groups, overwritten below
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i])) return undefined;
    const n = parseInt(all[i], 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

/** Parse an IP literal (IPv4 or IPv6, no brackets) to its bytes; undefined if not one. */
export function parseIp(s: string): Uint8Array | undefined {
  return s.includes(":") ? parseV6(s) : parseV4(s);
}

/** True when `s` is an IPv4 or IPv6 literal (no brackets, no zone). */
export function isIp(s: string): boolean {
  return parseIp(s) !== undefined;
}

/** A parsed CIDR block. */
export interface Cidr {
  bytes: Uint8Array;
  bits: number;
}

/** Parse "10.0.0.0/8", "::1/128" or a bare IP (a host block); undefined if malformed. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf("/");
  const bytes = parseIp(slash < 0 ? s : s.slice(0, slash));
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, bits: max };
  const b = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(b) || Number(b) > max) return undefined;
  return { bytes, bits: Number(b) };
}

const V4_MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** IPv4-mapped IPv6 → IPv4 bytes; anything else unchanged. */
function unmap(b: Uint8Array): Uint8Array {
  return b.length === 16 && V4_MAPPED.every((v, i) => b[i] === v) ? b.subarray(12) : b;
}

/**
 * True when `ip` lies inside `cidr` ("10.0.0.0/8", "2001:db8::/32", or a bare IP). False for
 * malformed input or a family mismatch, so a bad source address never matches a rule.
 */
export function inCidr(ip: string, cidr: string | Cidr): boolean {
  const block = typeof cidr === "string" ? parseCidr(cidr) : cidr;
  const raw = parseIp(ip);
  return !!block && !!raw && blockHolds(block, raw);
}

/**
 * {@link inCidr} for an address already parsed (`parseIp`): what a caller testing one address
 * against many blocks uses, parsing it once.
 */
export function blockHolds(block: Cidr, raw: Uint8Array): boolean {
  const addr = unmap(raw);
  let net = block.bytes;
  let bits = block.bits;
  if (net.length === 16 && addr.length === 4 && bits >= 96 && unmap(net).length === 4) {
    net = unmap(net);
    bits -= 96;
  }
  if (net.length !== addr.length) return false;
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (net[i] !== addr[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (net[full] & mask) === (addr[full] & mask);
}

/**
 * Blocks no packet from the Internet comes from: RFC 1918 private networks, RFC 6598 shared
 * (carrier-grade NAT) space, link-local, and IPv6 unique local and link-local addresses.
 */
const PRIVATE = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "169.254.0.0/16",
  "fc00::/7",
  "fe80::/10",
].map((b) => parseCidr(b)!);

/** Whether `ip` is in a private, shared or link-local block (a host behind NAT names one). */
export function isPrivateIp(ip: string): boolean {
  // Asked per in-dialog request (the NAT check): an IPv4 literal is read in place, without the
  // split, patterns and bytes of parseIp.
  const v4 = v4Head(ip);
  if (v4 >= 0) {
    const a = v4 >> 8;
    const b = v4 & 0xff;
    return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254);
  }
  if (!ip.includes(":")) return false;
  const raw = parseV6(ip);
  return !!raw && PRIVATE.some((b) => blockHolds(b, raw));
}

/**
 * The first two octets of an IPv4 literal as `a << 8 | b`, under parseV4's rules (four decimal
 * octets, no leading zeros, none above 255); -1 when `s` is not one.
 */
function v4Head(s: string): number {
  let parts = 0;
  let value = 0;
  let digits = 0;
  let head = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // a final "." closes the last octet
    if (c === 46) {
      if (digits === 0 || value > 255) return -1;
      if (parts < 2) head = (head << 8) | value;
      parts++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return -1; // a leading zero
      if (++digits > 3) return -1;
      value = value * 10 + (c - 48);
    } else return -1;
  }
  return parts === 4 ? head : -1;
}

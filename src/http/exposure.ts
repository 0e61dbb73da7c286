// Refuse to expose the control API (which can drop calls and reload routing) to the network
// without a token. Only literal loopback addresses count as private: a name such as "localhost"
// depends on the resolver, and a wildcard or LAN address is reachable from other hosts.

import { HttpExposureError } from "./errors.ts";

/** True for 127.0.0.0/8, ::1 (any spelling) and IPv4-mapped 127.x addresses. */
export function isLoopbackAddress(address: string): boolean {
  let a = address.trim().toLowerCase();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  // Zone ids ("::1%lo") do not change what the address is.
  a = a.split("%")[0];
  // IPv4-mapped IPv6 ("::ffff:127.0.0.1") is the IPv4 address it carries.
  const lastColon = a.lastIndexOf(":");
  if (lastColon >= 0 && a.includes(".")) {
    const prefix = a.slice(0, lastColon + 1);
    if (expandIpv6(prefix + "0:0") !== "0000:0000:0000:0000:0000:ffff:0000:0000") return false;
    a = a.slice(lastColon + 1);
  }
  const m = a.match(/^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  if (m) return m.slice(1).every((o) => Number(o) <= 255);
  if (!a.includes(":")) return false;
  return expandIpv6(a) === "0000:0000:0000:0000:0000:0000:0000:0001";
}

// Expand "::"-compressed IPv6 to eight 4-digit groups; "" when it is not IPv6 syntax.
function expandIpv6(a: string): string {
  if (!/^[0-9a-f:]+$/.test(a)) return "";
  const halves = a.split("::");
  if (halves.length > 2) return "";
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return "";
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (groups.some((g) => g.length === 0 || g.length > 4)) return "";
  return groups.map((g) => g.padStart(4, "0")).join(":");
}

/**
 * Throw {@link HttpExposureError} when `address` is not loopback and no (non-empty) token is set.
 * Call it on config load and on reload, before serving.
 */
export function checkHttpExposure(address: string, token: string | undefined): void {
  if (token !== undefined && token.length > 0) return;
  if (!isLoopbackAddress(address)) throw new HttpExposureError(address);
}

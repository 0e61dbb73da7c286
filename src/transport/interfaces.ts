// RFC 3261 §18.2.1 / §18.1.2 need "is this address one of ours?" and §8.1.1.7 needs an address
// to advertise in Via/Contact when bound to a wildcard. node:os answers both on every runtime.

import { networkInterfaces } from "node:os";
import { familyOf, normalizeHost } from "./address.ts";

/** One interface address. */
export interface InterfaceAddress {
  address: string;
  family: 4 | 6;
  internal: boolean;
}

/** Every interface address (loopback included); loopback only when the list is unavailable. */
export function interfaceAddresses(): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  try {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        const address = normalizeHost(a.address.split("%")[0]);
        out.push({ address, family: familyOf(address), internal: a.internal });
      }
    }
  } catch { /* no permission or no API: fall back below */ }
  if (!out.some((a) => a.address === "127.0.0.1")) {
    out.push({ address: "127.0.0.1", family: 4, internal: true });
  }
  if (!out.some((a) => a.address === "::1")) {
    out.push({ address: "::1", family: 6, internal: true });
  }
  return out;
}

/** First non-internal address of the family (IPv6: not link-local), or undefined. */
export function firstExternalAddress(list: InterfaceAddress[], family: 4 | 6): string | undefined {
  for (const a of list) {
    if (a.internal || a.family !== family) continue;
    if (family === 6 && a.address.startsWith("fe80")) continue;
    return a.address;
  }
  return undefined;
}

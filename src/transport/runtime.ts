// RFC 3261 §18: choose the socket adapter for the running runtime. Bun and Deno get their native
// sockets (fastest measured here); Node, or TANDEM_SOCKETS=node, gets node:dgram / node:net.

import type { SocketAdapter } from "./types.ts";
import { bunAdapter } from "./bun.ts";
import { denoAdapter } from "./deno.ts";
import { nodeAdapter } from "./node.ts";
import { TransportError } from "./errors.ts";

/** Names accepted by TANDEM_SOCKETS. */
export type AdapterName = "bun" | "deno" | "node";

/** The adapter with this name; throws when that runtime is not the one running. */
export function adapterByName(name: AdapterName): SocketAdapter {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (name === "bun" && !g.Bun) {
    throw new TransportError("TANDEM_SOCKETS=bun outside Bun", "ENOTSUP");
  }
  if (name === "deno" && !g.Deno) {
    throw new TransportError("TANDEM_SOCKETS=deno outside Deno", "ENOTSUP");
  }
  return name === "bun" ? bunAdapter : name === "deno" ? denoAdapter : nodeAdapter;
}

function envOverride(): string | undefined {
  const g = globalThis as {
    process?: { env?: Record<string, string | undefined> };
    Deno?: { env?: { get(k: string): string | undefined } };
  };
  try {
    return g.process?.env?.TANDEM_SOCKETS ?? g.Deno?.env?.get("TANDEM_SOCKETS");
  } catch {
    return undefined; // no env permission: no override
  }
}

/** Bun when `globalThis.Bun` exists, else Deno, else Node; `TANDEM_SOCKETS` overrides. */
export function defaultAdapter(): SocketAdapter {
  const want = envOverride()?.trim().toLowerCase();
  if (want === "bun" || want === "deno" || want === "node") return adapterByName(want);
  if (want) throw new TransportError(`TANDEM_SOCKETS must be node, deno or bun, not "${want}"`);
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun) return bunAdapter;
  if (g.Deno) return denoAdapter;
  return nodeAdapter;
}

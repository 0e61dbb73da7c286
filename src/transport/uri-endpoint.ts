// RFC 3263 §4.1-4.2 reduced to the cases without DNS SRV/NAPTR: the transport comes from the
// URI's transport parameter (any case; sips → tls, sips with ws → wss), the port from the URI
// or the transport's default (5060, 5061 for TLS, 80 and 443 for WebSocket), the host from the URI. Hostnames resolve through the runtime's A/AAAA lookup.

import { lookup } from "node:dns/promises";
import { bareHost, type Uri } from "../sip/mod.ts";
import { isIpLiteral, normalizeHost } from "./address.ts";
import { TransportError } from "./errors.ts";
import type { Endpoint, Protocol } from "./types.ts";
import { defaultPort, protocolOfToken, sipsProtocol } from "./protocol.ts";

/**
 * The protocol a URI asks for (RFC 3263 §4.1): `;transport=` (any case) when present; a sips:
 * URI is TLS (RFC 3261 §26.2.2; `transport=tcp` on sips: also means TLS, and UDP is refused);
 * otherwise UDP.
 */
export function protocolForUri(uri: Uri): Protocol {
  const t = uri.transport;
  const p = protocolOfToken(t);
  if (uri.scheme === "sips") {
    if (p !== undefined && p !== "udp") return sipsProtocol(p);
    throw new TransportError(`sips:${uri.host} cannot be reached over ${t}`);
  }
  // ("wss" is not RFC 7118's spelling, but unambiguous.)
  if (p !== undefined) return p;
  throw new TransportError(`transport "${t}" of ${uri.scheme}:${uri.host} is not supported`);
}

/**
 * Endpoint for a URI whose host is an IP literal. `resolve` maps a hostname to an IP literal
 * when the caller already resolved it (see {@link resolveHost}); without it a hostname throws.
 */
export function endpointForUri(uri: Uri, resolve?: (host: string) => string): Endpoint {
  let host = bareHost(uri.host);
  if (!isIpLiteral(host)) {
    if (!resolve) {
      throw new TransportError(`${uri.host} is not an IP literal; resolve it first`, "ENOTIP");
    }
    host = resolve(host);
  }
  const protocol = protocolForUri(uri);
  return { protocol, host: normalizeHost(host), port: uri.port ?? defaultPort(protocol) };
}

/**
 * A/AAAA lookup through the runtime's resolver (no SRV/NAPTR). IP literals come back unchanged.
 * Rejects with a TransportError when the name does not resolve.
 */
export async function resolveHost(host: string, family?: 4 | 6): Promise<string> {
  const h = bareHost(host);
  if (isIpLiteral(h)) return normalizeHost(h);
  try {
    const r = await lookup(h, { family: family ?? 0 });
    return normalizeHost(r.address);
  } catch (e) {
    throw new TransportError(`cannot resolve ${h}: ${(e as Error).message}`, "ENOTFOUND", {
      cause: e,
    });
  }
}

// The Request-URI of what Tandem sends to a route: its calls' INVITEs and its probes.

import type { RouteConfig } from "../config/types.ts";
import { Params, Uri, uriHost } from "../sip/mod.ts";

/**
 * `sip:[user@]host[:port][;transport=t]` for `route`. RFC 3263: a name located by SRV keeps its
 * port out of the URI, and by NAPTR its transport too (DNS chose them); RFC 7118 §5.2: WebSocket
 * is transport=ws on the wire, secure or not. A `domain` stands in for the host, without a port.
 */
export function routeRequestUri(route: RouteConfig, user: string | undefined): Uri {
  const tp = route.transport === "wss" ? "ws" : route.transport;
  return new Uri(
    "sip",
    user || undefined,
    routeUriHost(route),
    routeUriPort(route),
    tp === "udp" || route.dns === "naptr" ? new Params() : new Params([["transport", tp]]),
  );
}

/** The host of the route's URIs: its `domain`, else its target's host. */
export function routeUriHost(route: RouteConfig): string {
  return uriHost(route.domain ?? route.host);
}

/** The port of the route's URIs: none for a domain, or for a name whose port DNS chose. */
export function routeUriPort(route: RouteConfig): number | undefined {
  return route.domain || route.dns === "srv" || route.dns === "naptr" ? undefined : route.port;
}

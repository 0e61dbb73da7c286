// The Request-URI of what Tandem sends to a route: its calls' INVITEs and its probes.

import type { RouteConfig } from "../config/types.ts";
import { Params, Uri, uriHost } from "../sip/mod.ts";

/**
 * `sip:[user@]host[:port][;transport=t]` for `route`. RFC 3263: a name located by SRV keeps its
 * port out of the URI, and by NAPTR its transport too (DNS chose them); RFC 7118 §5.2: WebSocket
 * is transport=ws on the wire, secure or not.
 */
export function routeRequestUri(route: RouteConfig, user: string | undefined): Uri {
  const tp = route.transport === "wss" ? "ws" : route.transport;
  const located = route.dns === "srv" || route.dns === "naptr";
  return new Uri(
    "sip",
    user || undefined,
    uriHost(route.host),
    located ? undefined : route.port,
    tp === "udp" || route.dns === "naptr" ? new Params() : new Params([["transport", tp]]),
  );
}

// The Via Tandem puts on each request it originates (a new hop: it is a UA on both legs).

import { uriHost } from "../sip/mod.ts";
import type { Endpoint } from "../transport/types.ts";

/** §18.1.1 sent-by of `local`, with rport (RFC 3581) so answers come back through NAT. */
export function viaFor(local: Endpoint, branch: string): string {
  return `SIP/2.0/${local.protocol.toUpperCase()} ${
    uriHost(local.host)
  }:${local.port};branch=${branch};rport`;
}

// RFC 3261 §18 transport cases (cases.ts) over real loopback sockets, with the Deno and Node
// adapters, over IPv4 and (when ::1 is usable) IPv6.

import { denoAdapter, nodeAdapter } from "../../src/transport/mod.ts";
import { cases } from "./cases.ts";
import { ipv6Available } from "./helpers.ts";

const v6 = await ipv6Available();

for (const adapter of [denoAdapter, nodeAdapter]) {
  for (const host of ["127.0.0.1", "::1"]) {
    for (const [name, fn] of Object.entries(cases)) {
      Deno.test({
        name: `${adapter.runtime} ${host.includes(":") ? "IPv6" : "IPv4"}: ${name}`,
        ignore: host === "::1" && !v6,
        // node:net/node:dgram peers finish closing after the test body; resources are closed
        // by each case's finally block.
        sanitizeOps: false,
        sanitizeResources: false,
        fn: () => fn(adapter, host),
      });
    }
  }
}

// One address object per UDP peer for what is kept after the fact: lingering transactions, an
// ended call's answered leg. A finished transaction waits out its last timer (32 s over UDP)
// holding where it resends to; that address came with the datagram (or was built for the
// response) and is its own object, with its own host string, sometimes a slice of the whole
// message. At thousands of calls a second those are hundreds of thousands of small objects the
// collector marks again at every full collection, and a call's transactions all name the same
// two or three peers.

import { detach } from "../sip/build.ts";
import type { Endpoint } from "../transport/types.ts";

/** Hosts remembered before the table starts again: a flood of sources cannot grow it for ever. */
const MAX_HOSTS = 4096;
/** Ports remembered per host; past it an address is kept as it came. */
const MAX_PORTS = 64;

export class SharedEndpoints {
  private readonly byHost = new Map<string, Endpoint[]>();

  /**
   * The shared object for `ep`'s address, or `ep` itself when it carries more than an address
   * (TLS server name, WebSocket path) or is not UDP (stream addresses name connections).
   */
  of(ep: Endpoint): Endpoint {
    if (ep.protocol !== "udp" || ep.serverName !== undefined || ep.wsPath !== undefined) return ep;
    let ports = this.byHost.get(ep.host);
    if (ports === undefined) {
      if (this.byHost.size >= MAX_HOSTS) this.byHost.clear();
      ports = [];
      this.byHost.set(detach(ep.host), ports);
    }
    for (let i = 0; i < ports.length; i++) {
      const e = ports[i];
      if (e.port === ep.port) return e;
    }
    if (ports.length >= MAX_PORTS) return ep;
    const e: Endpoint = { protocol: "udp", host: detach(ep.host), port: ep.port };
    ports.push(e);
    return e;
  }

  /** Addresses held (tests). */
  get size(): number {
    let n = 0;
    for (const p of this.byHost.values()) n += p.length;
    return n;
  }
}

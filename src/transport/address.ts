// RFC 3261 §18 / RFC 5118: IP literal helpers. Endpoints carry bare, lowercase hosts; IPv4
// peers seen through a dual-stack IPv6 socket ("::ffff:1.2.3.4") are reported as IPv4.

/** One string per protocol, host and port: the key of maps by peer (connections, servers). */
export function endpointKey(e: { protocol: string; host: string; port: number }): string {
  return `${e.protocol}|${e.host}|${e.port}`;
}

/** IP family of a bare literal: 6 when it contains a colon, else 4. */
export function familyOf(host: string): 4 | 6 {
  return host.includes(":") ? 6 : 4;
}

/** Bare, lowercase host for an Endpoint: brackets removed, IPv4-mapped IPv6 unwrapped. */
export function normalizeHost(host: string): string {
  let h = host[0] === "[" ? host.slice(1, -1) : host;
  h = h.toLowerCase();
  if (h.startsWith("::ffff:") && h.indexOf(".") > 0) h = h.slice(7);
  return h;
}

/** True for 0.0.0.0 and :: (bind to every interface of the family). */
export function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "0:0:0:0:0:0:0:0";
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(host: string): boolean {
  return host.startsWith("127.") || host === "::1" || host === "0:0:0:0:0:0:0:1";
}

/** True when `host` is an IPv4 or IPv6 literal (not a domain name). */
export function isIpLiteral(host: string): boolean {
  const h = host[0] === "[" ? host.slice(1, -1) : host;
  if (h.includes(":")) return /^[0-9a-fA-F:.]+(%[^\]]+)?$/.test(h);
  return /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/.test(h);
}

/** The host a dual-stack IPv6 wildcard socket must be given to reach an IPv4 peer. */
export function mappedFor(host: string, socketIsV6Wildcard: boolean): string {
  return socketIsV6Wildcard && !host.includes(":") ? `::ffff:${host}` : host;
}

/** Map key for a remote address (host is already normalized). */
export function addressKey(host: string, port: number): string {
  return `${host}|${port}`;
}

/** "udp:192.0.2.1:5060", "tcp:[2001:db8::1]:5060": an endpoint for logs, CDRs and the API. */
export function endpointText(e: { protocol: string; host: string; port: number }): string {
  return `${e.protocol}:${e.host.includes(":") ? `[${e.host}]` : e.host}:${e.port}`;
}

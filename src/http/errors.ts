// Typed errors of the HTTP API layer. Each message names the config key and what to change.

/** The API would listen beyond loopback without a token; Tandem refuses to start. */
export class HttpExposureError extends Error {
  override name = "HttpExposureError";
  constructor(public readonly address: string) {
    super(
      `http.address ${address} is reachable from other hosts but http.token is not set: ` +
        `set http.token (clients then send "Authorization: Bearer <token>") ` +
        `or bind http.address to 127.0.0.1 or ::1`,
    );
  }
}

/** The HTTP server could not bind or start. */
export class HttpServeError extends Error {
  override name = "HttpServeError";
  constructor(
    public readonly address: string,
    public readonly port: number,
    cause: unknown,
  ) {
    super(
      `cannot serve the HTTP API on ${formatHostPort(address, port)}: ` +
        `${cause instanceof Error ? cause.message : String(cause)}; ` +
        `check http.address and http.port (is the port taken, is the address on this host?)`,
      { cause },
    );
  }
}

/** "host:port", with IPv6 literals in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

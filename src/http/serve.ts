// Runtime adapter for the HTTP API: Bun.serve in the shipped binary, Deno.serve in development
// and tests. Both bind exactly the configured address (never a wildcard the operator did not
// ask for) and report the port actually bound, so tests can ask for port 0; both speak HTTPS
// when given a certificate and key.

import { formatHostPort, HttpServeError } from "./errors.ts";

/** Anything with a web-standard fetch handler, such as a Hono app (the env is its `c.env`). */
export interface FetchApp {
  fetch(request: Request, env?: { remote?: string }): Response | Promise<Response>;
}

/** Where to listen. */
export interface ServeOptions {
  /** Bare IP literal (no brackets), e.g. "127.0.0.1" or "::1". */
  address: string;
  /** 0 picks a free port. */
  port: number;
  /** HTTPS with this PEM certificate chain and key. */
  tls?: { cert: string; key: string };
}

/** A running HTTP server. */
export interface HttpServer {
  /** The bound port (resolved when 0 was asked). */
  readonly port: number;
  /** "host:port" actually bound, IPv6 in brackets. */
  readonly url: string;
  /**
   * Stop accepting, end open connections (`graceful`: let requests in progress finish first),
   * resolve when the socket is closed. Idempotent.
   */
  close(graceful?: boolean): Promise<void>;
}

// The slice of Bun's API used here, declared locally so `deno check` needs no Bun types.
interface BunServer {
  readonly port: number;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
  requestIP(request: Request): { address: string } | null;
}
interface BunRuntime {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
    error?(error: Error): Response | Promise<Response>;
    tls?: { cert: string; key: string };
  }): BunServer;
}

/** Serve `app` on `opts.address:opts.port`; rejects with {@link HttpServeError} if it cannot bind. */
export function serveHttp(app: FetchApp, opts: ServeOptions): Promise<HttpServer> {
  const bun = (globalThis as { Bun?: BunRuntime }).Bun;
  return bun ? serveBun(bun, app, opts) : serveDeno(app, opts);
}

// Last-resort answer if the app itself throws past its own error handler.
function internalError(): Response {
  return new Response(JSON.stringify({ error: "internal error; see the Tandem log" }), {
    status: 500,
    headers: { "Content-Type": "application/json" },
  });
}

function serveBun(bun: BunRuntime, app: FetchApp, opts: ServeOptions): Promise<HttpServer> {
  let server: BunServer;
  try {
    server = bun.serve({
      hostname: opts.address,
      port: opts.port,
      fetch: (req, srv) => app.fetch(req, { remote: srv.requestIP(req)?.address }),
      error: internalError,
      ...(opts.tls ? { tls: opts.tls } : {}),
    });
  } catch (err) {
    return Promise.reject(new HttpServeError(opts.address, opts.port, err));
  }
  let closing: Promise<void> | undefined;
  return Promise.resolve({
    port: server.port,
    url: formatHostPort(opts.address, server.port),
    close: (graceful = false) => closing ??= Promise.resolve(server.stop(!graceful)).then(() => {}),
  });
}

function serveDeno(app: FetchApp, opts: ServeOptions): Promise<HttpServer> {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: opts.address,
      port: opts.port,
      // Without onListen Deno prints "Listening on ..." to stdout; Tandem logs its own line.
      onListen: () => {},
      onError: internalError,
      ...(opts.tls ? { cert: opts.tls.cert, key: opts.tls.key } : {}),
    }, (req, info) => app.fetch(req, { remote: info.remoteAddr.hostname }));
  } catch (err) {
    return Promise.reject(new HttpServeError(opts.address, opts.port, err));
  }
  const port = server.addr.port;
  let closing: Promise<void> | undefined;
  return Promise.resolve({
    port,
    url: formatHostPort(opts.address, port),
    close: () => closing ??= server.shutdown(),
  });
}

// Test peers and a recording handler for the transport cases. Peers use node:dgram / node:net,
// independent of the adapter under test, and bind only to loopback on ephemeral ports.

import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import {
  type Endpoint,
  type InboundHandler,
  type SocketAdapter,
  TransportLayer,
  type TransportLayerOptions,
} from "../../src/transport/mod.ts";
import type { SipParseError, SipRequest, SipResponse } from "../../src/sip/mod.ts";
import type { Protocol, TlsOptions } from "../../src/transport/types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Poll until `pred` holds or `ms` pass; throws naming `what` on timeout. */
export async function waitFor(pred: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A request as wire text; `via` is "host:port" as written in SIP (IPv6 bracketed). */
export function requestText(
  method: string,
  via: string,
  opts: { viaParams?: string; body?: string; callId?: string; contentLength?: string } = {},
): string {
  const body = opts.body ?? "";
  const cl = opts.contentLength ?? String(enc.encode(body).length);
  const branch = "z9hG4bK" + Math.random().toString(36).slice(2, 10);
  return `${method} sip:bob@example.com SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${via};branch=${branch}${opts.viaParams ?? ""}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n` +
    `Call-ID: ${opts.callId ?? branch}\r\nCSeq: 1 ${method}\r\n` +
    (cl === "" ? "" : `Content-Length: ${cl}\r\n`) + `\r\n${body}`;
}

/** A response as wire text with the given top Via. */
export function responseText(status: number, via: string): string {
  return `SIP/2.0 ${status} X\r\nVia: SIP/2.0/UDP ${via};branch=z9hG4bKr1\r\n` +
    `From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r1\r\nCSeq: 1 OPTIONS\r\n` +
    `Content-Length: 0\r\n\r\n`;
}

/** What a layer delivered upward. */
export class Recorder implements InboundHandler {
  requests: { req: SipRequest; source: Endpoint }[] = [];
  responses: { res: SipResponse; source: Endpoint }[] = [];
  parseErrors: SipParseError[] = [];
  transportErrors: { dest: Endpoint; err: Error }[] = [];
  flowsClosed: Endpoint[] = [];
  /** Connections we opened that their far end closed (or that failed). */
  lostFlows: Endpoint[] = [];
  onRequest(req: SipRequest, source: Endpoint): void {
    this.requests.push({ req, source });
  }
  onResponse(res: SipResponse, source: Endpoint): void {
    this.responses.push({ res, source });
  }
  onParseError(err: SipParseError): void {
    this.parseErrors.push(err);
  }
  onTransportError(dest: Endpoint, err: Error): void {
    this.transportErrors.push({ dest, err });
  }
  onFlowClosed(remote: Endpoint, outbound?: boolean): void {
    (outbound ? this.lostFlows : this.flowsClosed).push(remote);
  }
}

/** Start a layer on `host`:0 for the given transports. */
export async function startLayer(
  adapter: SocketAdapter,
  host: string,
  transports: Protocol[],
  tcp: Partial<TransportLayerOptions["tcp"]> = {},
  extra: Partial<TransportLayerOptions> = {},
): Promise<{ layer: TransportLayer; rec: Recorder; port(p: Protocol): number }> {
  const rec = new Recorder();
  const layer = new TransportLayer({
    listen: transports.map((t) => ({ address: host, port: 0, transports: [t] })),
    limits: { maxSize: 65535, maxHeaders: 256 },
    tcp: { idleTimeoutMs: 30_000, maxMessageSize: 65535, connectTimeoutMs: 2000, ...tcp },
    adapter,
    ...extra,
  }, rec);
  await layer.start();
  return {
    layer,
    rec,
    port: (p) => layer.listeners.find((l) => l.local.protocol === p)!.local.port,
  };
}

/** A UDP peer collecting datagrams as text. */
export async function udpPeer(host: string) {
  const sock = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
  const got: string[] = [];
  /** The source port of each datagram in `got`. */
  const from: number[] = [];
  sock.on("message", (m, rinfo) => {
    got.push(dec.decode(m));
    from.push(rinfo.port);
  });
  sock.on("error", () => {});
  await new Promise<void>((r) => sock.bind(0, host, () => r()));
  return {
    port: sock.address().port,
    got,
    from,
    send(text: string | Uint8Array, port: number) {
      sock.send(typeof text === "string" ? enc.encode(text) : text, port, host);
    },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

/** A TCP client peer collecting everything it reads as text. */
export function tcpPeer(host: string, port: number) {
  return clientPeer(net.connect({ host, port }), "connect");
}

/** A connecting client socket as a test peer, ready once `ready` fires. */
async function clientPeer(sock: net.Socket, ready: "connect" | "secureConnect") {
  sock.setNoDelay(true);
  const peer = { sock, text: "", closed: false, localPort: 0, error: "" };
  sock.on("data", (b: Uint8Array) => peer.text += dec.decode(b));
  sock.on("error", (e) => peer.error ||= e.message);
  sock.on("close", () => peer.closed = true);
  await new Promise<void>((r, j) => {
    sock.once(ready, () => r());
    sock.once("error", j);
  });
  peer.localPort = sock.localPort!;
  return {
    peer,
    write: (t: string | Uint8Array) =>
      new Promise<void>((r) => sock.write(typeof t === "string" ? enc.encode(t) : t, () => r())),
    close: () => sock.destroy(),
  };
}

/** A TCP server peer: accepts connections and collects their text. */
export function tcpServerPeer(host: string) {
  const st = { text: "", conns: 0 };
  return serverPeer(host, st, (take) => net.createServer(take));
}

/** A listening server as a test peer: counts connections and collects what they send. */
async function serverPeer<S extends { text: string; conns: number }>(
  host: string,
  st: S,
  make: (take: (s: net.Socket) => void) => net.Server,
) {
  const socks: net.Socket[] = [];
  const server = make((s) => {
    st.conns++;
    socks.push(s);
    s.on("data", (b: Uint8Array) => st.text += dec.decode(b));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    st,
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Is ::1 usable here? */
export async function ipv6Available(): Promise<boolean> {
  const s = dgram.createSocket("udp6");
  s.on("error", () => {});
  const ok = await new Promise<boolean>((r) => {
    s.once("error", () => r(false));
    s.bind(0, "::1", () => r(true));
  });
  try {
    s.close();
  } catch { /* never bound */ }
  return ok;
}

/** A free-then-closed loopback port (nothing listens there afterwards). */
export async function closedPort(host: string): Promise<number> {
  // Not from the ephemeral range, where a test running beside this one may listen on the very
  // port just released (a connect that should be refused then succeeds), nor from the e2e
  // harness's 10000-19999 or its media ports from 28000: a port in 20000-26999 that both TCP
  // and UDP can bind right now.
  for (let tries = 0; tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 7_000);
    if (await bindsTcp(host, port) && await bindsUdp(host, port)) return port;
  }
  throw new Error("no closed port found in 20000-26999");
}

function bindsTcp(host: string, port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise<boolean>((r) => {
    server.once("error", () => r(false));
    server.listen(port, host, () => server.close(() => r(true)));
  });
}

function bindsUdp(host: string, port: number): Promise<boolean> {
  const sock = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
  return new Promise<boolean>((r) => {
    sock.once("error", () => {
      sock.close();
      r(false);
    });
    sock.bind(port, host, () => sock.close(() => r(true)));
  });
}

/**
 * PEM files under tests/testdata/tls: a test CA, a server certificate from it for 127.0.0.1,
 * ::1 and localhost, a client certificate from it (DNS caller.test only), and "untrusted", a
 * certificate for the same addresses from a CA nobody trusts. See tests/testdata/tls/README.md.
 */
export function testPem(name: string): string {
  return readFileSync(new URL(`../testdata/tls/${name}.pem`, import.meta.url), "utf8");
}

/** The layer's TLS settings for the tests: the server certificate, the test CA trusted. */
export function testTls(over: Partial<TlsOptions> = {}): TlsOptions {
  return {
    cert: testPem("server"),
    key: testPem("server-key"),
    ca: testPem("ca"),
    verifyServer: true,
    verifyClient: false,
    ...over,
  };
}

/** A TLS client peer (node:tls) trusting the test CA, optionally with the client certificate. */
export function tlsPeer(host: string, port: number, opts: { clientCert?: boolean } = {}) {
  const sock = tls.connect({
    host,
    port,
    ca: testPem("ca"),
    ...(opts.clientCert ? { cert: testPem("client"), key: testPem("client-key") } : {}),
  });
  return clientPeer(sock, "secureConnect");
}

/** A TLS server peer with `cert` ("server" or "untrusted"): collects what it reads. */
export function tlsServerPeer(host: string, cert = "server") {
  const st = { text: "", conns: 0, clientCert: "", sni: "" };
  return serverPeer(host, st, (take) => {
    const server = tls.createServer({
      cert: testPem(cert),
      key: testPem(`${cert}-key`),
      ca: testPem("ca"),
      requestCert: true,
      rejectUnauthorized: false,
    }, (s) => {
      st.clientCert = (s.getPeerCertificate()?.subject?.CN as string | undefined) ?? "";
      st.sni = String((s as tls.TLSSocket & { servername?: string | false }).servername || "");
      take(s);
    });
    server.on("tlsClientError", () => {});
    return server;
  });
}

/**
 * A WebSocket client peer: the runtime's own WebSocket (Deno's or Bun's, independent of
 * Tandem's framing), asking for the "sip" subprotocol. Resolves once open.
 */
export async function wsPeer(url: string) {
  const ws = new WebSocket(url, "sip");
  const st = { got: [] as string[], closed: false, closeCode: 0 };
  ws.onmessage = (e) => {
    st.got.push(typeof e.data === "string" ? e.data : dec.decode(e.data as ArrayBuffer));
  };
  ws.onclose = (e) => {
    st.closed = true;
    st.closeCode = e.code;
  };
  await new Promise<void>((r, j) => {
    ws.onopen = () => r();
    ws.onerror = () => j(new Error(`WebSocket to ${url} failed`));
  });
  return { ws, st, send: (t: string) => ws.send(t), close: () => ws.close() };
}

/**
 * A WebSocket server peer on `host`:0: the runtime's own server (Deno.serve or Bun.serve),
 * accepting the "sip" subprotocol, collecting text messages and able to answer on the last
 * connection.
 */
export function wsServerPeer(host: string) {
  const st = { got: [] as string[], conns: 0, path: "", protocol: "", host: "" };
  let last: { send(t: string): void } | undefined;
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno && typeof deno.serve === "function" && !("Bun" in globalThis)) {
    const server = deno.serve({ hostname: host, port: 0, onListen() {} }, (req) => {
      st.path = new URL(req.url).pathname;
      st.host = req.headers.get("host") ?? "";
      st.protocol = req.headers.get("sec-websocket-protocol") ?? "";
      const { socket, response } = deno.upgradeWebSocket(req, { protocol: "sip" });
      st.conns++;
      socket.onmessage = (e) => st.got.push(String(e.data));
      last = socket;
      return response;
    });
    return Promise.resolve({
      st,
      port: server.addr.port,
      send: (t: string) => last!.send(t),
      close: () => server.shutdown(),
    });
  }
  type BunWs = { send(t: string): void };
  const bun = (globalThis as unknown as {
    Bun: {
      serve(o: unknown): { port: number; stop(force: boolean): void };
    };
  }).Bun;
  const server = bun.serve({
    hostname: host,
    port: 0,
    fetch(req: Request, srv: { upgrade(r: Request, o: unknown): boolean }) {
      st.path = new URL(req.url).pathname;
      st.host = req.headers.get("host") ?? "";
      st.protocol = req.headers.get("sec-websocket-protocol") ?? "";
      if (srv.upgrade(req, { headers: { "Sec-WebSocket-Protocol": "sip" } })) return undefined;
      return new Response("no upgrade", { status: 400 });
    },
    websocket: {
      open(ws: BunWs) {
        st.conns++;
        last = ws;
      },
      message(_ws: BunWs, m: string | Uint8Array) {
        st.got.push(typeof m === "string" ? m : dec.decode(m));
      },
    },
  });
  return Promise.resolve({
    st,
    port: server.port,
    send: (t: string) => last!.send(t),
    close: () => Promise.resolve(server.stop(true)),
  });
}

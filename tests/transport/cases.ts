// RFC 3261 §18 transport behaviour over real loopback sockets, written once and run per adapter:
// by Deno.test (transport_test.ts) with the Deno and Node adapters, and under Bun by
// bun-runner.ts with the Bun and Node adapters. Each case takes the adapter and a loopback host.

import assert from "node:assert/strict";
import {
  callIdHash,
  ownerOfHash,
  parseMessage,
  parseUri,
  SipRequest,
  SipResponse,
} from "../../src/sip/mod.ts";
import {
  type Endpoint,
  endpointForUri,
  type SocketAdapter,
  TransportLayer,
  WorkerLink,
} from "../../src/transport/mod.ts";
import {
  closedPort,
  Recorder,
  requestText,
  responseText,
  sleep,
  startLayer,
  tcpPeer,
  tcpServerPeer,
  testPem,
  testTls,
  tlsPeer,
  tlsServerPeer,
  udpPeer,
  waitFor,
  wsPeer,
  wsServerPeer,
} from "./helpers.ts";
import { encodeFrame } from "../../src/transport/websocket.ts";

/** A transport case: adapter under test, loopback host ("127.0.0.1" or "::1"). */
export type Case = (adapter: SocketAdapter, host: string) => Promise<void>;

const br = (h: string) => (h.includes(":") ? `[${h}]` : h);

function okFor(req: SipRequest): SipResponse {
  return new SipResponse(200, "OK", req.headers.filter((h) => h.key !== "content-length"));
}

/** §18.2.1 + RFC 3581: UDP request in (received/rport stamped), response and request out. */
export const udpRequestInOut: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["udp"]);
  const peer = await udpPeer(host);
  try {
    peer.send(requestText("OPTIONS", "peer.invalid:5999", { viaParams: ";rport" }), port("udp"));
    await waitFor(() => rec.requests.length === 1, "request");
    const { req, source } = rec.requests[0];
    assert.deepEqual(source, { protocol: "udp", host, port: peer.port });
    assert.equal(req.topVia!.received, host);
    assert.equal(req.topVia!.rport, peer.port);
    layer.sendResponse(okFor(req), source);
    await waitFor(() => peer.got.length === 1, "response at rport");
    assert.match(peer.got[0], /^SIP\/2\.0 200 OK\r\n/);
    const out = new SipRequest("MESSAGE", `sip:p@${br(host)}:${peer.port}`, req.headers.slice());
    out.set("CSeq", "2 MESSAGE");
    layer.sendRequest(out, { protocol: "udp", host, port: peer.port });
    await waitFor(() => peer.got.length === 2, "request out");
    assert.match(peer.got[1], /^MESSAGE /);
    assert.equal(layer.stats().messagesIn, 1);
  } finally {
    await peer.close();
    await layer.stop();
  }
};

/** §18.2.1: sent-by equal to the source and no rport: the Via is left byte for byte. */
export const viaUntouchedWhenMatching: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["udp"]);
  const peer = await udpPeer(host);
  try {
    peer.send(requestText("OPTIONS", `${br(host)}:${peer.port}`), port("udp"));
    await waitFor(() => rec.requests.length === 1, "request");
    const v = rec.requests[0].req.topVia!;
    assert.equal(v.received, undefined);
    assert.equal(v.rport, undefined);
  } finally {
    await peer.close();
    await layer.stop();
  }
};

/** RFC 5626 §3.5.1 keep-alives over UDP are dropped silently; garbage is a parse error. */
export const udpKeepaliveAndGarbage: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["udp"]);
  const peer = await udpPeer(host);
  try {
    peer.send("\r\n\r\n", port("udp"));
    peer.send(new Uint8Array([0]), port("udp"));
    peer.send("garbage that is not SIP\r\n\r\n", port("udp"));
    await waitFor(() => layer.stats().keepalives === 2 && rec.parseErrors.length === 1, "drops");
    assert.equal(rec.requests.length, 0);
  } finally {
    await peer.close();
    await layer.stop();
  }
};

/** §18.1.2: a response whose top Via is not ours is dropped and counted. */
export const responseViaNotOursDropped: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["udp"]);
  const peer = await udpPeer(host);
  try {
    peer.send(responseText(200, "10.9.9.9:5999"), port("udp"));
    peer.send(responseText(180, `${br(host)}:${port("udp")}`), port("udp"));
    await waitFor(() => rec.responses.length === 1, "our response");
    await waitFor(() => layer.stats().dropped === 1, "drop");
    assert.equal(rec.responses[0].res.status, 180);
  } finally {
    await peer.close();
    await layer.stop();
  }
};

/** §18.2.2 without rport: received + sent-by port; with rport: received + rport. */
export const udpResponseRouting: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["udp"]);
  const a = await udpPeer(host);
  const b = await udpPeer(host);
  try {
    // Sent from A, Via names B's port with a host that differs: response to received:B.
    a.send(requestText("OPTIONS", `other.invalid:${b.port}`), port("udp"));
    await waitFor(() => rec.requests.length === 1, "request 1");
    const r1 = rec.requests[0];
    assert.equal(r1.req.topVia!.received, host);
    layer.sendResponse(okFor(r1.req), r1.source);
    await waitFor(() => b.got.length === 1, "response at sent-by port");
    // Same with rport: the response follows the source port (A).
    a.send(requestText("OPTIONS", `other.invalid:${b.port}`, { viaParams: ";rport" }), port("udp"));
    await waitFor(() => rec.requests.length === 2, "request 2");
    const r2 = rec.requests[1];
    layer.sendResponse(okFor(r2.req), r2.source);
    await waitFor(() => a.got.length === 1, "response at rport");
    assert.equal(b.got.length, 1);
  } finally {
    await a.close();
    await b.close();
    await layer.stop();
  }
};

/** §18.3: a request split in pieces (headers and body split) and two requests in one write. */
export const tcpFraming: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tcp"]);
  const c = await tcpPeer(host, port("tcp"));
  try {
    const one = requestText("MESSAGE", "a.invalid:5060", { body: "hello body" });
    const cut1 = one.indexOf("Call-ID") + 3;
    const cut2 = one.length - 4;
    await c.write(one.slice(0, cut1));
    await sleep(20);
    await c.write(one.slice(cut1, cut2));
    await sleep(20);
    await c.write(one.slice(cut2));
    await waitFor(() => rec.requests.length === 1, "split request");
    assert.equal(new TextDecoder().decode(rec.requests[0].req.body), "hello body");
    const two = requestText("OPTIONS", "b.invalid") + "\r\n" + requestText("INFO", "c.invalid");
    await c.write(two);
    await waitFor(() => rec.requests.length === 3, "two in one write");
    assert.deepEqual(rec.requests.map((r) => r.req.method), ["MESSAGE", "OPTIONS", "INFO"]);
    assert.equal(rec.requests[2].source.protocol, "tcp");
  } finally {
    c.close();
    await layer.stop();
  }
};

/** §18.2.2: the response and a later request to that address reuse the inbound connection. */
export const tcpConnectionReuse: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tcp"]);
  const c = await tcpPeer(host, port("tcp"));
  try {
    await c.write(requestText("INVITE", "unreachable.invalid:5999"));
    await waitFor(() => rec.requests.length === 1, "request");
    const { req, source } = rec.requests[0];
    assert.deepEqual(source, { protocol: "tcp", host, port: c.peer.localPort });
    layer.sendResponse(okFor(req), source);
    await waitFor(() => c.peer.text.includes("SIP/2.0 200 OK"), "response on same connection");
    const bye = new SipRequest("BYE", "sip:a@x", req.headers.slice());
    bye.set("CSeq", "2 BYE");
    layer.sendRequest(bye, source);
    await waitFor(() => c.peer.text.includes("BYE sip:a@x"), "request on same connection");
    const l = layer.listeners[0];
    assert.equal(l.isOpen?.(source), true);
  } finally {
    c.close();
    await layer.stop();
  }
};

/** §18.2.2: the request's connection is gone: connect to received and the sent-by port. */
export const tcpResponseNewConnection: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tcp"]);
  const server = await tcpServerPeer(host);
  const c = await tcpPeer(host, port("tcp"));
  try {
    await c.write(requestText("OPTIONS", `sentby.invalid:${server.port}`));
    await waitFor(() => rec.requests.length === 1, "request");
    c.close();
    const { req, source } = rec.requests[0];
    await waitFor(() => layer.listeners[0].isOpen?.(source) === false, "server side close");
    layer.sendResponse(okFor(req), source);
    await waitFor(() => server.st.text.includes("SIP/2.0 200 OK"), "response on new connection");
  } finally {
    await server.close();
    await layer.stop();
  }
};

/**
 * maxConnections: an inbound connection beyond the limit is closed at once and nothing it sends
 * is read; the connections held keep working, and a freed slot is taken again.
 */
export const tcpConnectionLimit: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tcp"], { maxConnections: 2 });
  const held = [await tcpPeer(host, port("tcp")), await tcpPeer(host, port("tcp"))];
  try {
    await held[0].write(requestText("OPTIONS", "one.invalid"));
    await held[1].write(requestText("OPTIONS", "two.invalid"));
    await waitFor(() => rec.requests.length === 2, "requests on the held connections");
    const extra = await tcpPeer(host, port("tcp"));
    await extra.write(requestText("OPTIONS", "three.invalid")).catch(() => {});
    await waitFor(() => extra.peer.closed, "the third connection closed");
    await sleep(50);
    assert.equal(rec.requests.length, 2, "nothing read from it");
    held[0].close();
    const first = rec.requests.find((r) => r.req.topVia!.host === "one.invalid")!.source;
    await waitFor(() => layer.listeners[0].isOpen?.(first) === false, "freed");
    const again = await tcpPeer(host, port("tcp"));
    await again.write(requestText("OPTIONS", "four.invalid"));
    await waitFor(() => rec.requests.length === 3, "a new connection in the freed slot");
    again.close();
  } finally {
    for (const c of held) c.close();
    await layer.stop();
  }
};

/** Idle connections are closed after idleTimeoutMs. */
export const tcpIdleTimeout: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tcp"], { idleTimeoutMs: 150 });
  const c = await tcpPeer(host, port("tcp"));
  try {
    await c.write(requestText("OPTIONS", "a.invalid"));
    await waitFor(() => c.peer.closed, "idle close", 2000);
    // A TCP peer can be connected to again: its calls do not end with the connection.
    assert.deepEqual(rec.flowsClosed, []);
  } finally {
    c.close();
    await layer.stop();
  }
};

/** Over the size limit, or without Content-Length, framing is lost: the connection closes. */
export const tcpFramingLostCloses: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tcp"], { maxMessageSize: 2000 });
  const big = await tcpPeer(host, port("tcp"));
  const nocl = await tcpPeer(host, port("tcp"));
  const bad = await tcpPeer(host, port("tcp"));
  try {
    await big.write(requestText("MESSAGE", "a.invalid", { contentLength: "5000" }));
    await nocl.write(requestText("OPTIONS", "a.invalid", { contentLength: "" }));
    await bad.write(requestText("OPTIONS", "a.invalid", { contentLength: "12x" }));
    await waitFor(() => big.peer.closed && nocl.peer.closed && bad.peer.closed, "closes");
    assert.equal(rec.requests.length, 0);
    await waitFor(() => rec.transportErrors.length === 3, "framing errors reported");
    assert.ok(rec.transportErrors.every((e) => e.err.name === "FramingError"));
  } finally {
    big.close();
    nocl.close();
    bad.close();
    await layer.stop();
  }
};

/** RFC 5626 §3.5.1: CRLFCRLF ping gets a CRLF pong; CRLFs between messages are ignored. */
export const tcpPingPong: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tcp"]);
  const c = await tcpPeer(host, port("tcp"));
  try {
    await c.write("\r\n\r\n");
    await waitFor(() => c.peer.text === "\r\n", "pong");
    await c.write("\r\n" + requestText("OPTIONS", "a.invalid"));
    await waitFor(() => rec.requests.length === 1, "request after stray CRLF");
    assert.equal(c.peer.closed, false);
  } finally {
    c.close();
    await layer.stop();
  }
};

/**
 * A connection we opened that its far end closes is reported as a lost flow (a registration over
 * it must make a new one); one we close for idleness is not.
 */
export const tcpOutboundFlowLost: Case = async (adapter, host) => {
  const { layer, rec } = await startLayer(adapter, host, ["tcp"], { idleTimeoutMs: 300 });
  const far = await tcpServerPeer(host);
  const idle = await tcpServerPeer(host);
  try {
    const send = (port: number) =>
      layer.sendRequest(
        parseMessage(new TextEncoder().encode(requestText("OPTIONS", "x.invalid"))) as SipRequest,
        { protocol: "tcp", host, port },
      );
    send(far.port);
    await waitFor(() => far.st.text.includes("OPTIONS"), "the request over our connection");
    await far.close();
    await waitFor(() => rec.lostFlows.length === 1, "the lost flow reported");
    assert.deepEqual(rec.lostFlows, [{ protocol: "tcp", host, port: far.port }]);
    send(idle.port);
    await waitFor(() => idle.st.text.includes("OPTIONS"), "the request to the idle peer");
    await waitFor(() => layer.listeners[0].isOpen?.({ host, port: idle.port }) === false, "idle");
    assert.equal(rec.lostFlows.length, 1, "closed by us: not lost");
    assert.deepEqual(rec.flowsClosed, []);
  } finally {
    await idle.close();
    await layer.stop();
  }
};

/** ECONNREFUSED reaches `fail` and onTransportError; nothing crashes; the layer still works. */
export const tcpConnectRefused: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tcp", "udp"]);
  const dead = await closedPort(host);
  try {
    const fails: Error[] = [];
    for (let i = 0; i < 3; i++) {
      const req = parseMessage(new TextEncoder().encode(requestText("OPTIONS", "x.invalid")));
      layer.sendRequest(
        req as SipRequest,
        { protocol: "tcp", host, port: dead },
        (e) => fails.push(e),
      );
      await waitFor(() => fails.length === i + 1, "connect failure");
    }
    assert.ok(
      fails.every((e) =>
        /ECONNREFUSED|ConnectionRefused/i.test((e as { code?: string }).code ?? "")
      ),
      fails.map((e) => e.message).join("; "),
    );
    assert.ok(rec.transportErrors.length >= 3);
    // Still alive: a UDP message gets through.
    const peer = await udpPeer(host);
    peer.send(requestText("OPTIONS", "y.invalid"), port("udp"));
    await waitFor(() => rec.requests.length === 1, "request after failures");
    await peer.close();
  } finally {
    await layer.stop();
  }
};

/** UDP to a closed port, repeatedly: never a crash; where the runtime reports ICMP, it is seen. */
export const udpToClosedPort: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["udp"]);
  const dead = await closedPort(host);
  try {
    const req = parseMessage(new TextEncoder().encode(requestText("OPTIONS", "x.invalid")));
    for (let i = 0; i < 20; i++) {
      layer.sendRequest(req as SipRequest, { protocol: "udp", host, port: dead });
      await sleep(2);
    }
    await sleep(50);
    if (adapter.runtime === "bun") {
      assert.ok(rec.transportErrors.length > 0, "Bun surfaces ICMP as ECONNREFUSED on send");
      assert.equal(rec.transportErrors[0].dest.port, dead);
    }
    const peer = await udpPeer(host);
    peer.send(requestText("OPTIONS", "y.invalid"), port("udp"));
    await waitFor(() => rec.requests.length === 1, "request after ICMP errors");
    await peer.close();
  } finally {
    await layer.stop();
  }
};

/**
 * Bun's UDP send thread (udp-send-thread.ts): once it runs, datagrams still leave from the
 * listener's own port and in the order they were sent, bursts included; ICMP errors reach the
 * layer and do not stop the thread.
 */
export const udpSendThread: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["udp"], {}, {
    udp: { sendThread: true },
  });
  const listener = layer.listeners.find((l) => l.local.protocol === "udp")!;
  const threaded = await (listener.sendThread ?? Promise.resolve(false));
  try {
    if (adapter.runtime !== "bun") return assert.equal(threaded, false);
    assert.equal(threaded, true, "Bun on Linux sends from a thread");
    const peer = await udpPeer(host);
    const to: Endpoint = { protocol: "udp", host, port: peer.port };
    const req = parseMessage(new TextEncoder().encode(requestText("MESSAGE", "x.invalid")));
    const out = req as SipRequest;
    for (let burst = 0; burst < 10; burst++) {
      for (let i = 0; i < 30; i++) {
        out.set("CSeq", `${burst * 30 + i + 1} MESSAGE`);
        layer.sendRequest(out, to);
      }
      await sleep(1);
    }
    await waitFor(() => peer.got.length === 300, "300 datagrams");
    const seqs = peer.got.map((t) => Number(/\r\nCSeq: (\d+) /.exec(t)![1]));
    assert.deepEqual(seqs, Array.from({ length: 300 }, (_, i) => i + 1), "in order");
    assert.ok(peer.from.every((p) => p === port("udp")), "from the listener's port");
    await peer.close();

    // ICMP errors surface on whichever system call touches the socket next: the thread's send
    // or the JavaScript thread's receive. Either way the layer hears of it, and the thread
    // keeps sending.
    const dead = await closedPort(host);
    for (let i = 0; i < 20; i++) {
      layer.sendRequest(out, { protocol: "udp", host, port: dead });
      await sleep(2);
    }
    await waitFor(() => rec.transportErrors.some((e) => e.dest.port === dead), "ICMP error");
    const after = await udpPeer(host);
    for (let i = 0; i < 10; i++) {
      layer.sendRequest(out, { protocol: "udp", host, port: after.port });
    }
    await waitFor(() => after.got.length === 10, "sends after the errors");
    await after.close();
  } finally {
    await layer.stop();
  }
};

/** A peer that resets its connection: reported or silent, never a crash; sends after fail. */
export const tcpPeerReset: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tcp"]);
  const c = await tcpPeer(host, port("tcp"));
  // The sent-by port a new connection would try: closed, not 5060 (another SIP server here may
  // hold that one).
  const dead = await closedPort(host);
  try {
    await c.write(requestText("OPTIONS", `a.invalid:${dead}`));
    await waitFor(() => rec.requests.length === 1, "request");
    const { req, source } = rec.requests[0];
    const s = c.peer.sock as unknown as { resetAndDestroy?: () => void; destroy(): void };
    if (s.resetAndDestroy) s.resetAndDestroy();
    else s.destroy();
    await waitFor(() => layer.listeners[0].isOpen?.(source) === false, "reset noticed");
    // The connection is gone and the peer does not listen: the response fails cleanly.
    const fails: Error[] = [];
    layer.sendResponse(okFor(req), source, (e) => fails.push(e));
    await waitFor(() => fails.length === 1, "send failure after reset");
  } finally {
    c.close();
    await layer.stop();
  }
};

/** RFC 3263 §4.1: ;transport=TCP in any case maps to tcp; IPv6 literals come back bare. */
export const uriToEndpoint: Case = (_adapter, host) => {
  const u = parseUri(`sip:bob@${br(host)}:5098;transport=TCP`);
  assert.deepEqual(endpointForUri(u), { protocol: "tcp", host, port: 5098 });
  assert.deepEqual(endpointForUri(parseUri(`sip:${br(host)}`)), {
    protocol: "udp",
    host,
    port: 5060,
  });
  assert.throws(() => endpointForUri(parseUri("sip:bob@example.com")), /IP literal/);
  return Promise.resolve();
};

/** localFor/isLocal on a wildcard listener: loopback for loopback destinations, advertise wins. */
export const localAddresses: Case = async (adapter, host) => {
  const wildcard = host.includes(":") ? "::" : "0.0.0.0";
  const { layer, port } = await startLayer(adapter, wildcard, ["udp", "tcp"]);
  const adv = await startLayer(adapter, wildcard, ["udp"], {}, { advertise: "sip.example.net" });
  try {
    const l = layer.localFor({ protocol: "tcp", host, port: 5060 });
    assert.deepEqual(l, { protocol: "tcp", host, port: port("tcp") });
    assert.equal(layer.isLocal(host, port("udp")), true);
    assert.equal(layer.isLocal(host, 1), false);
    assert.equal(layer.isLocal("192.0.2.77"), false);
    assert.equal(adv.layer.localFor({ protocol: "udp", host, port: 1 }).host, "sip.example.net");
    assert.equal(adv.layer.isLocal("sip.example.net", adv.port("udp")), true);
  } finally {
    await layer.stop();
    await adv.layer.stop();
  }
};

/**
 * The receive buffer asked for is set where the runtime allows it (Bun through libc, Node
 * through dgram), read back from the kernel, and the socket still works; Deno cannot set it.
 */
export const udpReceiveBuffer: Case = async (adapter, host) => {
  const asked = 3 * 1024 * 1024;
  const { layer, rec, port } = await startLayer(adapter, host, ["udp"], {}, {
    udp: { receiveBuffer: asked },
  });
  const peer = await udpPeer(host);
  try {
    const got = layer.listeners[0].receiveBuffer;
    if (adapter.runtime === "deno") assert.equal(got, undefined);
    else {
      // The kernel doubles the request (bookkeeping) and caps it at net.core.rmem_max unless
      // forced (root): either way it is more than Linux's 208 KiB default.
      assert.ok(got !== undefined && got > 212992, `receive buffer ${got}`);
    }
    peer.send(requestText("OPTIONS", "peer.invalid:5999"), port("udp"));
    await waitFor(() => rec.requests.length === 1, "request");
  } finally {
    peer.close();
    await layer.stop();
  }
};

/**
 * Two SIP workers on one UDP port: every message reaches the worker its Call-ID hashes to,
 * whichever socket the kernel picked, with its real source; a forged link frame and a forward
 * to a worker that is down are dropped and counted.
 */
export const udpWorkersShareAPort: Case = async (adapter, host) => {
  const token = crypto.getRandomValues(new Uint8Array(8));
  const recs = [new Recorder(), new Recorder()];
  const layers: TransportLayer[] = [];
  const links: WorkerLink[] = [];
  const peers = [await udpPeer(host), await udpPeer(host)];
  try {
    let port = 0;
    for (let i = 0; i < 2; i++) {
      const link = await WorkerLink.open(adapter, token, {
        onMessage: (d, s) => layers[i].receiveForwarded(d, s),
        onDrop: (why) => layers[i].drop(why),
      });
      links.push(link);
      const layer = new TransportLayer({
        listen: [{ address: host, port, transports: ["udp"] }],
        limits: { maxSize: 65535, maxHeaders: 256 },
        tcp: { idleTimeoutMs: 30_000, maxMessageSize: 65535, connectTimeoutMs: 2000 },
        adapter,
        shard: { index: i, count: 2, forward: (o, d, s) => link.forward(o, d, s) },
      }, recs[i]);
      layers.push(layer);
      await layer.start();
      port = layer.listeners[0].local.port;
    }
    for (const l of links) l.setPeers(links.map((x) => x.port));
    const ids = Array.from({ length: 40 }, (_, i) => `cid-${i}@x`);
    ids.forEach((id, i) =>
      peers[i % 2].send(
        requestText("OPTIONS", "peer.invalid:5999", { callId: id, viaParams: ";rport" }),
        port,
      )
    );
    const total = () => recs[0].requests.length + recs[1].requests.length;
    await waitFor(() => total() === 40, "40 requests over both workers");
    for (const [w, rec] of recs.entries()) {
      assert.ok(rec.requests.length > 5, `worker ${w} got ${rec.requests.length}`);
      for (const { req, source } of rec.requests) {
        assert.equal(ownerOfHash(callIdHash(req.callId), 2), w, req.callId);
        const from = peers[ids.indexOf(req.callId) % 2].port;
        assert.deepEqual(source, { protocol: "udp", host, port: from });
        assert.equal(req.topVia!.rport, from, "rport stamped from the real source");
      }
    }
    // The owner answers from its own socket on the shared port.
    const { req, source } = recs[1].requests[0];
    layers[1].sendResponse(okFor(req), source);
    const p = peers[ids.indexOf(req.callId) % 2];
    await waitFor(() => p.got.some((t) => t.startsWith("SIP/2.0 200")), "the 200");
    // A response to a request worker 0 sent (its Call-ID) reaches worker 0.
    const ours = ids.find((id) => ownerOfHash(callIdHash(id), 2) === 0)!;
    peers[0].send(
      responseText(200, `${br(host)}:${port}`).replace("Call-ID: r1", `Call-ID: ${ours}`),
      port,
    );
    await waitFor(() => recs[0].responses.length === 1, "response at its owner");
    assert.equal(recs[1].responses.length, 0);
    // A frame without the cluster's token is dropped, not delivered.
    const before = layers[0].stats().dropped;
    const v4 = await udpPeer("127.0.0.1"); // the link is on 127.0.0.1 whatever the SIP family
    v4.send(requestText("OPTIONS", "x.invalid"), links[0].port);
    await waitFor(() => layers[0].stats().dropped === before + 1, "forged frame dropped");
    await v4.close();
    // Worker 1 down: what it owns is dropped (and counted) where it lands.
    for (const l of links) l.setPeers([links[0].port, undefined]);
    const theirs = ids.find((id) => ownerOfHash(callIdHash(id), 2) === 1)!;
    const landed = layers.map((l) => l.stats().dropped);
    const n = recs[1].requests.length;
    peers[0].send(requestText("OPTIONS", "p.invalid", { callId: theirs }), port);
    peers[1].send(requestText("OPTIONS", "p.invalid", { callId: theirs }), port);
    await waitFor(
      () =>
        layers.reduce((a, l, i) => a + l.stats().dropped - landed[i], 0) +
            recs[1].requests.length - n === 2,
      "both datagrams dropped or handled by their owner",
    );
  } finally {
    for (const p of peers) await p.close();
    for (const l of layers) await l.stop();
    for (const l of links) await l.close();
  }
};

/** A request as a WebSocket client writes it: Via WS (or WSS) with a .invalid host. */
function wsRequestText(method: string, transport = "WS"): string {
  return requestText(method, "df7jal23ls0d.invalid").replace("SIP/2.0/UDP", `SIP/2.0/${transport}`);
}

/**
 * RFC 7118 §5: a request over WebSocket (the runtime's own client, "sip" subprotocol) arrives
 * as "ws"; its response and a later request go back on the same connection, whatever the Via's
 * .invalid host says; nothing tries to dial the client.
 */
export const wsRequestInOut: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["ws"]);
  const c = await wsPeer(`ws://${br(host)}:${port("ws")}/`);
  try {
    assert.equal(layer.listeners[0].local.protocol, "ws");
    assert.equal(c.ws.protocol, "sip");
    c.send(wsRequestText("INVITE"));
    await waitFor(() => rec.requests.length === 1, "request over WebSocket");
    const { req, source } = rec.requests[0];
    assert.equal(source.protocol, "ws");
    assert.equal(source.host, host);
    assert.equal(req.topVia!.transport, "WS");
    assert.equal(req.topVia!.received, host);
    assert.deepEqual(layer.responseTarget(okFor(req), source), source);
    layer.sendResponse(okFor(req), source);
    await waitFor(() => c.st.got.length === 1, "response as a WebSocket message");
    assert.match(c.st.got[0], /^SIP\/2\.0 200 OK\r\n/);
    const bye = new SipRequest(
      "BYE",
      "sip:a@df7jal23ls0d.invalid;transport=ws",
      req.headers.slice(),
    );
    bye.set("CSeq", "2 BYE");
    layer.sendRequest(bye, source);
    await waitFor(() => c.st.got.length === 2, "request on the same connection");
    assert.match(c.st.got[1], /^BYE sip:a@df7jal23ls0d\.invalid;transport=ws SIP\/2\.0\r\n/);
    // Each message is one WebSocket message, ending where the SIP message ends.
    assert.ok(c.st.got[1].endsWith("\r\n\r\n"));
    assert.deepEqual(rec.flowsClosed, []);
    c.close();
    await waitFor(() => layer.listeners[0].isOpen?.(source) === false, "closed by the client");
    // The layer above hears that this browser is gone (its calls end).
    await waitFor(() => rec.flowsClosed.length === 1, "flow closed reported");
    assert.deepEqual(rec.flowsClosed, [source]);
    // A late response fails at once: nothing tries to connect to the browser's port.
    const fails: Error[] = [];
    layer.sendResponse(okFor(req), source, (e) => fails.push(e));
    assert.match(fails[0]?.message ?? "", /WebSocket the request came on has closed/);
    assert.equal(layer.listeners[0].isOpen?.(source), false);
    await sleep(100);
    assert.deepEqual(rec.transportErrors, []);
  } finally {
    c.close();
    await layer.stop();
  }
};

/**
 * RFC 6455 §4.2.2 / RFC 7118 §4: plain SIP on a WebSocket port gets an HTTP refusal and the
 * connection closes; nothing reaches the SIP layer.
 */
export const wsRefusesPlainSip: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["ws"]);
  const c = await tcpPeer(host, port("ws"));
  try {
    await c.write(requestText("OPTIONS", "a.invalid"));
    await waitFor(() => c.peer.closed, "connection closed");
    assert.match(c.peer.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.equal(rec.requests.length, 0);
  } finally {
    c.close();
    await layer.stop();
  }
};

/**
 * RFC 7118 §5 as client: a request to a ws: destination opens a WebSocket (the runtime's own
 * server checks the handshake and the "sip" subprotocol), and the answer comes back over it.
 */
export const wsOutbound: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["ws"]);
  const server = await wsServerPeer(host);
  try {
    const dest = endpointForUri(parseUri(`sip:p@${br(host)}:${server.port};transport=ws`));
    assert.deepEqual(dest, { protocol: "ws", host, port: server.port });
    const via = `${br(host)}:${port("ws")}`;
    const out = parseMessage(
      new TextEncoder().encode(requestText("MESSAGE", via).replace("SIP/2.0/UDP", "SIP/2.0/WS")),
    ) as SipRequest;
    const fails: Error[] = [];
    layer.sendRequest(out, dest, (e) => fails.push(e));
    await waitFor(() => server.st.got.length === 1, "request over an outbound WebSocket");
    assert.match(server.st.got[0], /^MESSAGE sip:bob@example\.com SIP\/2\.0\r\n/);
    assert.equal(server.st.protocol, "sip");
    assert.equal(server.st.path, "/");
    assert.equal(server.st.host, `${br(host)}:${server.port}`);
    server.send(
      `SIP/2.0 200 OK\r\nVia: SIP/2.0/WS ${via};branch=z9hG4bKr1\r\n` +
        "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r1\r\nCSeq: 1 MESSAGE\r\n" +
        "Content-Length: 0\r\n\r\n",
    );
    await waitFor(() => rec.responses.length === 1, "response over the same WebSocket");
    assert.equal(rec.responses[0].source.protocol, "ws");
    // A second request reuses the connection.
    layer.sendRequest(out, dest);
    await waitFor(() => server.st.got.length === 2, "second request");
    assert.equal(server.st.conns, 1);
    assert.deepEqual(fails, []);
    // A route's path and server name go into the upgrade request of a new connection.
    const other = await wsServerPeer(host);
    try {
      layer.sendRequest(out, {
        protocol: "ws",
        host,
        port: other.port,
        wsPath: "/sip/ws?edge=1",
        serverName: "edge.example.net",
      });
      await waitFor(() => other.st.got.length === 1, "request over a WebSocket with a path");
      assert.equal(other.st.path, "/sip/ws");
      assert.equal(other.st.host, `edge.example.net:${other.port}`);
    } finally {
      await other.close();
    }
    assert.deepEqual(fails, []);
  } finally {
    await server.close();
    await layer.stop();
  }
};

/**
 * RFC 6455 §5.5.2: a quiet WebSocket is pinged at half the idle timeout. A client that answers
 * (the runtime's own) stays connected well past the timeout; one that shook hands but never
 * answers is closed by it.
 */
export const wsKeepalive: Case = async (adapter, host) => {
  const { layer, port } = await startLayer(adapter, host, ["ws"], { idleTimeoutMs: 300 });
  const live = await wsPeer(`ws://${br(host)}:${port("ws")}/`);
  const mute = await tcpPeer(host, port("ws"));
  try {
    await mute.write(
      `GET / HTTP/1.1\r\nHost: ${br(host)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Protocol: sip\r\n\r\n",
    );
    await waitFor(() => mute.peer.text.includes("101 Switching"), "handshake");
    await waitFor(() => mute.peer.closed, "the mute client closed at the idle timeout", 2000);
    // A Ping (0x89 0x00: FIN, opcode 9, unmasked, empty) reached it first; the peer keeps text,
    // where 0x89, not UTF-8, reads as U+FFFD.
    assert.ok(mute.peer.text.includes("\ufffd\x00"), "pinged before being closed");
    await sleep(900);
    assert.equal(live.st.closed, false, "a client answering pings stays connected");
    live.send(wsRequestText("OPTIONS"));
    await waitFor(() => layer.stats().messagesIn === 1, "a message after 3 idle timeouts");
    // Shutting down says so (RFC 6455 §7.4.1: 1001, going away).
    await layer.stop();
    await waitFor(() => live.st.closed, "closed by the shutdown");
    assert.equal(live.st.closeCode, 1001);
  } finally {
    live.close();
    mute.close();
    await layer.stop();
  }
};

/**
 * RFC 6455 §10.2: with origins set, a browser page from elsewhere gets 403; a reload that empties
 * the list lets it in (new connections read the list).
 */
export const wsOrigins: Case = async (adapter, host) => {
  const { layer, port } = await startLayer(adapter, host, ["ws"], {}, {
    wsOrigins: ["https://app.example.com"],
  });
  const handshake = (origin: string) =>
    `GET / HTTP/1.1\r\nHost: ${br(host)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
    `Sec-WebSocket-Protocol: sip\r\nOrigin: ${origin}\r\n\r\n`;
  const peers = [];
  try {
    for (
      const [origin, answer] of [
        ["https://app.example.com", /^HTTP\/1\.1 101 /],
        ["https://evil.example", /^HTTP\/1\.1 403 Forbidden\r\n/],
      ] as const
    ) {
      const c = await tcpPeer(host, port("ws"));
      peers.push(c);
      await c.write(handshake(origin));
      await waitFor(() => c.peer.text.includes("\r\n\r\n"), `answer to ${origin}`);
      assert.match(c.peer.text, answer);
    }
    layer.setWebSocketOrigins([]);
    const c = await tcpPeer(host, port("ws"));
    peers.push(c);
    await c.write(handshake("https://evil.example"));
    await waitFor(() => c.peer.text.includes("\r\n\r\n"), "answer after the reload");
    assert.match(c.peer.text, /^HTTP\/1\.1 101 /);
  } finally {
    for (const c of peers) c.close();
    await layer.stop();
  }
};

/** RFC 7118 over TLS: a WSS listener shakes hands inside TLS and answers on the connection. */
export const wssRequestInOut: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["wss"], {}, { tls: testTls() });
  const c = await tlsPeer(host, port("wss"));
  try {
    assert.equal(layer.listeners[0].local.protocol, "wss");
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    await c.write(
      `GET / HTTP/1.1\r\nHost: ${br(host)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        "Sec-WebSocket-Protocol: sip\r\n\r\n",
    );
    await waitFor(() => c.peer.text.includes("\r\n\r\n"), "handshake answer");
    assert.match(c.peer.text, /^HTTP\/1\.1 101 /);
    assert.match(c.peer.text, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
    await c.write(encodeFrame(1, new TextEncoder().encode(wsRequestText("OPTIONS", "WSS")), true));
    await waitFor(() => rec.requests.length === 1, "request over WSS");
    const { req, source } = rec.requests[0];
    assert.equal(source.protocol, "wss");
    layer.sendResponse(okFor(req), source);
    await waitFor(() => c.peer.text.includes("SIP/2.0 200 OK"), "response over WSS");
  } finally {
    c.close();
    await layer.stop();
  }
};

/** RFC 7118 §5.2: transport=ws names WebSocket; on a sips: URI it means WSS. */
export const wsUris: Case = (_adapter, host) => {
  assert.deepEqual(endpointForUri(parseUri(`sip:${br(host)};transport=ws`)), {
    protocol: "ws",
    host,
    port: 80,
  });
  assert.deepEqual(endpointForUri(parseUri(`sips:${br(host)}:8443;transport=ws`)), {
    protocol: "wss",
    host,
    port: 8443,
  });
  return Promise.resolve();
};

/**
 * RFC 3261 §26.2 / §18.2.2: a request over TLS arrives as "tls" (Via stamped as for TCP), its
 * response and a later request go back on the same connection, and a request to a TLS server
 * opens a connection whose certificate is checked against the trusted CA and the IP dialled.
 */
export const tlsRequestInOut: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tls"], {}, { tls: testTls() });
  const c = await tlsPeer(host, port("tls"));
  const server = await tlsServerPeer(host);
  try {
    assert.equal(layer.listeners[0].local.protocol, "tls");
    await c.write(requestText("INVITE", "sentby.invalid:5999", { body: "v=0" }));
    await waitFor(() => rec.requests.length === 1, "request over TLS");
    const { req, source } = rec.requests[0];
    assert.deepEqual(source, { protocol: "tls", host, port: c.peer.localPort });
    assert.equal(new TextDecoder().decode(req.body), "v=0");
    assert.equal(req.topVia!.received, host);
    assert.deepEqual(layer.responseTarget(okFor(req), source), source);
    layer.sendResponse(okFor(req), source);
    await waitFor(() => c.peer.text.includes("SIP/2.0 200 OK"), "response on the connection");
    const out = new SipRequest("MESSAGE", `sip:p@${br(host)}:${server.port};transport=tls`, [
      ...req.headers.filter((h) => h.key !== "cseq" && h.key !== "content-length"),
    ]);
    out.set("CSeq", "2 MESSAGE");
    const fails: Error[] = [];
    const dest = endpointForUri(out.ruri);
    assert.deepEqual(dest, { protocol: "tls", host, port: server.port });
    layer.sendRequest(out, dest, (e) => fails.push(e));
    await waitFor(() => server.st.text.includes("MESSAGE sip:p@"), "request over a new TLS link");
    assert.deepEqual(fails, []);
    // The callee asked for a certificate and got ours.
    assert.equal(server.st.clientCert, "tandem-test-server");
  } finally {
    c.close();
    await server.close();
    await layer.stop();
  }
};

/**
 * RFC 5922 §7.2: a callee whose certificate does not chain to a trusted CA is a connect failure
 * (reported to the sender, nothing written to it); with verifyServer off it is accepted.
 */
export const tlsUntrustedServer: Case = async (adapter, host) => {
  const server = await tlsServerPeer(host, "untrusted");
  for (const verifyServer of [true, false]) {
    const { layer, rec } = await startLayer(adapter, host, ["tls"], {}, {
      tls: testTls({ verifyServer }),
    });
    try {
      const req = parseMessage(new TextEncoder().encode(requestText("OPTIONS", "x.invalid")));
      const fails: Error[] = [];
      layer.sendRequest(
        req as SipRequest,
        { protocol: "tls", host, port: server.port },
        (e) => fails.push(e),
      );
      if (verifyServer) {
        await waitFor(() => fails.length === 1, "verification failure");
        assert.match(fails[0].message, /certificate|issuer|verify/i);
        assert.ok(rec.transportErrors.length >= 1);
        await sleep(50);
        assert.doesNotMatch(server.st.text, /OPTIONS/);
      } else {
        await waitFor(() => server.st.text.includes("OPTIONS"), "sent without verification");
        assert.deepEqual(fails, []);
      }
    } finally {
      await layer.stop();
    }
  }
  await server.close();
};

/** Mutual TLS: with verifyClient, a caller without a certificate from the CA gets nothing in. */
export const tlsClientCertificate: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tls"], {}, {
    tls: testTls({ verifyClient: true }),
  });
  try {
    const anonymous = await tlsPeer(host, port("tls")).then(
      async (c) => {
        // TLS 1.3 finishes the client's side before the server refuses: the refusal shows as
        // a closed connection.
        await c.write(requestText("OPTIONS", "anon.invalid")).catch(() => {});
        await waitFor(() => c.peer.closed, "refused without a certificate");
        c.close();
        return "closed";
      },
      () => "refused",
    );
    assert.ok(anonymous === "closed" || anonymous === "refused");
    const c = await tlsPeer(host, port("tls"), { clientCert: true });
    await c.write(requestText("OPTIONS", "known.invalid"));
    await waitFor(() => rec.requests.length === 1, "request with a certificate");
    assert.equal(rec.requests[0].req.topVia!.host, "known.invalid");
    c.close();
  } finally {
    await layer.stop();
  }
};

/**
 * RFC 5922 §7.2: a callee whose certificate names a host, not its IP, verifies when the
 * endpoint carries that name (a route's tls_server_name), and not otherwise.
 */
export const tlsServerName: Case = async (adapter, host) => {
  // client.pem names DNS:caller.test only.
  const server = await tlsServerPeer(host, "client");
  const { layer } = await startLayer(adapter, host, ["tls"], {}, { tls: testTls() });
  try {
    const send = (dest: Endpoint) => {
      const fails: Error[] = [];
      const req = parseMessage(new TextEncoder().encode(requestText("OPTIONS", "x.invalid")));
      layer.sendRequest(req as SipRequest, dest, (e) => fails.push(e));
      return fails;
    };
    const byIp = send({ protocol: "tls", host, port: server.port });
    await waitFor(() => byIp.length === 1, "name mismatch by IP");
    assert.match(byIp[0].message, /altname|does not match|host/i);
    const byName = send({ protocol: "tls", host, port: server.port, serverName: "caller.test" });
    await waitFor(() => server.st.text.includes("OPTIONS"), "verified by name");
    assert.deepEqual(byName, []);
    assert.equal(server.st.sni, "caller.test");
  } finally {
    await server.close();
    await layer.stop();
  }
};

/** A reload's new certificate serves the connections accepted from then on. */
export const tlsNewCertificate: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["tls"], {}, { tls: testTls() });
  try {
    const before = await tlsPeer(host, port("tls"));
    await before.write(requestText("OPTIONS", "before.invalid"));
    await waitFor(() => rec.requests.length === 1, "request before the reload");
    layer.setTls(testTls({ cert: testPem("untrusted"), key: testPem("untrusted-key") }));
    // A peer trusting only the test CA now refuses Tandem's certificate...
    const refused = await tlsPeer(host, port("tls")).then(() => "", (e) => String(e?.message));
    assert.match(refused, /certificate|verify/i);
    // ...while the connection made before the reload still carries requests.
    await before.write(requestText("OPTIONS", "after.invalid"));
    await waitFor(() => rec.requests.length === 2, "request on the old connection");
    before.close();
  } finally {
    await layer.stop();
  }
};

/** RFC 3263 §4.1 / RFC 3261 §26.2.2: sips: and transport=tls are TLS, on 5061 by default. */
export const tlsUris: Case = (_adapter, host) => {
  assert.deepEqual(endpointForUri(parseUri(`sips:bob@${br(host)}`)), {
    protocol: "tls",
    host,
    port: 5061,
  });
  assert.deepEqual(endpointForUri(parseUri(`sip:${br(host)};transport=TLS`)), {
    protocol: "tls",
    host,
    port: 5061,
  });
  assert.deepEqual(endpointForUri(parseUri(`sips:${br(host)}:5071;transport=tcp`)), {
    protocol: "tls",
    host,
    port: 5071,
  });
  assert.throws(() => endpointForUri(parseUri(`sips:${br(host)};transport=udp`)), /sips/);
  return Promise.resolve();
};

/**
 * The queue probe: a UDP listener is sent timestamped probes from a socket of the layer's own;
 * they are timed and never reach the SIP handler, while a forged one from elsewhere is a
 * malformed datagram like any other. (How the estimate follows a queue: queue-probe_test.ts.)
 */
export const udpQueueProbe: Case = async (adapter, host) => {
  const { layer, rec, port } = await startLayer(adapter, host, ["udp"]);
  const peer = await udpPeer(host);
  try {
    assert.equal(layer.queueDelayMs(), undefined, "no probe before it is started");
    assert.equal(await layer.startQueueProbes(5), true);
    await waitFor(() => layer.queueDelayMs() !== undefined, "a delay estimate");
    await sleep(60);
    const idle = layer.queueDelayMs()!;
    assert.ok(idle >= 0 && idle < 50, `an idle listener's queue holds little (${idle} ms)`);
    // Our probe's bytes from a stranger: not ours, so it is parsed as SIP and fails.
    peer.send(new Uint8Array([0, 0x54, 0x51, 0x50, 0, 0, 0, 1, 0, 0, 0, 0]), port("udp"));
    await waitFor(() => rec.parseErrors.length === 1, "the forged probe is a parse error");
    await sleep(30);
    assert.equal(rec.requests.length + rec.responses.length, 0, "no probe reached the handler");
    assert.equal(layer.stats().parseErrors, 1);
  } finally {
    await peer.close();
    await layer.stop();
  }
  assert.equal(layer.queueDelayMs(), undefined, "stopped with the layer");
};

/** Every case, in order. */
export const cases: Record<string, Case> = {
  udpRequestInOut,
  viaUntouchedWhenMatching,
  udpKeepaliveAndGarbage,
  udpQueueProbe,
  responseViaNotOursDropped,
  udpResponseRouting,
  tcpFraming,
  tcpConnectionReuse,
  tcpResponseNewConnection,
  tcpIdleTimeout,
  tcpConnectionLimit,
  tcpFramingLostCloses,
  tcpPingPong,
  tcpConnectRefused,
  udpToClosedPort,
  udpSendThread,
  tcpPeerReset,
  tcpOutboundFlowLost,
  uriToEndpoint,
  localAddresses,
  udpReceiveBuffer,
  udpWorkersShareAPort,
  tlsRequestInOut,
  tlsUntrustedServer,
  tlsClientCertificate,
  tlsNewCertificate,
  tlsServerName,
  tlsUris,
  wsRequestInOut,
  wsRefusesPlainSip,
  wsOutbound,
  wsKeepalive,
  wsOrigins,
  wssRequestInOut,
  wsUris,
};

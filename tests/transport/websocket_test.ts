// RFC 6455 opening handshake and framing, and RFC 7118's "sip" subprotocol, on byte chunks (no
// sockets): what WebSocketFramer answers, delivers and refuses.

import assert from "node:assert/strict";
import { FramingError, WebSocketFramer } from "../../src/transport/mod.ts";
import { acceptFor, encodeFrame, MAX_HANDSHAKE } from "../../src/transport/websocket.ts";
import { prng } from "../util/prng.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function upgrade(extra = "", protocol = "Sec-WebSocket-Protocol: sip\r\n"): string {
  return "GET /sip HTTP/1.1\r\nHost: tandem.example:8080\r\nUpgrade: websocket\r\n" +
    `Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` +
    `Sec-WebSocket-Version: 13\r\n${protocol}${extra}\r\n`;
}

/** A frame as a browser sends it (masked with a fixed key, so tests are repeatable). */
function clientFrame(opcode: number, payload: string | Uint8Array, fin = true): Uint8Array {
  const p = typeof payload === "string" ? enc.encode(payload) : payload;
  const f = encodeFrame(opcode, p, true);
  if (!fin) f[0] &= 0x7f;
  return f;
}

class Sink {
  messages: string[] = [];
  replies: Uint8Array[] = [];
  opened = 0;
  ended = 0;
  onMessage(m: Uint8Array) {
    this.messages.push(dec.decode(m));
  }
  reply(b: Uint8Array) {
    this.replies.push(b.slice());
  }
  onOpen() {
    this.opened++;
  }
  onEnd() {
    this.ended++;
  }
  get replyText(): string {
    return this.replies.map((r) => new TextDecoder("latin1").decode(r)).join("");
  }
}

/** A server framer past a good handshake, and its sink. */
function openServer(max = 65535) {
  const f = new WebSocketFramer("server", max);
  const sink = new Sink();
  assert.equal(f.push(enc.encode(upgrade()), sink), undefined);
  sink.replies = [];
  return { f, sink };
}

/** Decode one unmasked frame a server sent: opcode and payload. */
function serverFrame(b: Uint8Array): { fin: boolean; opcode: number; payload: Uint8Array } {
  assert.equal(b[1] & 0x80, 0, "a server never masks");
  let len = b[1] & 0x7f;
  let off = 2;
  if (len === 126) [len, off] = [(b[2] << 8) | b[3], 4];
  else if (len === 127) [len, off] = [(b[6] << 24 | b[7] << 16 | b[8] << 8 | b[9]) >>> 0, 10];
  return { fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, payload: b.slice(off, off + len) };
}

Deno.test("RFC 6455 §1.3: Sec-WebSocket-Accept of the RFC's sample key", () => {
  assert.equal(acceptFor(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("RFC 7118 §4: an upgrade offering sip is answered 101 with the sip subprotocol", () => {
  const f = new WebSocketFramer("server", 65535);
  const sink = new Sink();
  assert.equal(
    f.push(enc.encode(upgrade("", "Sec-WebSocket-Protocol: chat, sip\r\n")), sink),
    undefined,
  );
  assert.equal(sink.opened, 1);
  assert.ok(f.isOpen);
  const r = sink.replyText;
  assert.match(r, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(r, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  assert.match(r, /\r\nSec-WebSocket-Protocol: sip\r\n/);
  assert.ok(r.endsWith("\r\n\r\n"));
});

Deno.test("RFC 6455 §10.2: with origins set, a browser from another origin gets 403; one without Origin is let in", () => {
  const origins = ["https://app.example.com", "http://127.0.0.1:8000"];
  for (
    const [origin, status] of [
      ["Origin: https://app.example.com\r\n", 101],
      ["Origin: http://127.0.0.1:8000\r\n", 101],
      ["Origin: https://evil.example\r\n", 403],
      ["", 101],
    ] as const
  ) {
    const f = new WebSocketFramer("server", 65535, origins);
    const sink = new Sink();
    const err = f.push(enc.encode(upgrade(origin)), sink);
    assert.match(sink.replyText, new RegExp(`^HTTP/1\\.1 ${status} `), origin);
    assert.equal(err === undefined, status === 101, origin);
    if (status === 403) {
      assert.match(sink.replyText, /origin https:\/\/evil\.example is not allowed/);
    }
  }
});

Deno.test("RFC 6455 §5.2: a handshake and a masked text frame delivered byte by byte", () => {
  const f = new WebSocketFramer("server", 65535);
  const sink = new Sink();
  const sip = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n";
  const bytes = [...enc.encode(upgrade()), ...clientFrame(1, sip), ...clientFrame(2, sip)];
  for (const b of bytes) assert.equal(f.push(new Uint8Array([b]), sink), undefined);
  assert.deepEqual(sink.messages, [sip, sip]);
  assert.equal(f.buffered, 0);
});

Deno.test("RFC 6455 §5.2: 16-bit and 64-bit payload lengths", () => {
  const { f, sink } = openServer(200_000);
  const mid = "x".repeat(300);
  const big = "y".repeat(70_000);
  assert.equal(f.push(concat(clientFrame(1, mid), clientFrame(1, big)), sink), undefined);
  assert.deepEqual(sink.messages.map((m) => m.length), [300, 70_000]);
  const out = serverFrame(encodeFrame(1, enc.encode(big), false));
  assert.equal(out.payload.length, 70_000);
});

Deno.test("RFC 6455 §5.4: a fragmented message is delivered whole, a ping inside it answered", () => {
  const { f, sink } = openServer();
  const parts = concat(
    clientFrame(1, "INVITE sip:a@b ", false),
    clientFrame(9, "are you there"),
    clientFrame(0, "SIP/2.0\r\n", false),
    clientFrame(0, "\r\n"),
  );
  assert.equal(f.push(parts, sink), undefined);
  assert.deepEqual(sink.messages, ["INVITE sip:a@b SIP/2.0\r\n\r\n"]);
  const pong = serverFrame(sink.replies[0]);
  assert.equal(pong.opcode, 0xa);
  assert.equal(dec.decode(pong.payload), "are you there");
});

Deno.test("RFC 6455 §5.5.1: a Close is answered with the same status code and ends the stream", () => {
  const { f, sink } = openServer();
  assert.equal(f.push(clientFrame(8, new Uint8Array([0x03, 0xe8, 0x62, 0x79])), sink), undefined);
  assert.equal(sink.ended, 1);
  const close = serverFrame(sink.replies[0]);
  assert.equal(close.opcode, 8);
  assert.deepEqual([...close.payload], [0x03, 0xe8]);
  // Nothing after the Close is read.
  assert.equal(f.push(clientFrame(1, "late"), sink), undefined);
  assert.deepEqual(sink.messages, []);
});

Deno.test("RFC 6455 §5.1: an unmasked frame from a client is a protocol error (Close 1002)", () => {
  const { f, sink } = openServer();
  const err = f.push(encodeFrame(1, enc.encode("hi"), false), sink);
  assert.ok(err instanceof FramingError);
  assert.match(err.message, /unmasked/);
  const close = serverFrame(sink.replies[0]);
  assert.equal(close.opcode, 8);
  assert.equal((close.payload[0] << 8) | close.payload[1], 1002);
  // Failed for good: the next chunk gets the same error.
  assert.equal(f.push(clientFrame(1, "x"), sink), err);
});

Deno.test("RFC 6455 §5.2/§5.5: malformed frames end the connection", () => {
  const bad: [string, Uint8Array][] = [
    [
      "reserved bits",
      (() => {
        const b = clientFrame(1, "x");
        b[0] |= 0x40;
        return b;
      })(),
    ],
    ["fragmented control frame", clientFrame(9, "x", false)],
    ["long control frame", clientFrame(9, "p".repeat(126))],
    ["continuation without a start", clientFrame(0, "x")],
    ["unknown opcode", clientFrame(3, "x")],
    [
      "a new message inside a fragmented one",
      concat(clientFrame(1, "a", false), clientFrame(1, "b")),
    ],
  ];
  for (const [what, frame] of bad) {
    const { f, sink } = openServer();
    const err = f.push(frame, sink);
    assert.ok(err instanceof FramingError, what);
    assert.deepEqual(sink.messages, [], what);
    const close = serverFrame(sink.replies[0]);
    assert.equal((close.payload[0] << 8) | close.payload[1], 1002, what);
  }
});

Deno.test("RFC 6455 §7.4.1: a message over the size limit is refused with Close 1009", () => {
  for (
    const frames of [[clientFrame(1, "z".repeat(2000))], [
      clientFrame(1, "z".repeat(600), false),
      clientFrame(0, "z".repeat(600)),
    ]]
  ) {
    const { f, sink } = openServer(1000);
    const err = f.push(concat(...frames), sink);
    assert.ok(err instanceof FramingError);
    assert.match(err.message, /exceeds 1000 bytes/);
    const close = serverFrame(sink.replies[0]);
    assert.equal((close.payload[0] << 8) | close.payload[1], 1009);
  }
});

Deno.test("RFC 6455 §4.2.1 / RFC 7118 §4: handshakes that are refused, with the HTTP answer", () => {
  const cases: [string, string, RegExp][] = [
    [
      "no sip subprotocol",
      upgrade("", "Sec-WebSocket-Protocol: chat\r\n"),
      /^HTTP\/1\.1 400 .*sip/s,
    ],
    ["no subprotocol", upgrade("", ""), /^HTTP\/1\.1 400 /],
    [
      "version 8",
      upgrade().replace("Version: 13", "Version: 8"),
      /^HTTP\/1\.1 426 [^]*Sec-WebSocket-Version: 13\r\n/,
    ],
    ["plain SIP", "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n", /^HTTP\/1\.1 400 /],
    [
      "no Upgrade",
      upgrade().replace("Upgrade: websocket\r\n", ""),
      /^HTTP\/1\.1 426 [^]*Upgrade: websocket/,
    ],
    ["POST", upgrade().replace("GET", "POST"), /^HTTP\/1\.1 405 /],
    ["bad key", upgrade().replace(KEY, "short"), /^HTTP\/1\.1 400 [^]*Sec-WebSocket-Key/],
    ["too long", upgrade(`X-Pad: ${"p".repeat(MAX_HANDSHAKE)}\r\n`), /^HTTP\/1\.1 431 /],
  ];
  for (const [what, text, answer] of cases) {
    const f = new WebSocketFramer("server", 65535);
    const sink = new Sink();
    const err = f.push(enc.encode(text), sink);
    assert.ok(err instanceof FramingError, what);
    assert.match(sink.replyText, answer, what);
    assert.match(sink.replyText, /Connection: close\r\n/, what);
    assert.equal(sink.opened, 0, what);
  }
});

Deno.test("RFC 6455 §4.1: as client, the handshake is checked and frames go out masked", () => {
  const f = new WebSocketFramer("client", 65535);
  const sink = new Sink();
  const req = dec.decode(f.start("192.0.2.7:8080"));
  assert.match(req, /^GET \/ HTTP\/1\.1\r\nHost: 192\.0\.2\.7:8080\r\n/);
  assert.match(req, /\r\nSec-WebSocket-Protocol: sip\r\n/);
  const key = /Sec-WebSocket-Key: (\S+)\r\n/.exec(req)![1];
  assert.equal(atob(key).length, 16);
  const answer =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${acceptFor(key)}\r\nSec-WebSocket-Protocol: sip\r\n\r\n`;
  // The answer and a first server frame in one chunk.
  assert.equal(
    f.push(concat(enc.encode(answer), encodeFrame(1, enc.encode("hi"), false)), sink),
    undefined,
  );
  assert.equal(sink.opened, 1);
  assert.deepEqual(sink.messages, ["hi"]);
  const out = f.frame(enc.encode("BYE"));
  assert.equal(out[1] & 0x80, 0x80, "a client masks");
  const mask = out.subarray(2, 6);
  assert.equal(dec.decode(out.subarray(6).map((b, i) => b ^ mask[i & 3])), "BYE");
  // A masked frame from the server is refused.
  assert.ok(f.push(clientFrame(1, "x"), sink) instanceof FramingError);
});

Deno.test("RFC 6455 §4.1: as client, a wrong accept or a missing sip subprotocol fails", () => {
  for (
    const [what, bad] of [
      [
        "wrong accept",
        (k: string) =>
          `Sec-WebSocket-Accept: ${acceptFor(k + "x")}\r\n` + "Sec-WebSocket-Protocol: sip\r\n",
      ],
      ["no subprotocol", (k: string) => `Sec-WebSocket-Accept: ${acceptFor(k)}\r\n`],
    ] as const
  ) {
    const f = new WebSocketFramer("client", 65535);
    const sink = new Sink();
    const key = /Sec-WebSocket-Key: (\S+)\r\n/.exec(dec.decode(f.start("h:1")))![1];
    const answer =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      bad(key) + "\r\n";
    const err = f.push(enc.encode(answer), sink);
    assert.ok(err instanceof FramingError, what);
    assert.equal(sink.opened, 0, what);
  }
  const f = new WebSocketFramer("client", 65535);
  f.start("h:1");
  const err = f.push(enc.encode("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), new Sink());
  assert.match(err!.message, /404 Not Found/);
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("RFC 6455: chunk boundaries never change what is delivered (seeded; mutated streams fail cleanly)", () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? (Date.now() % 0x7fffffff));
  console.log(`websocket fuzz: FUZZ_SEED=${seed}`);
  const r = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const feed = (stream: Uint8Array, cuts: number[]) => {
    const f = new WebSocketFramer("server", 4096);
    const sink = new Sink();
    let failed = false;
    let at = 0;
    for (const end of [...cuts, stream.length]) {
      failed ||= f.push(stream.slice(at, end), sink) !== undefined;
      at = end;
    }
    return { out: sink.messages, replies: sink.replies.length, failed };
  };
  for (let i = 0; i < 2000; i++) {
    const parts: Uint8Array[] = [enc.encode(upgrade())];
    const want: string[] = [];
    for (let k = Math.floor(r() * 6); k > 0; k--) {
      const body = "m".repeat(pick([0, 1, 125, 126, 300, 1000]));
      if (r() < 0.3) {
        parts.push(clientFrame(1, body.slice(0, body.length >> 1), false));
        if (r() < 0.5) parts.push(clientFrame(9, "p"));
        parts.push(clientFrame(0, body.slice(body.length >> 1)));
      } else parts.push(clientFrame(pick([1, 2]), body));
      want.push(body);
    }
    let stream = concat(...parts);
    const mutated = r() < 0.3;
    if (mutated) {
      stream = stream.slice();
      for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
        stream[Math.floor(r() * stream.length)] = Math.floor(r() * 256);
      }
    }
    const whole = feed(stream, []);
    const cuts = [
      ...new Set(Array.from({ length: pick([1, 3, 20]) }, () => Math.floor(r() * stream.length))),
    ].sort((a, b) => a - b);
    const split = feed(stream, cuts);
    assert.deepEqual(split, whole, `seed ${seed} case ${i}: cuts ${cuts}`);
    if (!mutated) {
      assert.equal(whole.failed, false, `seed ${seed} case ${i}`);
      assert.deepEqual(whole.out, want, `seed ${seed} case ${i}`);
    }
  }
});

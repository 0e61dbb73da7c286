// RFC 3261 §18.3 stream framing and RFC 5626 §3.5.1 keep-alive, on byte chunks (no sockets).

import assert from "node:assert/strict";
import { FramingError, StreamFramer } from "../../src/transport/mod.ts";
import { latin1, mutate } from "../sip/mutate.ts";
import { prng } from "../util/prng.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function msg(body = "", cl: string | null = String(body.length), name = "Content-Length") {
  return `OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCall-ID: c\r\n` +
    (cl === null ? "" : `${name}: ${cl}\r\n`) + `\r\n${body}`;
}

function run(chunks: string[], max = 65535) {
  const f = new StreamFramer(max);
  const out: string[] = [];
  let pings = 0;
  let err: FramingError | undefined;
  for (const c of chunks) {
    err ??= f.push(enc.encode(c), {
      onMessage: (m) => out.push(dec.decode(m)),
      reply: () => pings++,
    });
  }
  return { out, pings, err, buffered: f.buffered };
}

Deno.test("§18.3 headers split across chunks, body split", () => {
  const m = msg("hello world");
  const r = run([m.slice(0, 10), m.slice(10, 60), m.slice(60, m.length - 5), m.slice(-5)]);
  assert.deepEqual(r.out, [m]);
  assert.equal(r.buffered, 0);
});

Deno.test("§18.3 byte-by-byte delivery frames exactly one message", () => {
  const m = msg("abc");
  const r = run([...m]);
  assert.deepEqual(r.out, [m]);
});

Deno.test("§18.3 several messages and a partial one in one chunk", () => {
  const a = msg("1");
  const b = msg("", "0", "l");
  const c = msg("xyz");
  const r = run([a + b + c.slice(0, 20), c.slice(20)]);
  assert.deepEqual(r.out, [a, b, c]);
});

Deno.test("RFC 5626 CRLFCRLF ping, split ping, stray CRLF ignored", () => {
  const m = msg();
  const r = run(["\r\n\r\n", "\r\n", "\r\n", "\r\n" + m, "\r\n\r\n"]);
  assert.equal(r.pings, 3);
  assert.deepEqual(r.out, [m]);
});

Deno.test("§18.3 missing, invalid or conflicting Content-Length loses framing", () => {
  assert.ok(run([msg("", null)]).err instanceof FramingError);
  assert.match(run([msg("", "abc")]).err!.message, /bad Content-Length/);
  const twice = msg("ab").replace("\r\n\r\n", "\r\nContent-Length: 3\r\n\r\n");
  assert.match(run([twice]).err!.message, /different/);
});

Deno.test("size limit: a large Content-Length or endless headers fail", () => {
  assert.match(run([msg("", "5000")], 1000).err!.message, /exceeds 1000/);
  assert.match(
    run(["OPTIONS sip:x SIP/2.0\r\n" + "X: y\r\n".repeat(300)], 1000).err!.message,
    /headers exceed/,
  );
  const ok = run([msg("a".repeat(100))], 1000);
  assert.equal(ok.out.length, 1);
});

Deno.test("after an error the framer stays failed", () => {
  const f = new StreamFramer(100);
  const sink = { onMessage: () => {}, reply: () => {} };
  const e = f.push(enc.encode(msg("", null)), sink);
  assert.ok(e);
  assert.equal(f.push(enc.encode(msg()), sink), e);
});

Deno.test("§18.3 chunk boundaries never change what is framed (seeded, mutated streams too)", () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? (Date.now() % 0x7fffffff));
  console.log(`framer fuzz: FUZZ_SEED=${seed}`);
  const r = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const feed = (stream: Uint8Array, cuts: number[], max: number) => {
    const f = new StreamFramer(max);
    const out: string[] = [];
    let pings = 0;
    let failed = false;
    const sink = {
      onMessage: (m: Uint8Array) => out.push(latin1.decode(m)),
      reply: () => pings++,
    };
    let at = 0;
    for (const end of [...cuts, stream.length]) {
      failed ||= f.push(stream.slice(at, end), sink) !== undefined;
      at = end;
    }
    return { out, pings, failed };
  };
  for (let i = 0; i < 3000; i++) {
    let text = "";
    for (let k = Math.floor(r() * 5); k > 0; k--) {
      text += pick(["", "", "\r\n", "\r\n\r\n", "\r\n\r\n\r\n"]);
      const body = "b".repeat(pick([0, 1, 10, 300]));
      text += msg(body, String(body.length), pick(["Content-Length", "l", "content-length "]));
    }
    let stream: Uint8Array = enc.encode(text);
    if (r() < 0.5) stream = mutate(stream, r);
    const max = pick([65535, 200]);
    const cuts = Array.from({ length: Math.floor(r() * 8) }, () => Math.floor(r() * stream.length))
      .sort((a, b) => a - b);
    const whole = feed(stream, [], max);
    const chunked = feed(stream, cuts, max);
    const bytes = feed(stream, Array.from({ length: stream.length }, (_, k) => k), max);
    const what = `seed ${seed}, stream ${JSON.stringify(latin1.decode(stream))}, cuts ${cuts}`;
    assert.deepEqual(chunked, whole, what);
    assert.deepEqual(bytes, whole, `byte by byte: ${what}`);
  }
});

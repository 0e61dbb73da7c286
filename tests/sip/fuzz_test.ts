// RFC 3261 §7/§25 robustness: mutations of the RFC 4475 corpus and random bytes. The parser
// must throw nothing but SipParseError, every lazy accessor of a parsed message must work or
// throw SipParseError, serialize() must never throw, and what it writes must parse again to the
// same fields. Seeded: set FUZZ_SEED to replay a run; FUZZ_COUNT to change the input count.

import { strict as assert } from "node:assert";
import {
  checkMessage,
  parseMessage,
  serialize,
  type SipMessage,
  SipParseError,
  SipRequest,
  type SipResponse,
} from "../../src/sip/mod.ts";

/** mulberry32: small, fast, good enough to spread mutations; reproducible from the seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function loadCorpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const root = new URL("../../../shared/torture/", import.meta.url);
  for (const dir of ["valid", "invalid", "transaction", "semantic", "compat"]) {
    const d = new URL(dir + "/", root);
    for (const e of [...Deno.readDirSync(d)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      if (e.name.endsWith(".dat")) out.push(Deno.readFileSync(new URL(e.name, d)));
    }
  }
  const td = new URL("../testdata/sip/", import.meta.url);
  out.push(
    Deno.readFileSync(new URL("invite.sip", td)),
    Deno.readFileSync(new URL("ok200.sip", td)),
  );
  return out;
}

const enc = new TextEncoder();
const INJECT = [
  "\r\n",
  "\r\n\r\n",
  "\r\n ",
  "\r",
  "\n",
  " ",
  "\t",
  '"',
  "\\",
  "<",
  ">",
  "%",
  "%0",
  "%00",
  ";",
  ",",
  ":",
  "=",
  "@",
  "[",
  "]",
  "?",
  "\0",
  "\xff",
  ";;;",
  ",,",
  "sip:",
  "tel:",
  "<sip:a@[::1]:5060;lr>",
  "SIP/2.0",
  "Via: ",
  "Content-Length: 99\r\n",
  "l: 0\r\n",
].map((s) => s === "\xff" ? new Uint8Array([0xff]) : enc.encode(s));

/** One random mutation of `b`; returns a new array. */
function mutate(b: Uint8Array, r: () => number): Uint8Array {
  const n = b.length;
  const at = Math.floor(r() * (n + 1));
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  switch (Math.floor(r() * 9)) {
    case 0: { // flip bits of one byte
      const c = b.slice();
      if (n) c[at % n] ^= 1 << Math.floor(r() * 8);
      return c;
    }
    case 1: { // insert a random byte
      const c = new Uint8Array(n + 1);
      c.set(b.subarray(0, at));
      c[at] = Math.floor(r() * 256);
      c.set(b.subarray(at), at + 1);
      return c;
    }
    case 2: { // delete a range
      const len = 1 + Math.floor(r() * 16);
      const c = new Uint8Array(Math.max(0, n - len));
      c.set(b.subarray(0, Math.min(at, c.length)));
      c.set(b.subarray(Math.min(n, at + len)), Math.min(at, c.length));
      return c.subarray(0, Math.min(c.length, at + (n - Math.min(n, at + len))));
    }
    case 3: // truncate
      return b.slice(0, at);
    case 4: { // duplicate a line
      const s = lines(b);
      const i = Math.floor(r() * s.length);
      s.splice(i, 0, s[i]);
      return enc.encode(s.join("\r\n"));
    }
    case 5: { // change the case of a header name
      const s = lines(b);
      const i = 1 + Math.floor(r() * Math.max(1, s.length - 1));
      if (i < s.length) {
        const colon = s[i].indexOf(":");
        if (colon > 0) {
          const name = s[i].slice(0, colon);
          s[i] = (r() < 0.5 ? name.toUpperCase() : name.toLowerCase()) + s[i].slice(colon);
        }
      }
      return enc.encode(s.join("\r\n"));
    }
    case 6:
    case 7: { // inject a syntax-significant string
      const x = pick(INJECT);
      const c = new Uint8Array(n + x.length);
      c.set(b.subarray(0, at));
      c.set(x, at);
      c.set(b.subarray(at), at + x.length);
      return c;
    }
    default: { // overwrite a run with random printable ASCII
      const c = b.slice();
      const len = 1 + Math.floor(r() * 8);
      for (let i = at; i < Math.min(n, at + len); i++) c[i] = 32 + Math.floor(r() * 95);
      return c;
    }
  }
}

// Latin-1 view so any byte sequence splits into lines without a decoding failure.
const latin1 = new TextDecoder("latin1");
function lines(b: Uint8Array): string[] {
  return latin1.decode(b).split("\r\n");
}

function randomBytes(r: () => number): Uint8Array {
  const c = new Uint8Array(Math.floor(r() * 300));
  for (let i = 0; i < c.length; i++) c[i] = Math.floor(r() * 256);
  return c;
}

/** Run `f`; anything thrown must be a SipParseError. */
function onlyParseErrors(what: string, input: Uint8Array, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof SipParseError)) {
      throw new Error(`${what} threw ${e} for input ${JSON.stringify(latin1.decode(input))}`);
    }
  }
}

function fields(m: SipMessage): unknown {
  return {
    start: m instanceof SipRequest
      ? [m.method, m.uri]
      : [(m as SipResponse).status, (m as SipResponse).reason],
    headers: m.headers.filter((h) => h.key !== "content-length").map((h) => [h.key, h.value]),
    body: Array.from(m.body),
  };
}

/** Every property a parsed message must keep, for one input. */
function check(input: Uint8Array): boolean {
  let m: SipMessage;
  try {
    m = parseMessage(input);
  } catch (e) {
    if (e instanceof SipParseError) return false;
    throw new Error(`parseMessage threw ${e} for input ${JSON.stringify(latin1.decode(input))}`);
  }
  const reads: [string, () => unknown][] = [
    ["vias", () => m.vias.map((v) => [v.branch, v.rport, v.received, v.sentBy, String(v)])],
    ["topVia", () => m.topVia],
    ["from", () => [m.from.tag, String(m.from)]],
    ["to", () => [m.to.tag, String(m.to)]],
    ["contacts", () => m.contacts.map(String)],
    ["routes", () => m.routes.map(String)],
    ["recordRoutes", () => m.recordRoutes.map(String)],
    ["cseq", () => m.cseq],
    ["callId", () => m.callId],
    ["maxForwards", () => m.maxForwards],
    ["checkMessage", () => checkMessage(m)],
    ["ruri", () => m instanceof SipRequest ? [String(m.ruri), m.ruri.transport] : 0],
  ];
  for (const h of m.headers) reads.push([`getAll(${h.name})`, () => m.getAll(h.name)]);
  for (const [what, f] of reads) onlyParseErrors(what, input, f);
  const out = serialize(m); // must not throw
  const again = parseMessage(out);
  assert.deepEqual(
    fields(again),
    fields(m),
    `round trip of ${JSON.stringify(latin1.decode(input))}`,
  );
  return true;
}

Deno.test("RFC 3261 §7: fuzzed torture corpus and random bytes raise only SipParseError", () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? (Date.now() % 0x7fffffff));
  const count = Number(Deno.env.get("FUZZ_COUNT") ?? 100_000);
  console.log(`fuzz: FUZZ_SEED=${seed} FUZZ_COUNT=${count}`);
  const r = prng(seed);
  const corpus = loadCorpus();
  let parsed = 0;
  let slowest = 0;
  for (let i = 0; i < count; i++) {
    let input: Uint8Array;
    if (i % 20 === 19) input = randomBytes(r);
    else {
      input = corpus[Math.floor(r() * corpus.length)];
      const rounds = 1 + Math.floor(r() * 3);
      for (let k = 0; k < rounds; k++) input = mutate(input, r);
    }
    const t0 = performance.now();
    if (check(input)) parsed++;
    const ms = performance.now() - t0;
    if (ms > slowest) slowest = ms;
    // A hang guard, not a speed check: linear parsing of 64 KB takes well under a millisecond,
    // so seconds mean catastrophic backtracking or a loop that does not advance.
    assert.ok(ms < 2000, `input ${i} took ${ms} ms (seed ${seed})`);
  }
  console.log(`fuzz: ${count} inputs, ${parsed} parsed, slowest ${slowest.toFixed(1)} ms`);
  // The mutations must leave many messages parseable, or the accessors go untested.
  assert.ok(parsed > count / 20, `only ${parsed} of ${count} inputs parsed`);
});

Deno.test("RFC 3261 §7: pathological 60 KB inputs are processed, only SipParseError", () => {
  const head = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n";
  for (const fill of [";", '"', "\\", "<", ",", " ", "%", "a;", "\r\n ", "[", "@", "=;"]) {
    for (const header of ["To: ", "Via: SIP/2.0/UDP h", "Contact: <sip:a@b>", "X: "]) {
      const body = fill.repeat(Math.floor(60_000 / fill.length));
      const input = enc.encode(`${head}${header}${body}\r\n\r\n`);
      check(input);
      check(enc.encode(`INVITE sip:${body} SIP/2.0\r\n\r\n`));
    }
  }
});

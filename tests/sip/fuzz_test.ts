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
import { latin1, mutate } from "./mutate.ts";
import { prng } from "../util/prng.ts";

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

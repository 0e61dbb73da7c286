// RFC 1035 §4 message encoding and decoding over hand-built packets: the record types RFC 3263
// needs, name compression (§4.1.4), RFC 2308 negative TTLs, and hostile packets, which must all
// end in a DnsError.

import assert from "node:assert/strict";
import {
  decodeResponse,
  DnsError,
  encodeQuery,
  ipv6Text,
  TYPE_CODE,
} from "../../../src/transport/dns/wire.ts";

/** A name as uncompressed labels, root included. */
function name(text: string): number[] {
  const out: number[] = [];
  for (const label of text.split(".").filter((l) => l !== "")) {
    out.push(label.length, ...Array.from(label, (c) => c.charCodeAt(0)));
  }
  return [...out, 0];
}
const ptr = (off: number) => [0xc0 | (off >> 8), off & 0xff];
const u16 = (n: number) => [n >> 8, n & 0xff];
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const str = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];

/** Header: id 0xbeef, QR RD RA set, plus `flags`; counts qd, an, ns, ar. */
function header(counts: [number, number, number, number], flags = 0): number[] {
  return [...u16(0xbeef), ...u16(0x8180 | flags), ...counts.flatMap(u16)];
}
/** A resource record of class IN. */
function rr(owner: number[], type: number, ttl: number, rdata: number[]): number[] {
  return [...owner, ...u16(type), ...u16(1), ...u32(ttl), ...u16(rdata.length), ...rdata];
}
const packet = (...parts: number[][]) => new Uint8Array(parts.flat());
/** The question at offset 12: `qname` with `type`, class IN. */
const question = (qname: string, type: number) => [...name(qname), ...u16(type), ...u16(1)];

function assertMalformed(buf: Uint8Array, what: string): void {
  assert.throws(
    () => decodeResponse(buf),
    (e) => e instanceof DnsError && e.code === "EMALFORMED",
    what,
  );
}

Deno.test("wire: encodeQuery writes RD, one IN question and an EDNS0 OPT for 1232 bytes", () => {
  const got = encodeQuery(0x1234, "_sip._udp.Carrier.test", "SRV");
  const want = [
    ...[0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1],
    ...[4, 0x5f, 0x73, 0x69, 0x70, 4, 0x5f, 0x75, 0x64, 0x70],
    ...[7, 0x43, 0x61, 0x72, 0x72, 0x69, 0x65, 0x72, 4, 0x74, 0x65, 0x73, 0x74, 0],
    ...[0, 33, 0, 1],
    ...[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0],
  ];
  assert.deepEqual([...got], want);
  // A trailing dot names the same node.
  assert.deepEqual(encodeQuery(0x1234, "_sip._udp.Carrier.test.", "SRV"), got);
  const back = decodeResponse(got);
  assert.equal(back.id, 0x1234);
  assert.equal(back.isResponse, false);
  assert.deepEqual(back.question, { name: "_sip._udp.carrier.test", type: TYPE_CODE.SRV });
  assert.deepEqual(back.answers, []);
  assert.deepEqual(back.additionals, [], "the OPT record is not a record the caller sees");
});

Deno.test("wire: encodeQuery rejects names RFC 1035 §2.3.4 cannot carry", () => {
  const l63 = "a".repeat(63);
  const n253 = [l63, l63, l63, "a".repeat(61)].join(".");
  assert.equal(n253.length, 253);
  assert.equal(encodeQuery(1, n253, "A").length, 12 + 255 + 4 + 11);
  const bad = [
    `${l63}b.test`,
    n253 + "a",
    "",
    ".",
    "a..test",
    ".a.test",
    "a.test..",
    "bücher.test",
    "a b.test",
    "a\r\n.test",
  ];
  for (const n of bad) {
    assert.throws(
      () => encodeQuery(1, n, "A"),
      (e) => e instanceof DnsError && e.code === "EBADNAME",
      JSON.stringify(n),
    );
  }
});

Deno.test("wire: A and AAAA answers, owners compressed to the question", () => {
  const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
  const buf = packet(
    header([1, 3, 0, 1]),
    question("A.Carrier.TEST", 1),
    rr(ptr(12), 1, 30, [192, 0, 2, 7]),
    rr(ptr(12), 28, 30, v6),
    rr(ptr(12), 16, 30, str("a TXT record is skipped")),
    rr(name("b.carrier.test"), 1, 0x80000001, [10, 0, 0, 1]),
  );
  const res = decodeResponse(buf);
  assert.equal(res.id, 0xbeef);
  assert.equal(res.isResponse, true);
  assert.equal(res.rcode, 0);
  assert.equal(res.truncated, false);
  assert.deepEqual(res.question, { name: "a.carrier.test", type: 1 });
  assert.deepEqual(res.answers, [
    { name: "a.carrier.test", ttl: 30, type: "A", address: "192.0.2.7" },
    { name: "a.carrier.test", ttl: 30, type: "AAAA", address: "2001:db8::5" },
  ]);
  // RFC 2181 §8: a TTL with the top bit set counts as zero.
  assert.deepEqual(res.additionals, [
    { name: "b.carrier.test", ttl: 0, type: "A", address: "10.0.0.1" },
  ]);
  assert.equal(res.negativeTtl, undefined);
});

Deno.test("wire: IPv6 text is RFC 5952 (lowercase, longest zero run, first on a tie)", () => {
  const text = (...g: number[]) => ipv6Text(new Uint8Array(g.flatMap(u16)));
  assert.equal(text(0, 0, 0, 0, 0, 0, 0, 1), "::1");
  assert.equal(text(0, 0, 0, 0, 0, 0, 0, 0), "::");
  assert.equal(text(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), "2001:db8::");
  assert.equal(text(0x2001, 0xdb8, 0, 1, 0, 0, 0, 1), "2001:db8:0:1::1");
  assert.equal(text(1, 0, 0, 1, 0, 0, 1, 1), "1::1:0:0:1:1");
  assert.equal(text(1, 0, 2, 3, 4, 5, 6, 7), "1:0:2:3:4:5:6:7");
  assert.equal(text(0xfe80, 0, 0, 0, 0xabcd, 0xef, 0x1234, 0xffff), "fe80::abcd:ef:1234:ffff");
  assert.equal(text(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201), "::ffff:192.0.2.1");
});

Deno.test("wire: SRV (RFC 2782) with a target compressed to a suffix, and '.' as none", () => {
  // The question's "carrier.test" starts at 12 + 5 + 5 = 22.
  const buf = packet(
    header([1, 2, 0, 0]),
    question("_sip._udp.carrier.test", 33),
    rr(ptr(12), 33, 60, [...u16(10), ...u16(60), ...u16(5081), 1, 0x61, ...ptr(22)]),
    rr(ptr(12), 33, 60, [...u16(0), ...u16(0), ...u16(0), 0]),
  );
  assert.deepEqual(decodeResponse(buf).answers, [
    {
      name: "_sip._udp.carrier.test",
      ttl: 60,
      type: "SRV",
      priority: 10,
      weight: 60,
      port: 5081,
      target: "a.carrier.test",
    },
    {
      name: "_sip._udp.carrier.test",
      ttl: 60,
      type: "SRV",
      priority: 0,
      weight: 0,
      port: 0,
      target: "",
    },
  ]);
});

Deno.test("wire: NAPTR (RFC 3403) strings and a compressed replacement", () => {
  const buf = packet(
    header([1, 2, 0, 0]),
    question("carrier.test", 35),
    rr(ptr(12), 35, 300, [
      ...u16(10),
      ...u16(50),
      ...str("S"),
      ...str("SIP+D2U"),
      ...str(""),
      4,
      ...Array.from("_sip", (c) => c.charCodeAt(0)),
      4,
      ...Array.from("_udp", (c) => c.charCodeAt(0)),
      ...ptr(12),
    ]),
    rr(ptr(12), 35, 300, [
      ...u16(20),
      ...u16(10),
      ...str("u"),
      ...str("E2U+sip"),
      ...str("!^.*$!sip:info@carrier.test!"),
      0,
    ]),
  );
  assert.deepEqual(decodeResponse(buf).answers, [
    {
      name: "carrier.test",
      ttl: 300,
      type: "NAPTR",
      order: 10,
      preference: 50,
      flags: "S",
      service: "SIP+D2U",
      regexp: "",
      replacement: "_sip._udp.carrier.test",
    },
    {
      name: "carrier.test",
      ttl: 300,
      type: "NAPTR",
      order: 20,
      preference: 10,
      flags: "u",
      service: "E2U+sip",
      regexp: "!^.*$!sip:info@carrier.test!",
      replacement: "",
    },
  ]);
});

Deno.test("wire: a CNAME chain whose names point into earlier RDATA", () => {
  // Question "alias.carrier.test" at 12; "carrier.test" at 18.
  const q = question("alias.carrier.test", 1);
  const first = 12 + q.length; // first answer's owner
  // First answer: owner ptr(12), then 10 bytes of fixed fields; RDATA at first + 12.
  const rdata1 = first + 12;
  const buf = packet(
    header([1, 3, 0, 0]),
    q,
    rr(ptr(12), 5, 300, [3, 0x6d, 0x69, 0x64, ...ptr(18)]), // mid.carrier.test
    rr(ptr(rdata1), 5, 120, [3, 0x65, 0x6e, 0x64, ...ptr(18)]), // end.carrier.test
    rr([3, 0x65, 0x6e, 0x64, ...ptr(18)], 1, 30, [127, 0, 0, 1]),
  );
  assert.deepEqual(decodeResponse(buf).answers, [
    { name: "alias.carrier.test", ttl: 300, type: "CNAME", target: "mid.carrier.test" },
    { name: "mid.carrier.test", ttl: 120, type: "CNAME", target: "end.carrier.test" },
    { name: "end.carrier.test", ttl: 30, type: "A", address: "127.0.0.1" },
  ]);
});

Deno.test("wire: RFC 2308 §5 negative TTL is min(SOA TTL, SOA MINIMUM)", () => {
  const soa = (ttl: number, minimum: number) =>
    rr(ptr(12), 6, ttl, [
      ...name("ns.carrier.test"),
      ...name("hostmaster.carrier.test"),
      ...u32(1),
      ...u32(1200),
      ...u32(180),
      ...u32(1209600),
      ...u32(minimum),
    ]);
  const opt = [0, ...u16(41), ...u16(1232), ...u32(0), ...u16(0)];
  const nx = decodeResponse(
    packet(header([1, 0, 1, 1], 3), question("carrier.test", 1), soa(900, 60), opt),
  );
  assert.equal(nx.rcode, 3);
  assert.equal(nx.negativeTtl, 60);
  assert.deepEqual(nx.answers, []);
  assert.deepEqual(nx.additionals, []);
  const nodata = decodeResponse(
    packet(header([1, 0, 1, 0]), question("carrier.test", 28), soa(45, 3600)),
  );
  assert.equal(nodata.negativeTtl, 45);
  // An SOA among the answers (a query of type SOA) is not a negative answer.
  const answered = decodeResponse(
    packet(header([1, 1, 0, 0]), question("carrier.test", 6), soa(45, 5)),
  );
  assert.equal(answered.negativeTtl, undefined);
  assert.deepEqual(answered.answers, []);
});

Deno.test("wire: TC set gives truncated and leaves the cut record sections alone", () => {
  const buf = packet(
    header([1, 2, 0, 0], 0x0200),
    question("carrier.test", 35),
    [0xc0, 12, 0, 35, 0, 1], // the first answer, cut short
  );
  const res = decodeResponse(buf);
  assert.equal(res.truncated, true);
  assert.deepEqual(res.answers, []);
  assert.deepEqual(res.question, { name: "carrier.test", type: 35 });
});

Deno.test("wire: malformed packets throw DnsError EMALFORMED", () => {
  const q = question("a.test", 1);
  const a = (owner: number[]) => rr(owner, 1, 30, [1, 2, 3, 4]);
  assertMalformed(new Uint8Array(0), "empty");
  assertMalformed(new Uint8Array(11), "header of 11 bytes");
  assertMalformed(packet(header([1, 0, 0, 0]), name("a.test"), [0, 1]), "question without class");
  assertMalformed(packet(header([1, 0, 0, 0]), [6, 0x61, 0x62]), "label past the end");
  assertMalformed(packet(header([1, 0, 0, 0]), [1, 0x61]), "name without its root");
  assertMalformed(packet(header([1, 1, 0, 0]), q, a(ptr(0x3fff))), "pointer out of bounds");
  assertMalformed(packet(header([1, 1, 0, 0]), q, [0xc0]), "pointer cut in half");
  assertMalformed(packet(header([1, 1, 0, 0]), q, a(ptr(12 + q.length))), "pointer to itself");
  // Two pointers pointing at each other.
  const loopAt = 12 + q.length;
  assertMalformed(
    packet(header([1, 1, 0, 0]), q, [...ptr(loopAt + 2), ...ptr(loopAt)]),
    "two-pointer loop",
  );
  // A label then a pointer back to it: each turn grows the name until a limit stops it.
  assertMalformed(
    packet(header([1, 1, 0, 0]), q, [3, 0x61, 0x62, 0x63, ...ptr(loopAt)]),
    "a loop that grows the name",
  );
  assertMalformed(packet(header([1, 0, 0, 0]), [0x40, 0]), "reserved label type 01");
  assertMalformed(packet(header([1, 0, 0, 0]), [0x80, 0]), "reserved label type 10");
  const long = Array.from({ length: 5 }, () => [63, ...new Array(63).fill(0x61)]).flat();
  assertMalformed(packet(header([1, 0, 0, 0]), long, [0], [0, 1, 0, 1]), "name over 255 bytes");
  // A type the decoder skips, so only the RDLENGTH check can catch it.
  const txt = [...ptr(12), ...u16(16), ...u16(1), ...u32(30), ...u16(8), 3, 0x61, 0x62, 0x63];
  const rdlenPastEnd = packet(header([1, 1, 0, 0]), q, txt);
  assertMalformed(rdlenPastEnd, "RDLENGTH past the end");
  assertMalformed(packet(header([1, 1, 0, 0]), q, ptr(12), u16(1)), "record header cut");
  assertMalformed(packet(header([1, 1, 0, 0]), q, rr(ptr(12), 1, 30, [1, 2, 3])), "A of 3 bytes");
  assertMalformed(packet(header([1, 1, 0, 0]), q, rr(ptr(12), 28, 30, [1, 2, 3, 4])), "AAAA of 4");
  assertMalformed(
    packet(header([1, 1, 0, 0]), q, rr(ptr(12), 5, 30, [3, 0x61, 0x62])),
    "CNAME target past its RDATA",
  );
  assertMalformed(
    packet(header([1, 1, 0, 0]), q, rr(ptr(12), 33, 30, [0, 1, 0, 1, 0x13, 0xc4, 1, 0x61])),
    "SRV target without root inside RDATA",
  );
  assertMalformed(
    packet(header([1, 1, 0, 0]), q, rr(ptr(12), 35, 30, [0, 1, 0, 1, 9, 0x61, 0, 0, 0])),
    "NAPTR string past its RDATA",
  );
  assertMalformed(packet(header([1, 2, 0, 0]), q, a(ptr(12))), "fewer answers than ANCOUNT");
});

/** xorshift32: the same "random" packets on every run, so a failure can be replayed. */
function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

Deno.test("wire: mutated and cut packets decode or throw DnsError, nothing else", () => {
  const base = packet(
    header([1, 3, 0, 1]),
    question("_sip._udp.carrier.test", 33),
    rr(ptr(12), 33, 60, [...u16(10), ...u16(60), ...u16(5081), 1, 0x61, ...ptr(22)]),
    rr(ptr(12), 5, 60, [1, 0x62, ...ptr(22)]),
    rr(ptr(12), 35, 60, [...u16(1), ...u16(2), ...str("s"), ...str("SIP+D2U"), ...str(""), 0]),
    rr([1, 0x61, ...ptr(22)], 28, 60, new Array(16).fill(1)),
  );
  const random = prng(0x5eed);
  let decoded = 0;
  let rejected = 0;
  const attempt = (buf: Uint8Array) => {
    try {
      decodeResponse(buf);
      decoded++;
    } catch (e) {
      if (!(e instanceof DnsError)) throw new Error(`not a DnsError for ${buf}: ${e}`);
      rejected++;
    }
  };
  for (let len = 0; len < base.length; len++) attempt(base.subarray(0, len));
  for (let i = 0; i < 20_000; i++) {
    const buf = base.slice();
    const flips = 1 + Math.floor(random() * 4);
    for (let f = 0; f < flips; f++) {
      buf[Math.floor(random() * buf.length)] = Math.floor(random() * 256);
    }
    attempt(buf);
  }
  assert.ok(decoded > 100 && rejected > 100, `decoded ${decoded}, rejected ${rejected}`);
});

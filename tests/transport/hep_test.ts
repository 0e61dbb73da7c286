// HEPv3 packets, read back chunk by chunk here (the format as the spec gives it, not through the
// encoder's own code), and IP literals to bytes.

import assert from "node:assert/strict";
import { encodeHep, ipBytes } from "../../src/transport/mod.ts";

/** Chunks of a HEPv3 packet by type; checks the header and that the lengths add up. */
function chunks(pkt: Uint8Array): Map<number, Uint8Array> {
  const view = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  assert.equal(new TextDecoder().decode(pkt.subarray(0, 4)), "HEP3");
  assert.equal(view.getUint16(4), pkt.length, "total length");
  const out = new Map<number, Uint8Array>();
  let at = 6;
  while (at < pkt.length) {
    assert.equal(view.getUint16(at), 0, "generic vendor");
    const type = view.getUint16(at + 2);
    const len = view.getUint16(at + 4);
    assert.ok(len >= 6 && at + len <= pkt.length, `chunk ${type} length ${len}`);
    out.set(type, pkt.subarray(at + 6, at + len));
    at += len;
  }
  assert.equal(at, pkt.length);
  return out;
}

const num = (b: Uint8Array) => b.reduce((n, x) => n * 256 + x, 0);
const SIP = new TextEncoder().encode("OPTIONS sip:192.0.2.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n");

Deno.test("hep: an IPv4 capture carries family, protocol, addresses, ports, time, agent, key and payload", () => {
  const pkt = encodeHep({
    src: { host: "192.0.2.33", port: 5071 },
    dst: { host: "198.51.100.7", port: 5060 },
    protocol: "udp",
    timeMs: 1_764_900_000_123.5,
    agentId: 2001,
    password: "s3cret",
    payload: SIP,
  })!;
  const c = chunks(pkt);
  assert.equal(num(c.get(1)!), 2, "AF_INET");
  assert.equal(num(c.get(2)!), 17, "UDP");
  assert.deepEqual([...c.get(3)!], [192, 0, 2, 33]);
  assert.deepEqual([...c.get(4)!], [198, 51, 100, 7]);
  assert.equal(num(c.get(7)!), 5071);
  assert.equal(num(c.get(8)!), 5060);
  assert.equal(num(c.get(9)!), 1_764_900_000);
  assert.equal(num(c.get(10)!), 123_500, "microseconds past the second");
  assert.equal(num(c.get(11)!), 1, "SIP");
  assert.equal(num(c.get(12)!), 2001);
  assert.equal(new TextDecoder().decode(c.get(14)), "s3cret");
  assert.deepEqual(c.get(15), SIP);
  assert.equal(c.has(17), false, "no correlation chunk unless given");
});

Deno.test("hep: the correlation id (the caller's Call-ID of a call's legs) as chunk 0x0011", () => {
  const pkt = encodeHep({
    src: { host: "192.0.2.33", port: 5071 },
    dst: { host: "198.51.100.7", port: 5060 },
    protocol: "udp",
    timeMs: 0,
    agentId: 1,
    payload: SIP,
    correlationId: "a84b4c76e66710@pc33.atlanta.com",
  })!;
  const c = chunks(pkt);
  assert.equal(new TextDecoder().decode(c.get(0x11)), "a84b4c76e66710@pc33.atlanta.com");
  assert.deepEqual(c.get(15), SIP);
});

Deno.test("hep: IPv6 over TCP; no key chunk without a password; nothing for names or mixed families", () => {
  const pkt = encodeHep({
    src: { host: "2001:db8::1", port: 5060 },
    dst: { host: "::ffff:192.0.2.1", port: 5062 },
    protocol: "tls",
    timeMs: 0,
    agentId: 7,
    payload: SIP,
  })!;
  const c = chunks(pkt);
  assert.equal(num(c.get(1)!), 10, "AF_INET6");
  assert.equal(num(c.get(2)!), 6, "TCP");
  assert.equal(c.get(5)!.length, 16);
  assert.deepEqual([...c.get(6)!.subarray(10)], [255, 255, 192, 0, 2, 1]);
  assert.equal(c.has(14), false);
  const base = { timeMs: 0, agentId: 1, protocol: "udp" as const, payload: SIP };
  assert.equal(
    encodeHep({
      ...base,
      src: { host: "a.example", port: 1 },
      dst: { host: "192.0.2.1", port: 1 },
    }),
    undefined,
  );
  assert.equal(
    encodeHep({ ...base, src: { host: "::1", port: 1 }, dst: { host: "192.0.2.1", port: 1 } }),
    undefined,
  );
  assert.equal(
    encodeHep({
      ...base,
      src: { host: "::1", port: 1 },
      dst: { host: "::1", port: 1 },
      payload: new Uint8Array(70_000),
    }),
    undefined,
    "too large for one packet",
  );
});

Deno.test("hep: IP literals to bytes", () => {
  assert.deepEqual([...ipBytes("10.1.2.3")!], [10, 1, 2, 3]);
  assert.deepEqual([...ipBytes("[::1]")!], [...Array(15).fill(0), 1]);
  assert.deepEqual([...ipBytes("1:2:3:4:5:6:7:8")!], [
    0,
    1,
    0,
    2,
    0,
    3,
    0,
    4,
    0,
    5,
    0,
    6,
    0,
    7,
    0,
    8,
  ]);
  assert.deepEqual([...ipBytes("fe80::1%eth0")!].slice(0, 2), [0xfe, 0x80]);
  for (const bad of ["1.2.3", "1.2.3.256", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "host"]) {
    assert.equal(ipBytes(bad), undefined, bad);
  }
});

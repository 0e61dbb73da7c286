import assert from "node:assert/strict";
import {
  addressSlot,
  AF_INET,
  AF_INET6,
  BatchPacker,
  RECORD_HEAD,
} from "../../src/transport/udp-batch.ts";

Deno.test("addressSlot: sockaddr_in for IPv4 on an IPv4 socket", () => {
  const s = addressSlot("192.0.2.7", 4)!;
  const v = new DataView(s.buffer);
  assert.equal(v.getUint16(0, true), AF_INET);
  assert.deepEqual([...s.subarray(4, 8)], [192, 0, 2, 7]);
});

Deno.test("addressSlot: IPv4 on an IPv6 socket is v4-mapped; IPv6 as is", () => {
  const m = addressSlot("127.0.0.1", 6)!;
  assert.equal(new DataView(m.buffer).getUint16(0, true), AF_INET6);
  assert.deepEqual([...m.subarray(8, 24)], [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0xff,
    0xff,
    127,
    0,
    0,
    1,
  ]);
  const six = addressSlot("2001:db8::1", 6)!;
  assert.deepEqual([...six.subarray(8, 12)], [0x20, 0x01, 0x0d, 0xb8]);
  assert.equal(six[23], 1);
});

Deno.test("addressSlot: what the kernel could not take is refused", () => {
  assert.equal(addressSlot("2001:db8::1", 4), undefined, "IPv6 on an IPv4 socket");
  assert.equal(addressSlot("fe80::1%eth0", 6), undefined, "a zone");
  assert.equal(addressSlot("example.com", 4), undefined, "a name");
});

Deno.test("BatchPacker: records of length, address with port, and bytes, in order", () => {
  const p = new BatchPacker(4);
  const a = new Uint8Array([1, 2, 3]);
  const b = new Uint8Array([9]);
  const buf = p.pack([a, 5060, "10.0.0.1", b, 5070, "10.0.0.2"])!;
  assert.equal(buf.byteLength, 2 * RECORD_HEAD + 4);
  const v = new DataView(buf);
  const u = new Uint8Array(buf);
  assert.equal(v.getUint32(0, true), 3);
  assert.equal(v.getUint16(4, true), AF_INET);
  assert.equal(v.getUint16(6, false), 5060);
  assert.deepEqual([...u.subarray(8, 12)], [10, 0, 0, 1]);
  assert.deepEqual([...u.subarray(RECORD_HEAD, RECORD_HEAD + 3)], [1, 2, 3]);
  const r2 = RECORD_HEAD + 3;
  assert.equal(v.getUint32(r2, true), 1);
  assert.equal(v.getUint16(r2 + 6, false), 5070);
  assert.equal(u[r2 + 11], 2);
  assert.equal(u[r2 + RECORD_HEAD], 9);
});

Deno.test("BatchPacker: a batch with a host it cannot pack is not packed at all", () => {
  const p = new BatchPacker(4);
  assert.equal(
    p.pack([new Uint8Array(1), 5060, "10.0.0.1", new Uint8Array(1), 5060, "::1"]),
    undefined,
  );
});

// Lingering transactions keep one address object per UDP peer (src/transaction/shared-endpoints.ts).

import assert from "node:assert/strict";
import { SharedEndpoints } from "../../src/transaction/shared-endpoints.ts";
import type { ServerTransaction } from "../../src/transaction/mod.ts";
import type { Endpoint } from "../../src/transport/types.ts";
import { reply, request, setup } from "./fake-transport.ts";

Deno.test("shared endpoints: one object per UDP address, streams and named peers kept as they came", () => {
  const t = new SharedEndpoints();
  const a = t.of({ protocol: "udp", host: "192.0.2.1", port: 5060 });
  assert.equal(t.of({ protocol: "udp", host: "192.0.2.1", port: 5060 }), a);
  assert.deepEqual(a, { protocol: "udp", host: "192.0.2.1", port: 5060 });
  assert.notEqual(t.of({ protocol: "udp", host: "192.0.2.1", port: 5062 }), a);
  const tcp: Endpoint = { protocol: "tcp", host: "192.0.2.1", port: 5060 };
  assert.equal(t.of(tcp), tcp);
  const named: Endpoint = { protocol: "udp", host: "192.0.2.1", port: 5060, serverName: "x" };
  assert.equal(t.of(named), named);
  assert.equal(t.size, 2);
});

Deno.test("shared endpoints: bounded under a flood of sources", () => {
  const t = new SharedEndpoints();
  for (let i = 0; i < 10_000; i++) {
    t.of({ protocol: "udp", host: `10.0.${i >> 8}.${i & 255}`, port: 5060 });
  }
  assert.ok(t.size <= 4096, `${t.size} addresses held`);
  for (let p = 0; p < 100; p++) t.of({ protocol: "udp", host: "192.0.2.9", port: 6000 + p });
  const odd: Endpoint = { protocol: "udp", host: "192.0.2.9", port: 7000 };
  assert.equal(t.of(odd), odd, "past 64 ports a host's addresses are kept as they came");
});

Deno.test("layer: lingering server transactions from one peer share its address", () => {
  const { layer, user } = setup();
  const txs: ServerTransaction[] = [];
  user.onNew = (_req, t) => txs.push(t);
  for (const b of ["z9hG4bKs1", "z9hG4bKs2"]) {
    const bye = request("BYE", b, { toTag: "tb" }); // in a dialog: no merge check
    // Each datagram comes with its own source object, as from a socket.
    layer.receiveRequest(bye, { protocol: "udp", host: "192.0.2.7", port: 5070 });
    txs.at(-1)!.respond(reply(bye, 200, "tb"));
  }
  assert.equal(txs[0].source, txs[1].source);
  assert.deepEqual(txs[0].source, { protocol: "udp", host: "192.0.2.7", port: 5070 });
});

// Finished transactions wait out Timer J outside the live maps (src/transaction/linger.ts), on the
// process's real clock and timer wheel: through the binary, a retransmitted request still gets
// the very response it got, until Timer J; after it the same request is new again. With
// `t1: 100ms` Timer J is 6.4 s, so the test sees both sides of it.

import assert from "node:assert/strict";
import {
  binaryAvailable,
  buildOptions,
  freePort,
  freeUdpPort,
  headerOf,
  metricValue,
  recvWithin,
  sleep,
  startTandem,
} from "./harness.ts";

const dec = new TextDecoder();

Deno.test({
  name:
    "linger: a retransmitted OPTIONS gets the same 200 until Timer J (6.4 s at t1 100ms), then is a new request",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const [sip, http, local] = [freePort(), freePort(), freeUdpPort()];
    await using tandem = await startTandem({
      binary: binaryAvailable(),
      config: `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
  timers: { t1: 100ms, t2: 400ms }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
`,
    });
    const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: local });
    try {
      const options = buildOptions("127.0.0.1", sip, "udp", { host: "127.0.0.1", port: local });
      const ask = async () => {
        const sentAt = performance.now();
        await sock.send(new TextEncoder().encode(options), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: sip,
        });
        const got = await recvWithin(sock, 2000);
        assert.ok(got, "no answer to the OPTIONS");
        return { raw: dec.decode(got[0]), sentAt };
      };
      const first = await ask();
      assert.match(first.raw, /^SIP\/2\.0 200 /);
      const tag = /;tag=([^;>\s]+)/.exec(headerOf(first.raw, "to")!)?.[1];
      assert.ok(tag, "the 200 has a To tag");
      const lingering = 'tandem_transactions_active{kind="server_non_invite"}';

      await sleep(2000);
      assert.equal(
        await metricValue(http, lingering),
        1,
        "the finished transaction is still counted",
      );
      const again = await ask();
      assert.equal(again.raw, first.raw, "2 s later: the same 200, byte for byte (Timer J runs)");

      await sleep(Math.max(0, first.sentAt + 7500 - performance.now()));
      const after = await ask();
      const tag2 = /;tag=([^;>\s]+)/.exec(headerOf(after.raw, "to")!)?.[1];
      assert.match(after.raw, /^SIP\/2\.0 200 /);
      assert.notEqual(tag2, tag, "after Timer J the same request is answered as a new one");
      const { stdout, stderr } = await tandem.logs();
      assert.ok(!/"level":"(error|fatal)"/.test(stdout + stderr), "no error logged");
    } finally {
      sock.close();
    }
  },
});

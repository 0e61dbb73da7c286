// `sip.udp_send_thread: true` through the shipped binary: the send thread's module is found
// inside the executable (scripts/build.ts adds it as a second entry point), it starts, and
// calls go through with every datagram it sends: SIPp's built-in caller and callee, 300 calls
// at 100/s, none failed.

import assert from "node:assert/strict";
import {
  baseConfig,
  binaryAvailable,
  freePort,
  freeUdpPort,
  sippAvailable,
  sippUac,
  sippUas,
  startTandem,
  udpBound,
  waitFor,
} from "./harness.ts";

Deno.test({
  name: "udp send thread: the binary starts it and 300 SIPp calls go through it",
  ignore: !binaryAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [sip, http, callee] = [freePort(), freePort(), freeUdpPort()];
    await using tandem = await startTandem({
      binary: true,
      config: baseConfig(sip, http, "  udp_send_thread: true\n") + `rules:
  - name: callee
    match: {}
    routes:
      - { name: callee, target: "127.0.0.1:${callee}" }
`,
    });
    await waitFor(async () => /"event":"udp-send-thread/.test((await tandem.logs()).stderr), 5000, {
      what: "the send thread's start logged",
    }).catch(async (e) => {
      throw new Error(`${e.message}\n--- tandem log:\n${(await tandem.logs()).stderr}`);
    });
    const { stderr: started } = await tandem.logs();
    assert.ok(!/udp-send-thread-unavailable/.test(started), "the send thread is unavailable");

    const uas = sippUas(callee, 300);
    await waitFor(() => udpBound(callee), 5000, { what: `callee SIPp on ${callee}` });
    const uac = await sippUac(`127.0.0.1:${sip}`, { service: "callee", calls: 300, rate: 100 });
    const answered = await uas;
    assert.equal(uac.code, 0, `caller SIPp failed:\n${uac.stdout.slice(-1500)}`);
    assert.equal(answered.code, 0, `callee SIPp failed:\n${answered.stdout.slice(-1500)}`);
    const { stderr } = await tandem.logs();
    assert.ok(!/"level":"(error|fatal)"/.test(stderr), "no error logged");
  },
});

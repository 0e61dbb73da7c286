// Route health end to end, through the binary. Probing: the first route's server never answers
// (a socket bound by the test that reads and stays silent: a fake, since no real peer can be
// told to ignore OPTIONS yet hold its port). Probes find it down, /metrics and the log say so,
// and a call goes straight to the second route: the silent server never sees an INVITE.
// Quality: a SIPp carrier that fails every call with 503 is degraded by its ASR after
// `min_calls`, and the next calls go to the other route first.

import assert from "node:assert/strict";
import {
  binaryAvailable,
  freePort,
  freeUdpPort,
  metricValue,
  recvWithin,
  runSipp,
  sippAvailable,
  sippUac,
  startTandem,
  udpBound,
  waitFor,
} from "./harness.ts";

Deno.test({
  name:
    "probe: a route server that answers no OPTIONS is marked down and calls go straight to the next route",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [dead, live, sip, http] = [freeUdpPort(), freeUdpPort(), freePort(), freePort()];
    const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: dead });
    const heard: string[] = [];
    let listening = true;
    const reader = (async () => {
      while (listening) {
        const got = await recvWithin(silent, 200);
        if (got) heard.push(new TextDecoder().decode(got[0]).split("\r\n")[0]);
      }
    })();
    try {
      await using tandem = await startTandem({
        binary: binaryAvailable(),
        config: `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
rules:
  - routes:
      - name: dead
        target: "127.0.0.1:${dead}"
        probe: { interval: 1s, timeout: 500ms, down_after: 2 }
      - { name: live, target: "127.0.0.1:${live}" }
`,
      });
      const up = `tandem_route_server_up{route="dead",target="udp:127.0.0.1:${dead}"}`;
      await waitFor(async () => await metricValue(http, up) === 0, 8000, {
        what: "dead marked down",
      });
      assert.ok(heard.some((l) => l.startsWith("OPTIONS sip:127.0.0.1:")), heard.join("; "));
      assert.match((await tandem.logs()).stderr, /"event":"route-server-down"/);
      const routes = await (await fetch(`http://127.0.0.1:${http}/routes`)).json();
      assert.deepEqual(
        routes.map((r: { name: string; target: string; servers: { state: string }[] }) => [
          r.name,
          r.target,
          r.servers.map((s) => s.state),
        ]),
        [["dead", `udp:127.0.0.1:${dead}`, ["down"]], ["live", `udp:127.0.0.1:${live}`, []]],
      );

      const callee = runSipp(
        ["-sn", "uas", "-i", "127.0.0.1", "-p", String(live), "-m", "1", "-timeout", "20s"],
        { timeoutMs: 30_000 },
      );
      await waitFor(() => udpBound(live), 5000, { what: "callee SIPp" });
      const caller = await sippUac(`127.0.0.1:${sip}`);
      assert.equal(caller.code, 0, `caller: ${caller.stdout.slice(-1500)}`);
      assert.equal((await callee).code, 0);
      // Straight to the second route: the first was never tried (its server heard no INVITE).
      assert.ok(!heard.some((l) => l.startsWith("INVITE")), `the dead server heard ${heard}`);
      assert.equal(await metricValue(http, 'tandem_calls_total{outcome="answered"}'), 1);
      // The dead route's skip and the live route's answer are in each one's record.
      const after = await (await fetch(`http://127.0.0.1:${http}/routes`)).json();
      assert.deepEqual(
        after.map((r: { name: string; attempts: number; answered: number }) => [
          r.name,
          r.attempts,
          r.answered,
        ]),
        [["dead", 1, 0], ["live", 1, 1]],
      );
    } finally {
      listening = false;
      await reader;
      silent.close();
    }
  },
});

Deno.test({
  name: "quality: a carrier failing every call is degraded by its ASR after min_calls, and the " +
    "next calls try the other route first",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [flaky, good, sip, http] = [freeUdpPort(), freeUdpPort(), freePort(), freePort()];
    await using tandem = await startTandem({
      binary: binaryAvailable(),
      config: `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
rules:
  - routes:
      - name: flaky
        target: "127.0.0.1:${flaky}"
        quality: { window: 1m, min_calls: 3, min_asr: 50% }
      - { name: good, target: "127.0.0.1:${good}" }
`,
    });
    const scenarios = new URL("./scenarios/", import.meta.url).pathname;
    const failing = runSipp(
      [
        ...["-sf", `${scenarios}unavailable-uas.xml`, "-i", "127.0.0.1", "-p", String(flaky)],
        ...["-m", "3", "-timeout", "20s"],
      ],
      { timeoutMs: 30_000 },
    );
    const answering = runSipp(
      ["-sn", "uas", "-i", "127.0.0.1", "-p", String(good), "-m", "6", "-timeout", "20s"],
      { timeoutMs: 30_000 },
    );
    await waitFor(() => udpBound(flaky) && udpBound(good), 5000, { what: "callee SIPps" });
    const caller = await sippUac(`127.0.0.1:${sip}`, { calls: 6 });
    assert.equal(caller.code, 0, `caller: ${caller.stdout.slice(-1500)}`);
    assert.equal((await failing).code, 0, "the failing carrier saw exactly its 3 INVITEs");
    assert.equal((await answering).code, 0);
    const routes = await waitFor(
      async () => {
        const r = await (await fetch(`http://127.0.0.1:${http}/routes`)).json();
        return r[1].attempts === 6 ? r : undefined;
      },
      5000,
      { what: "six attempts on the good route" },
    );
    assert.deepEqual(
      routes.map((r: { name: string; attempts: number; answered: number }) => [
        r.name,
        r.attempts,
        r.answered,
      ]),
      [["flaky", 3, 0], ["good", 6, 6]],
    );
    // A 503 straight away: no provisional, so no post-dial delay to count.
    assert.deepEqual(routes[0].quality, { calls: 3, asr: 0, degraded: true });
    assert.equal(routes[1].quality, undefined, "no quality settings, no figures");
    assert.equal(await metricValue(http, 'tandem_route_degraded{route="flaky"}'), 1);
    assert.match((await tandem.logs()).stderr, /"event":"route-degraded"[^\n]*"route":"flaky"/);
  },
});

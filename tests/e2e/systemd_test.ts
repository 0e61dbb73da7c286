// systemd's notify protocol, end to end through the binary: a Unix datagram socket stands in for
// systemd's (NOTIFY_SOCKET; systemd itself cannot run here). Tandem says READY=1 once it takes
// calls, pings WATCHDOG=1 under WatchdogSec, and says STOPPING=1 when told to drain. The
// messages go out through the real systemd-notify.

import assert from "node:assert/strict";
import { SystemdNotifier } from "../../src/app/systemd.ts";
import { Logger } from "../../src/util/log.ts";
import { baseConfig, binaryAvailable, freePort, freeUdpPort, startTandem } from "./harness.ts";

Deno.test("systemd: the watchdog is this process's unless WATCHDOG_PID names another", () => {
  const log = new Logger("error", "json", () => {});
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.equal(SystemdNotifier.fromEnv(env({}), 42, log), undefined, "no NOTIFY_SOCKET: none");
  const on = SystemdNotifier.fromEnv(
    env({ NOTIFY_SOCKET: "/x", WATCHDOG_USEC: "30000000" }),
    42,
    log,
  );
  assert.equal(on?.watchdogMs, 30_000);
  const other = SystemdNotifier.fromEnv(
    env({ NOTIFY_SOCKET: "/x", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "7" }),
    42,
    log,
  );
  assert.equal(other?.watchdogMs, undefined);
  assert.equal(
    SystemdNotifier.fromEnv(env({ NOTIFY_SOCKET: "/x" }), 42, log)?.watchdogMs,
    undefined,
  );
});

Deno.test({
  name: "systemd: READY=1 once taking calls, WATCHDOG=1 under the watchdog, STOPPING=1 on SIGTERM",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-systemd-" });
    const path = `${dir}/notify.sock`;
    const sock = Deno.listenDatagram({ transport: "unixpacket", path });
    const got: string[] = [];
    const reading = (async () => {
      try {
        for (;;) {
          const [d] = await sock.receive();
          got.push(new TextDecoder().decode(d));
        }
      } catch { /* closed */ }
    })();
    const next = async (re: RegExp, ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const i = got.findIndex((m) => re.test(m));
        if (i >= 0) return got.splice(0, i + 1).at(-1)!;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no message matching ${re} within ${ms} ms; got ${JSON.stringify(got)}`);
    };
    const sip = freeUdpPort(), http = freePort();
    const tandem = await startTandem({
      config: baseConfig(sip, http),
      binary: binaryAvailable(),
      env: { NOTIFY_SOCKET: path, WATCHDOG_USEC: "1000000" },
    });
    try {
      assert.match(await next(/READY=1/, 5000), /^READY=1\nSTATUS=0 rules; taking calls$/);
      assert.match(await next(/WATCHDOG=1/, 3000), /^WATCHDOG=1\nSTATUS=0 calls up$/);
      await next(/WATCHDOG=1/, 3000); // and again, at half the interval
      const stopped = tandem.stop("SIGTERM", 15_000);
      assert.match(await next(/STOPPING=1/, 5000), /^STOPPING=1\nSTATUS=draining 0 calls$/);
      assert.equal((await stopped).code, 0);
    } finally {
      if (tandem.exitStatus() === null) await tandem.stop();
      sock.close();
      await reading;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

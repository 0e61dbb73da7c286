// config/examples/rtpengine.yaml loads and yields a pool of the rtpengine at 127.0.0.1:22222 for
// the catch-all route (no packet is sent: health probes run on manual timers).
import assert from "node:assert/strict";
import { loadConfigFile } from "../../src/config/load.ts";
import { createRelayPool } from "../../src/media/mod.ts";
import { ManualTimers } from "../../src/util/timer-queue.ts";

Deno.test("config example rtpengine.yaml: route media rtpengine, pool of 127.0.0.1:22222", async () => {
  const cfg = loadConfigFile(
    new URL("../../config/examples/rtpengine.yaml", import.meta.url).pathname,
  );
  const route = cfg.rules[0].routes[0];
  assert.deepEqual([route.host, route.port, route.media], ["127.0.0.1", 5090, "rtpengine"]);
  const pool = createRelayPool(cfg.media!, route.media as "rtpengine", {
    timers: new ManualTimers(),
  });
  assert.deepEqual(pool.status(), [{ relay: "127.0.0.1:22222", alive: true, weight: 1 }]);
  await pool.close();
});

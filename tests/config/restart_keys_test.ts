// A reload names what it cannot apply: the keys whose new values wait for a restart (listen
// addresses, workers, timers, logging, CDRs, RADIUS, media relays), and none for what it applies.

import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/mod.ts";
import { RESTART_KEYS, restartOnlyChanges } from "../../src/config/restart-keys.ts";

const base = `sip:
  listen: [{ address: 127.0.0.1, port: 5060, transports: [udp] }]
http: { listen: "127.0.0.1:8080" }
log: { level: info }
limits: { max_calls: 100 }
rules:
  - routes: [{ target: "192.0.2.10" }]
cdr: { dir: /tmp/cdr }
`;
const load = (text: string) => parseConfig(text, "t.yaml", "yaml", { env: {} });

Deno.test("restart keys: what a reload applies names nothing; what waits for a restart is named", () => {
  const running = load(base);
  assert.deepEqual(restartOnlyChanges(running, load(base)), []);
  // Rules, routes, limits and the SIP headers CDRs record are live.
  const live = base.replace("192.0.2.10", "192.0.2.11").replace("max_calls: 100", "max_calls: 5")
    .replace("dir: /tmp/cdr }", "dir: /tmp/cdr, sip_headers: [X-Account] }");
  assert.deepEqual(restartOnlyChanges(running, load(live)), []);
  const later = base
    .replace("port: 5060", "port: 5070")
    .replace("level: info", "level: debug")
    .replace("/tmp/cdr", "/tmp/cdr2")
    .replace("127.0.0.1:8080", "127.0.0.1:8081");
  assert.deepEqual(restartOnlyChanges(running, load(later)), [
    "sip.listen",
    "http.listen",
    "log",
    "cdr.dir",
  ]);
  // Turning a restart-only section on or off is named too.
  assert.deepEqual(
    restartOnlyChanges(running, load(base.replace("cdr: { dir: /tmp/cdr }\n", ""))),
    RESTART_KEYS.filter((k) => k.startsWith("cdr.") && k !== "cdr.webhook" && k !== "cdr.file"),
  );
  assert.ok(RESTART_KEYS.includes("sip.workers"));
  // A route that starts anchoring media on a relay kind no route used: its pool is made at start.
  const media = "media: { rtpengine: [{ address: 127.0.0.1, port: 22222 }] }\n";
  const relayed = load(base + media);
  assert.deepEqual(
    restartOnlyChanges(
      relayed,
      load(base.replace('"192.0.2.10" }', '"192.0.2.10", media: rtpengine }') + media),
    ),
    ["routes.media"],
  );
});

// config/examples/wholesale.yaml loads with its rate deck beside it, and routes as it says.

import assert from "node:assert/strict";
import { describeMatch } from "../../src/cli/match.ts";
import { loadConfigFile } from "../../src/config/mod.ts";

const FILE = new URL("../../config/examples/wholesale.yaml", import.meta.url).pathname;

Deno.test("config/examples/wholesale.yaml: local users, three carriers, the deck, a default route", () => {
  const cfg = loadConfigFile(FILE, { env: { ACME_PASSWORD: "a" } });
  assert.deepEqual(cfg.users, [{ username: "pbx-acme", password: "a" }]);
  assert.deepEqual(cfg.routes?.map((r) => r.name), ["carrier-a", "carrier-b", "carrier-c"]);
  assert.equal(cfg.rules[1].auth.mode, "local");
  const q = (number: string) => ({
    ruriUser: number,
    fromUser: "",
    sourceIp: "192.0.2.10",
    headers: [] as [string, string][],
  });
  const routes = (number: string) =>
    (describeMatch(cfg, q(number)).json.routes as { name: string }[]).map((r) => r.name);
  assert.deepEqual(routes("12125550100"), ["carrier-c"]);
  assert.deepEqual(routes("13125550100"), ["carrier-b", "carrier-a"]);
  assert.deepEqual(routes("447700900123"), ["carrier-c"]);
  assert.deepEqual(routes("33123456789"), ["default-carrier"]);
  assert.deepEqual(describeMatch(cfg, q("19005550100")).json.reject, {
    status: 403,
    reason: "Destination Blocked",
  });
});

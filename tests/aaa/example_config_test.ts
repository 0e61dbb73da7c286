// config/examples/radius.yaml loads and gives the RADIUS, CDR and digest settings it documents.

import assert from "node:assert/strict";
import { loadConfigFile } from "../../src/config/mod.ts";

Deno.test("config/examples/radius.yaml: digest auth, RADIUS 1812/1813, accounting, route to :5090", () => {
  const c = loadConfigFile(new URL("../../config/examples/radius.yaml", import.meta.url).pathname);
  assert.deepEqual(c.radius?.servers, [{
    address: "127.0.0.1",
    authPort: 1812,
    acctPort: 1813,
    secret: "testing123",
    timeout: 2000,
    retries: 2,
  }]);
  assert.equal(c.radius?.digestStyle, "draft-sterman");
  assert.equal(c.cdr?.radius, true);
  assert.deepEqual(c.rules[0].auth, {
    mode: "digest",
    realm: "tandem.example",
    onTimeout: "reject",
  });
  assert.deepEqual(
    c.rules[0].routes.map((r) => [r.host, r.port, r.transport]),
    [["127.0.0.1", 5090, "udp"]],
  );
  assert.deepEqual(c.sip.listen, [{ address: "0.0.0.0", port: 5060, transports: ["udp", "tcp"] }]);
});

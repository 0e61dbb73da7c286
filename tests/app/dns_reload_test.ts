// sip.dns follows a reload: the services' resolver is replaced when the servers change, and the
// new servers' answers are used from the next lookup on (two real dnsmasq servers that disagree).

import assert from "node:assert/strict";
import { buildServices } from "../../src/app/services.ts";
import { parseConfig } from "../../src/config/mod.ts";
import { Logger } from "../../src/util/log.ts";
import { startDnsmasq } from "../transport/dns/dnsmasq.ts";

Deno.test("services: a reload that changes sip.dns asks the new servers", async () => {
  await using first = await startDnsmasq("127.0.0.1", [
    "--host-record=sip.carrier.test,127.0.0.11",
  ]);
  await using second = await startDnsmasq("127.0.0.1", [
    "--host-record=sip.carrier.test,127.0.0.22",
  ]);
  const cfgFor = (port: number) =>
    parseConfig(`sip:\n  dns: { servers: ["127.0.0.1:${port}"] }\n`, "t.yaml", "yaml", {
      env: {},
    });
  const a = cfgFor(first.server.port);
  const b = cfgFor(second.server.port);
  const logs: string[] = [];
  const services = await buildServices(a, new Logger("info", "json", (l) => logs.push(l)));
  try {
    const locate = services.b2bua.locate!;
    const target = { host: "sip.carrier.test", port: 5060, transport: "udp" as const };
    const ask = async (dns: typeof a.sip.dns) =>
      (await locate({ ...target, mode: "a" }, dns)).map((e) => e.host);
    assert.deepEqual(await ask(a.sip.dns), ["127.0.0.11"]);
    // The same settings from another load of the file: the same resolver, its cache.
    assert.deepEqual(await ask(cfgFor(first.server.port).sip.dns), ["127.0.0.11"]);
    assert.equal(logs.filter((l) => l.includes("dns-resolver-replaced")).length, 0);
    assert.deepEqual(await ask(b.sip.dns), ["127.0.0.22"], "the new server's answer");
    assert.equal(logs.filter((l) => l.includes("dns-resolver-replaced")).length, 1);
  } finally {
    await services.close();
  }
});

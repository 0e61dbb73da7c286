// RFC 2866 accounting, Cisco style, into a real FreeRADIUS detail file: Start/Stop per leg with
// the h323 VSAs; Stops for calls that never connected; and Stops queued while RADIUS is down.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freeUdpPort, parseDetail, startFreeRadius } from "./freeradius.ts";
import {
  accountingStart,
  accountingStop,
  RadiusAccountingSink,
  RadiusClient,
} from "../../src/aaa/mod.ts";
import { CdrJournal, CdrPipeline, withDurations } from "../../src/cdr/mod.ts";
import { metrics } from "../../src/util/metrics.ts";
import { sampleCdr } from "../cdr/fixtures.ts";

const SECRET = "testing123";
const ctx = (now = Date.now()) => ({ gatewayId: "tandem-test", nasIp: "127.0.0.1", now });

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test("Start and Stop for both legs land in the detail file with the Cisco VSAs", async () => {
  const fr = await startFreeRadius();
  const client = new RadiusClient({
    servers: [{
      address: "127.0.0.1",
      authPort: fr.authPort,
      acctPort: fr.acctPort,
      secret: SECRET,
      timeout: 1000,
      retries: 1,
    }],
  });
  try {
    const cdr = sampleCdr(7);
    for (const leg of ["answer", "originate"] as const) {
      const r = await client.accounting(accountingStart(cdr, leg, ctx()));
      assert.equal(r.code, "Accounting-Response");
    }
    for (const leg of ["answer", "originate"] as const) {
      await client.accounting(accountingStop(cdr, leg, ctx()));
    }
    // A call that never connected: 486 from the callee.
    const busy = withDurations({
      ...sampleCdr(8),
      connectAt: undefined,
      finalCode: 486,
      q850: 17,
      endedBy: "callee",
      endReason: "rejected",
    });
    await client.accounting(accountingStop(busy, "answer", ctx()));

    const recs = parseDetail(fr.detail());
    assert.equal(recs.length, 5);
    const [startA, startO, stopA, stopO, stopBusy] = recs;
    assert.equal(startA["Acct-Status-Type"], "Start");
    assert.equal(startA["h323-call-origin"], "h323-call-origin=answer");
    assert.equal(startO["h323-call-origin"], "h323-call-origin=originate");
    assert.equal(startA["h323-setup-time"], "h323-setup-time=14:02:32.050 UTC Tue Nov 24 2026");
    assert.equal(startA["h323-connect-time"], "h323-connect-time=14:02:42.050 UTC Tue Nov 24 2026");
    assert.equal(stopA["Acct-Status-Type"], "Stop");
    assert.equal(stopA["Acct-Session-Id"], `${cdr.id}-a`);
    assert.equal(stopO["Acct-Session-Id"], `${cdr.id}-o`);
    assert.equal(stopA["Acct-Multi-Session-Id"], cdr.id);
    assert.equal(stopA["Acct-Session-Time"], "42");
    assert.equal(stopA["Acct-Terminate-Cause"], "User-Request");
    assert.equal(stopA["User-Name"], "10007");
    assert.equal(stopA["Calling-Station-Id"], "10007");
    assert.equal(stopA["Called-Station-Id"], "2000");
    assert.equal(stopA["NAS-IP-Address"], "127.0.0.1");
    assert.equal(
      stopA["h323-disconnect-time"],
      "h323-disconnect-time=14:03:24.050 UTC Tue Nov 24 2026",
    );
    assert.equal(stopA["h323-disconnect-cause"], "h323-disconnect-cause=10");
    assert.equal(stopA["h323-call-type"], "h323-call-type=VoIP");
    assert.equal(stopA["h323-gw-id"], "h323-gw-id=tandem-test");
    assert.equal(stopA["h323-remote-address"], "h323-remote-address=127.0.0.1");
    assert.match(stopA["h323-conf-id"], /^h323-conf-id=[0-9A-F]{8}( [0-9A-F]{8}){3}$/);
    assert.equal(stopA["h323-conf-id"], stopO["h323-conf-id"], "one conference id per call");
    assert.ok(stopA["Cisco-AVPair"].split("|").includes(`call-id=${cdr.callIdIn}`));
    assert.ok(stopO["Cisco-AVPair"].split("|").includes(`call-id=${cdr.callIdOut}`));
    assert.equal(stopBusy["Acct-Session-Time"], "0");
    assert.equal(stopBusy["h323-disconnect-cause"], "h323-disconnect-cause=11");
  } finally {
    await client.close();
    await fr.stop();
  }
});

Deno.test("RADIUS down while 50 Stops are queued, then up: all arrive, none under two ids", async () => {
  const authPort = await freeUdpPort();
  const acctPort = await freeUdpPort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tandem-acct-"));
  const client = new RadiusClient({
    servers: [{
      address: "127.0.0.1",
      authPort,
      acctPort,
      secret: SECRET,
      timeout: 150,
      retries: 0,
    }],
    deadTime: 50,
  });
  const journal = await CdrJournal.open(dir, { fsync: "batched", fsyncInterval: 20 });
  const pipeline = new CdrPipeline(journal, { minBackoff: 50, maxBackoff: 200, pollInterval: 50 });
  pipeline.addSink(
    new RadiusAccountingSink(client, { gatewayId: "tandem-test", legs: ["answer"] }),
  );
  let fr: Awaited<ReturnType<typeof startFreeRadius>> | undefined;
  const errors = () => metrics.counter("tandem_cdr_sink_errors_total", "").get({ sink: "radius" });
  try {
    const before = errors();
    const cdrs = Array.from({ length: 50 }, (_, i) => sampleCdr(i));
    for (const c of cdrs) journal.append(c);
    pipeline.start();
    await waitFor(() => errors() >= before + 2, 5000, "two failed deliveries");
    assert.equal(pipeline.lag("radius"), 50);

    fr = await startFreeRadius({ authPort, acctPort });
    await pipeline.drained(15_000);
    const stops = parseDetail(fr.detail()).filter((r) => r["Acct-Status-Type"] === "Stop");
    const bySession = new Map<string, Set<string>>();
    for (const s of stops) {
      const ids = bySession.get(s["Acct-Session-Id"]) ?? new Set();
      ids.add(s["Acct-Multi-Session-Id"]);
      bySession.set(s["Acct-Session-Id"], ids);
    }
    assert.deepEqual(
      [...bySession.keys()].sort(),
      cdrs.map((c) => `${c.id}-a`).sort(),
      "every CDR arrived",
    );
    for (const ids of bySession.values()) assert.equal(ids.size, 1);
    const multi = new Set(stops.map((s) => s["Acct-Multi-Session-Id"]));
    assert.equal(multi.size, 50);
  } finally {
    await pipeline.stop();
    await journal.close();
    await client.close();
    await fr?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// Issue "CDRs that are never lost, and Cisco-compatible RADIUS AAA", end to end: SIPp calls
// through a running Tandem, a real FreeRADIUS (tests/aaa/freeradius.ts) taking accounting into
// its detail file and checking SIP digest (draft-sterman). RFC 2865/2866, RFC 3261 §22.3 (407),
// Cisco "RADIUS VSA Voice Implementation Guide" (h323-* VSAs, h323-credit-time).

import assert from "node:assert/strict";
import { freeUdpPort, type RadiusServerHandle, startFreeRadius } from "../aaa/freeradius.ts";
import {
  assertSippOk,
  type BedPlan,
  ciscoMs,
  type ConfigOptions,
  configText,
  detail,
  E2E_USERS,
  plan,
  readCdrs,
  runPair,
  uacLog,
  vsa,
} from "./aaa/bed.ts";
import {
  binaryAvailable,
  startTandem,
  tandemBinary,
  type TandemProcess,
  waitFor,
} from "./harness.ts";

const HOLD_MS = 2000;

async function withBed(
  cfg: Omit<ConfigOptions, "radius">,
  fr: RadiusServerHandle | { authPort: number; acctPort: number },
  fn: (p: BedPlan, t: TandemProcess) => Promise<void>,
  binary = binaryAvailable(),
): Promise<void> {
  const p = await plan();
  const radius = { authPort: fr.authPort, acctPort: fr.acctPort };
  const t = await startTandem({ config: configText(p, { ...cfg, radius }), binary });
  try {
    await fn(p, t);
  } catch (e) {
    const l = await t.logs();
    console.error(`--- tandem stderr (tail):\n${l.stderr.slice(-3000)}`);
    throw e;
  } finally {
    await t.stop();
    await Deno.remove(p.dir, { recursive: true }).catch(() => {});
  }
}

/** Accounting records whose Cisco-AVPair call-id is `callId`. */
function forCall(recs: Record<string, string>[], callId: string): Record<string, string>[] {
  return recs.filter((r) => (r["Cisco-AVPair"] ?? "").split("|").includes(`call-id=${callId}`));
}

async function accountingCase(binary: boolean): Promise<void> {
  const fr = await startFreeRadius();
  try {
    await withBed({}, fr, async (p) => {
      // 1. A normal call, BYE from the caller after HOLD_MS.
      const ok = await runPair(p, { uac: "uac-call", uas: "uas", calls: 1, holdMs: HOLD_MS });
      assertSippOk(ok.uac, "caller (normal call)");
      assertSippOk(ok.uas, "callee (normal call)");
      // 2. Busy: 486 from the callee.
      const busy = await runPair(p, { uac: "uac-busy", uas: "uas-busy", calls: 1 });
      assertSippOk(busy.uac, "caller (486)");
      assertSippOk(busy.uas, "callee (486)");
      // 3. The caller cancels while it rings.
      const cancel = await runPair(p, { uac: "uac-cancel", uas: "uas-ring", calls: 1 });
      assertSippOk(cancel.uac, "caller (CANCEL)");
      assertSippOk(cancel.uas, "callee (CANCEL)");

      const cdrs = await waitFor(
        async () => {
          const c = await readCdrs(p);
          return c.length >= 3 ? c : undefined;
        },
        5000,
        { what: "3 CDRs in the file sink" },
      );
      assert.equal(cdrs.length, 3, "one CDR per call");
      const byReason = new Map(cdrs.map((c) => [c.endReason, c]));
      const normal = byReason.get("bye"), rejected = byReason.get("rejected");
      const cancelled = byReason.get("cancel");
      assert.ok(normal && rejected && cancelled, `end reasons: ${[...byReason.keys()]}`);

      // Starts (direct) and Stops (journal → RADIUS sink): 2 + 2 for the call, 2 Stops each
      // for the failed ones (the outgoing leg existed).
      const recs = await waitFor(
        () => {
          const d = detail(fr);
          return d.filter((r) => r["Acct-Status-Type"] === "Stop").length >= 6 &&
              d.filter((r) => r["Acct-Status-Type"] === "Start").length >= 2
            ? d
            : undefined;
        },
        10_000,
        { what: "2 Starts and 6 Stops at FreeRADIUS" },
      );
      assert.equal(recs.length, 8, "nothing sent twice");

      // --- the answered call
      const legs = [
        { leg: "answer", callId: normal.callIdIn, session: `${normal.id}-a` },
        { leg: "originate", callId: normal.callIdOut!, session: `${normal.id}-o` },
      ];
      for (const { leg, callId, session } of legs) {
        const mine = forCall(recs, callId);
        const start = mine.find((r) => r["Acct-Status-Type"] === "Start");
        const stop = mine.find((r) => r["Acct-Status-Type"] === "Stop");
        assert.ok(start && stop, `${leg} leg: Start and Stop (got ${mine.length} records)`);
        for (const r of [start, stop]) {
          assert.equal(r["Acct-Session-Id"], session);
          assert.equal(r["Acct-Multi-Session-Id"], normal.id);
          assert.equal(vsa(r, "h323-call-origin"), leg);
          assert.equal(vsa(r, "h323-call-type"), "VoIP");
          assert.equal(vsa(r, "h323-gw-id"), "tandem-e2e");
          assert.equal(vsa(r, "h323-remote-address"), "127.0.0.1");
          assert.match(vsa(r, "h323-conf-id")!, /^[0-9A-F]{8}( [0-9A-F]{8}){3}$/);
          assert.equal(ciscoMs(vsa(r, "h323-setup-time")!), normal.setupAt);
          assert.equal(ciscoMs(vsa(r, "h323-connect-time")!), normal.connectAt);
          assert.equal(r["NAS-IP-Address"], "127.0.0.1");
        }
        assert.equal(start["h323-conf-id"], stop["h323-conf-id"]);
        assert.equal(ciscoMs(vsa(stop, "h323-disconnect-time")!), normal.disconnectAt);
        assert.equal(vsa(stop, "h323-disconnect-cause"), "10", "Q.850 16 normal clearing");
        assert.equal(stop["Acct-Terminate-Cause"], "User-Request");
        // Durations: the caller held the call HOLD_MS; RADIUS and the CDR agree within 1 s.
        const secs = Number(stop["Acct-Session-Time"]);
        assert.ok(Math.abs(secs - HOLD_MS / 1000) <= 1, `Acct-Session-Time ${secs}`);
        const talk = ciscoMs(vsa(stop, "h323-disconnect-time")!) -
          ciscoMs(vsa(stop, "h323-connect-time")!);
        assert.ok(Math.abs(talk - HOLD_MS) < 1000, `connect→disconnect ${talk} ms`);
      }
      const confIds = new Set(forCall(recs, normal.callIdIn).map((r) => r["h323-conf-id"]));
      for (const r of forCall(recs, normal.callIdOut!)) confIds.add(r["h323-conf-id"]);
      assert.equal(confIds.size, 1, "one h323-conf-id for both legs");
      assert.ok(Math.abs(normal.billableMs - HOLD_MS) < 1000, "CDR talk time");

      // --- the failed calls: Stops only, Acct-Session-Time 0, the Q.850 cause in hex
      for (const [cdr, cause] of [[rejected, "11"], [cancelled, "10"]] as const) {
        for (const callId of [cdr.callIdIn, cdr.callIdOut!]) {
          const mine = forCall(recs, callId);
          assert.equal(mine.length, 1, `${cdr.endReason}: one Stop for ${callId}`);
          assert.equal(mine[0]["Acct-Status-Type"], "Stop");
          assert.equal(mine[0]["Acct-Session-Time"], "0");
          assert.equal(vsa(mine[0], "h323-disconnect-cause"), cause, `${cdr.endReason} cause`);
          assert.equal(mine[0]["Acct-Multi-Session-Id"], cdr.id);
        }
      }
      assert.equal(rejected.finalCode, 486);
      assert.equal(rejected.q850, 17);
      assert.equal(cancelled.endedBy, "caller");
    }, binary);
  } finally {
    await fr.stop();
  }
}

Deno.test({
  name: "one call, a 486 and a CANCEL: Cisco Start/Stop per leg at FreeRADIUS (source)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => accountingCase(false),
});

Deno.test({
  name: "one call, a 486 and a CANCEL: the same from the single binary (embedded dictionary)",
  ignore: !binaryAvailable(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // A copy of the binary alone in an empty folder: no dictionary (or any) file beside it.
    assert.ok(binaryAvailable(), `missing ${tandemBinary()} (deno task build)`);
    const lone = await Deno.makeTempDir({ prefix: "tandem-bin-" });
    const before = Deno.env.get("TANDEM_BIN");
    try {
      await Deno.copyFile(tandemBinary(), `${lone}/tandem`);
      await Deno.chmod(`${lone}/tandem`, 0o755);
      Deno.env.set("TANDEM_BIN", `${lone}/tandem`);
      await accountingCase(true);
    } finally {
      if (before === undefined) Deno.env.delete("TANDEM_BIN");
      else Deno.env.set("TANDEM_BIN", before);
      await Deno.remove(lone, { recursive: true });
    }
  },
});

Deno.test({
  name: "digest auth via RADIUS: right password → call, wrong → 403, RADIUS down → policy",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fr = await startFreeRadius();
    try {
      await withBed({ auth: { mode: "digest" } }, fr, async (p) => {
        const ok = await runPair(p, {
          uac: "uac-digest",
          uas: "uas",
          calls: 1,
          holdMs: 200,
          uacArgs: ["-au", "alice", "-ap", "wonderland"],
        });
        assertSippOk(ok.uac, "caller with the right password");
        assertSippOk(ok.uas, "callee");
        const bad = await runPair(p, {
          uac: "uac-digest-refused",
          calls: 1,
          uacArgs: ["-au", "alice", "-ap", "mad-hatter"],
          timeoutMs: 5000,
        });
        assertSippOk(bad.uac, "caller with a wrong password");
        assert.ok((await uacLog(p, "uac-digest-refused")).some((l) => l.includes("FINAL 403")));
      });
    } finally {
      await fr.stop();
    }
    // Nothing answers RADIUS: the rule's on_timeout decides.
    const dead = { authPort: await freeUdpPort(), acctPort: await freeUdpPort() };
    await withBed({ auth: { mode: "digest", onTimeout: "reject" } }, dead, async (p) => {
      const r = await runPair(p, {
        uac: "uac-digest-refused",
        calls: 1,
        uacArgs: ["-au", "alice", "-ap", "wonderland"],
        timeoutMs: 5000,
      });
      assertSippOk(r.uac, "caller, RADIUS down, on_timeout reject");
      assert.ok((await uacLog(p, "uac-digest-refused")).some((l) => l.includes("FINAL 503")));
    });
    await withBed({ auth: { mode: "digest", onTimeout: "allow" } }, dead, async (p) => {
      const r = await runPair(p, {
        uac: "uac-digest",
        uas: "uas",
        calls: 1,
        holdMs: 200,
        uacArgs: ["-au", "alice", "-ap", "wonderland"],
      });
      assertSippOk(r.uac, "caller, RADIUS down, on_timeout allow");
      assertSippOk(r.uas, "callee, RADIUS down, on_timeout allow");
    });
  },
});

Deno.test({
  name: "h323-credit-time 3 from RADIUS: Tandem BYEs both sides ~3 s after the answer",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fr = await startFreeRadius({ users: E2E_USERS });
    try {
      await withBed({ auth: { mode: "digest" } }, fr, async (p) => {
        const r = await runPair(p, {
          uac: "uac-credit",
          uas: "uas",
          calls: 1,
          uacArgs: ["-au", "short", "-ap", "brief"],
        });
        // The caller scenario waits for a BYE and the callee's for one: both got it.
        assertSippOk(r.uac, "caller (BYE from Tandem)");
        assertSippOk(r.uas, "callee (BYE from Tandem)");
        const cdrs = await waitFor(
          async () => {
            const c = await readCdrs(p);
            return c.length ? c : undefined;
          },
          5000,
          { what: "the CDR" },
        );
        assert.equal(cdrs.length, 1, "one CDR: the 407 challenge is not a call");
        const [cdr] = cdrs;
        assert.equal(cdr.endReason, "credit");
        assert.equal(cdr.endedBy, "tandem");
        assert.ok(
          Math.abs(cdr.billableMs - 3000) < 500,
          `talk time ${cdr.billableMs} ms, credit 3 s`,
        );
        const stop = await waitFor(
          () =>
            detail(fr).find((x) =>
              x["Acct-Session-Id"] === `${cdr.id}-a` && x["Acct-Status-Type"] === "Stop"
            ),
          5000,
          { what: "the Stop" },
        );
        assert.equal(stop["Acct-Session-Time"], "3");
        assert.equal(stop["Acct-Terminate-Cause"], "Session-Timeout");
      });
    } finally {
      await fr.stop();
    }
  },
});

Deno.test({
  name: "RADIUS down during 50 calls, then up: all 50 Stops arrive, none under two ids",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const ports = { authPort: await freeUdpPort(), acctPort: await freeUdpPort() };
    let fr: RadiusServerHandle | undefined;
    try {
      await withBed({}, ports, async (p) => {
        const r = await runPair(p, { uac: "uac-call", uas: "uas", calls: 50, rate: 50 });
        assertSippOk(r.uac, "50 callers");
        assertSippOk(r.uas, "50 callees");
        const cdrs = await waitFor(
          async () => {
            const c = await readCdrs(p);
            return c.length >= 50 ? c : undefined;
          },
          5000,
          { what: "50 CDRs in the file sink (independent of RADIUS)" },
        );
        assert.equal(cdrs.length, 50);
        fr = await startFreeRadius(ports);
        const want = new Set(cdrs.flatMap((c) => [`${c.id}-a`, `${c.id}-o`]));
        const stops = await waitFor(
          () => {
            const s = detail(fr!).filter((x) => x["Acct-Status-Type"] === "Stop");
            return s.filter((x) => want.has(x["Acct-Session-Id"])).length >= 100 ? s : undefined;
          },
          25_000,
          { what: "100 Stops (50 calls × 2 legs) after RADIUS came back" },
        );
        const multi = new Map<string, Set<string>>();
        for (const s of stops) {
          assert.ok(want.has(s["Acct-Session-Id"]), `unknown session ${s["Acct-Session-Id"]}`);
          const ids = multi.get(s["Acct-Session-Id"]) ?? new Set();
          ids.add(s["Acct-Multi-Session-Id"]);
          multi.set(s["Acct-Session-Id"], ids);
        }
        assert.equal(multi.size, 100, "every leg of every call");
        for (const [sid, ids] of multi) {
          assert.equal(ids.size, 1, `${sid} under ${[...ids]}`);
          assert.ok(sid.startsWith([...ids][0]), "the session id is the CDR id");
        }
      });
    } finally {
      await fr?.stop();
    }
  },
});

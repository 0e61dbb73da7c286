// Issue "CDRs that are never lost", end to end: kill -9 of Tandem in the middle of 300 calls at
// 30 calls/s, restart on the same CDR journal; every call whose BYE got its 200 before the kill
// has exactly one CDR in the file sink and its Stop at FreeRADIUS (RFC 2866 §5.5: a resent Stop
// keeps its Acct-Session-Id, so the server can tell a retransmission from a new session). The
// calls up at the kill come back from the answered-call ledger as `interrupted`, billed to the
// last checkpoint, with a Stop naming NAS-Reboot.

import assert from "node:assert/strict";
import { startFreeRadius } from "../aaa/freeradius.ts";
import { configText, detail, plan, readCdrs, scenario, uacLog } from "./aaa/bed.ts";
import {
  binaryAvailable,
  freeUdpPort,
  runSipp,
  sleep,
  startTandem,
  type TandemProcess,
  waitFor,
} from "./harness.ts";

Deno.test({
  name: "kill -9 mid-load, restart: every answered BYE has one CDR in the file and its Stop",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fr = await startFreeRadius();
    const p = await plan();
    // The shipped default: group commit every 100 ms.
    const config = configText(p, {
      radius: { authPort: fr.authPort, acctPort: fr.acctPort },
      fsync: "batched",
    });
    let t: TandemProcess | undefined;
    try {
      t = await startTandem({ config, binary: binaryAvailable() });
      const uas = runSipp([
        ...scenario("uas"),
        "-i",
        "127.0.0.1",
        "-p",
        String(p.callee),
        "-m",
        "300",
        "-timeout",
        "14s",
      ], { timeoutMs: 16_000, cwd: p.dir });
      await sleep(300);
      const uac = runSipp([
        ...scenario("uac-call"),
        `127.0.0.1:${p.sip}`,
        "-i",
        "127.0.0.1",
        "-p",
        String(freeUdpPort()),
        "-s",
        "2000",
        "-m",
        "300",
        "-r",
        "30",
        "-d",
        "300",
        "-recv_timeout",
        "1500",
        "-timeout",
        "13s",
        "-trace_logs",
        "-log_file",
        `${p.dir}/uac-uac-call.log`,
      ], { timeoutMs: 16_000, cwd: p.dir });
      // Half-way through: about 150 calls placed, some ringing, some talking, some hanging up.
      await sleep(5000);
      const killedAt = Date.now();
      await t.kill9();
      const [u] = await Promise.all([uac, uas]);
      const log = await uacLog(p, "uac-call");
      const byeOk = new Set(
        log.map((l) => /BYE-OK (\S+)/.exec(l)?.[1]).filter((x): x is string => x !== undefined),
      );
      // Answered before the kill but not hung up: the ledger's calls.
      const up = new Set(
        log.map((l) => /ANSWERED (\S+)/.exec(l)?.[1]).filter((x): x is string =>
          x !== undefined && !byeOk.has(x)
        ),
      );
      assert.ok(
        byeOk.size > 60 && byeOk.size < 300,
        `calls completed before the kill: ${byeOk.size}\n${u.stdout.slice(-800)}`,
      );

      // Restart on the same journal: the sinks resume from their cursors.
      t = await startTandem({ config, binary: binaryAvailable() });
      const cdrs = await waitFor(
        async () => {
          const c = await readCdrs(p);
          const have = new Set(c.map((r) => r.callIdIn));
          return [...byeOk, ...up].every((id) => have.has(id)) ? c : undefined;
        },
        10_000,
        { what: `a CDR for each of the ${byeOk.size} answered BYEs and ${up.size} calls up` },
      ).catch(
        async (e) => {
          const have = new Set((await readCdrs(p)).map((r) => r.callIdIn));
          const lost = [...byeOk, ...up].filter((id) => !have.has(id));
          throw new Error(`${e.message}: ${lost.length} lost, e.g. ${lost.slice(0, 3)}`);
        },
      );
      const ids = new Map<string, number>();
      for (const c of cdrs) ids.set(c.id, (ids.get(c.id) ?? 0) + 1);
      const dup = [...ids].filter(([, n]) => n > 1);
      assert.deepEqual(dup, [], "no CDR twice in the file sink");
      const perCall = new Map<string, number>();
      for (const c of cdrs) perCall.set(c.callIdIn, (perCall.get(c.callIdIn) ?? 0) + 1);
      for (const id of byeOk) assert.equal(perCall.get(id), 1, `CDRs of ${id}`);
      for (const c of cdrs.filter((c) => byeOk.has(c.callIdIn))) {
        assert.equal(c.endReason, "bye");
        assert.ok(c.disconnectAt <= killedAt);
      }
      // A call up at the kill: billed from its answer to the last checkpoint (1 s apart) or call
      // end the ledger holds, never past the kill. Its BYE may have reached Tandem just before.
      const interrupted = cdrs.filter((c) => c.endReason === "interrupted");
      for (const id of up) assert.equal(perCall.get(id), 1, `CDRs of ${id} (up at the kill)`);
      for (const c of interrupted) {
        assert.equal(c.finalCode, 200);
        assert.equal(c.q850, 41);
        assert.equal(c.endedBy, "tandem");
        assert.ok(c.connectAt! <= c.disconnectAt, `${c.callIdIn}: answered before its end`);
        assert.ok(c.disconnectAt <= killedAt, `${c.callIdIn}: billed past the kill`);
        assert.ok(c.disconnectAt > killedAt - 2500, `${c.callIdIn}: billed to a stale checkpoint`);
        assert.equal(c.billableMs, c.disconnectAt - c.connectAt!);
      }
      assert.ok(
        interrupted.some((c) => up.has(c.callIdIn)),
        `some of the ${up.size} calls up at the kill are billed as interrupted`,
      );

      // Every CDR of the file reaches RADIUS as a Stop per leg. A Stop in flight at the kill is
      // sent again after the restart under the same Acct-Session-Id (at-least-once; RADIUS
      // servers deduplicate on it), never under a new one.
      const want = new Set(cdrs.flatMap((c) => [`${c.id}-a`, `${c.id}-o`]));
      const stops = await waitFor(
        () => {
          const s = detail(fr).filter((x) => x["Acct-Status-Type"] === "Stop");
          const got = new Set(s.map((x) => x["Acct-Session-Id"]));
          return [...want].every((w) => got.has(w)) ? s : undefined;
        },
        15_000,
        { what: `Stops for the ${cdrs.length} CDRs` },
      );
      const bySession = new Map<string, Record<string, string>[]>();
      for (const s of stops) {
        bySession.set(s["Acct-Session-Id"], [...(bySession.get(s["Acct-Session-Id"]) ?? []), s]);
      }
      let resent = 0;
      for (const [sid, list] of bySession) {
        const multi = new Set(list.map((s) => s["Acct-Multi-Session-Id"]));
        assert.equal(multi.size, 1, `${sid}: one CDR id`);
        const times = new Set(list.map((s) => s["h323-disconnect-time"]));
        assert.equal(times.size, 1, `${sid}: a resent Stop is the same Stop`);
        resent += list.length - 1;
      }
      const answered = cdrs.filter((c) => byeOk.has(c.callIdIn));
      for (const c of answered) assert.ok(bySession.has(`${c.id}-a`), `Stop for ${c.callIdIn}`);
      for (const c of interrupted) {
        for (const leg of ["a", "o"]) {
          const stop = bySession.get(`${c.id}-${leg}`)?.[0];
          assert.equal(stop?.["Acct-Terminate-Cause"], "NAS-Reboot", `${c.callIdIn} ${leg}`);
        }
      }
      console.log(
        `kill -9 after ${byeOk.size} answered BYEs, ${up.size} calls up (${interrupted.length} ` +
          `billed as interrupted); ${cdrs.length} CDRs in the file, ` +
          `${bySession.size} Stop sessions at RADIUS, ${resent} Stop(s) resent after restart`,
      );
    } finally {
      await t?.stop();
      await fr.stop();
      await Deno.remove(p.dir, { recursive: true }).catch(() => {});
    }
  },
});

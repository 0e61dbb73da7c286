// Test bed for the CDR and RADIUS end-to-end tests: a Tandem config with RADIUS accounting and
// a CDR journal + file sink in a temp dir, SIPp caller/callee pairs on free ports, and readers
// for the CDR file and the FreeRADIUS detail file.

import assert from "node:assert/strict";
import { parseDetail, type RadiusServerHandle } from "../../aaa/freeradius.ts";
import type { CdrRecord } from "../../../src/cdr/mod.ts";
import {
  freePort,
  freeUdpPort,
  repoRoot,
  runSipp,
  sippAvailable,
  type SippResult,
  sleep,
} from "../harness.ts";

/** Scenario folder of these tests. */
export const SCENARIOS = `${repoRoot}/tests/e2e/aaa/scenarios`;

/** FreeRADIUS users the e2e tests add to the harness' own. */
export const E2E_USERS = `
short	Cleartext-Password := "brief"
	h323-credit-time = "h323-credit-time=3"
`;

/** Ports and paths of one Tandem under test. */
export interface BedPlan {
  sip: number;
  http: number;
  callee: number;
  dir: string;
  cdrDir: string;
  cdrFile: string;
}

/** Fresh ports and a temp dir for a bed. */
export async function plan(): Promise<BedPlan> {
  assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
  const dir = await Deno.makeTempDir({ prefix: "tandem-aaa-e2e-" });
  return {
    sip: freePort(),
    http: freePort(),
    callee: freeUdpPort(),
    dir,
    cdrDir: `${dir}/cdr`,
    cdrFile: `${dir}/cdr.jsonl`,
  };
}

/** What varies between the tests' configs. */
export interface ConfigOptions {
  /** RADIUS ports (FreeRADIUS or ports where nothing listens). */
  radius: { authPort: number; acctPort: number };
  auth?: { mode: "none" | "source" | "digest"; onTimeout?: "reject" | "allow" };
  fsync?: "every" | "batched";
}

/** Tandem config: one rule to the callee, RADIUS auth/accounting, CDR journal + file sink. */
export function configText(p: BedPlan, o: ConfigOptions): string {
  const auth = o.auth ?? { mode: "none" };
  const authLine = auth.mode === "none"
    ? ""
    : `    auth: { mode: ${auth.mode}, realm: tandem.test, on_timeout: ${
      auth.onTimeout ?? "reject"
    } }\n`;
  return `sip:
  listen:
    - { address: 127.0.0.1, port: ${p.sip}, transports: [udp] }
  timers: { t1: 100ms }
http:
  listen: 127.0.0.1:${p.http}
log: { level: info, format: json }
rules:
  - name: callee
    match: {}
${authLine}    routes:
      - { name: callee, target: "127.0.0.1:${p.callee}" }
radius:
  servers:
    - address: 127.0.0.1
      auth_port: ${o.radius.authPort}
      acct_port: ${o.radius.acctPort}
      secret: testing123
      timeout: 300ms
      retries: 0
  nas_ip: 127.0.0.1
  gateway_id: tandem-e2e
cdr:
  dir: ${p.cdrDir}
  fsync: ${o.fsync ?? "batched"}
  fsync_interval: 100ms
  file: { path: ${p.cdrFile}, format: jsonl, rotate: size }
  radius: true
`;
}

/** A SIPp argument list for a scenario file of this folder or a built-in one. */
export function scenario(s: string): string[] {
  return s === "uac" || s === "uas" ? ["-sn", s] : ["-sf", `${SCENARIOS}/${s}.xml`];
}

/** True when something holds `port` over UDP on 127.0.0.1 (SIPp has bound it). */
function udpBound(port: number): boolean {
  try {
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
    return false;
  } catch {
    return true;
  }
}

/** Options of {@link runPair}. */
export interface PairOptions {
  uac: string;
  /** Callee scenario; none when the call must never reach a callee. */
  uas?: string;
  calls: number;
  rate?: number;
  /** `<pause/>` length of the caller (ms). */
  holdMs?: number;
  /** Extra caller arguments (e.g. -au/-ap). */
  uacArgs?: string[];
  timeoutMs?: number;
  /** Called user (SIPp -s). Default 2000. */
  service?: string;
}

/** Results of both sides. */
export interface PairResult {
  uac: SippResult;
  uas?: SippResult;
}

/** Run a SIPp callee on `p.callee` and a caller through Tandem; both stop by themselves. */
export async function runPair(p: BedPlan, o: PairOptions): Promise<PairResult> {
  const timeoutMs = o.timeoutMs ?? 20_000;
  const secs = Math.ceil(timeoutMs / 1000);
  const uasP = o.uas === undefined ? undefined : runSipp([
    ...scenario(o.uas),
    "-i",
    "127.0.0.1",
    "-p",
    String(p.callee),
    "-m",
    String(o.calls),
    "-timeout",
    `${secs}s`,
    "-timeout_error",
  ], { timeoutMs: timeoutMs + 3000, cwd: p.dir });
  const deadline = Date.now() + 5000;
  while (uasP && !udpBound(p.callee) && Date.now() < deadline) await sleep(20);
  if (uasP && !udpBound(p.callee)) {
    // A callee that never bound its port makes the call fail later as "no progress"; say so
    // now, with what SIPp said if it has already given up.
    const early = await Promise.race([uasP, sleep(200).then(() => undefined)]);
    throw new Error(
      `the callee SIPp (${o.uas}) did not bind 127.0.0.1:${p.callee} within 5 s` +
        (early ? `; it exited ${early.code}:\n${early.stdout.slice(-1500)}\n${early.stderr}` : ""),
    );
  }
  const uac = await runSipp([
    ...scenario(o.uac),
    `127.0.0.1:${p.sip}`,
    "-i",
    "127.0.0.1",
    "-p",
    String(freeUdpPort()),
    "-s",
    o.service ?? "2000",
    "-m",
    String(o.calls),
    "-r",
    String(o.rate ?? 10),
    "-d",
    String(o.holdMs ?? 0),
    "-timeout",
    `${secs}s`,
    "-timeout_error",
    "-trace_logs",
    "-log_file",
    `${p.dir}/uac-${o.uac}.log`,
    ...(o.uacArgs ?? []),
  ], { timeoutMs: timeoutMs + 3000, cwd: p.dir });
  const uas = await uasP;
  return { uac, uas };
}

/** Assert a SIPp run succeeded (exit code 0), with its output on failure. */
export function assertSippOk(r: SippResult | undefined, what: string): void {
  assert.ok(r, `${what}: not run`);
  assert.equal(
    r.code,
    0,
    `${what}: sipp exit ${r.code}${r.timedOut ? " (killed by the outer timeout)" : ""}\n${
      r.stdout.slice(-1500)
    }\n${r.stderr.slice(-1500)}`,
  );
}

/** The CDRs of the file sink (JSON lines). */
export async function readCdrs(p: BedPlan): Promise<CdrRecord[]> {
  const text = await Deno.readTextFile(p.cdrFile).catch(() => "");
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as CdrRecord);
}

/** Accounting records of the detail file. */
export function detail(fr: RadiusServerHandle): Record<string, string>[] {
  return parseDetail(fr.detail());
}

/** The value of a Cisco `name=value` VSA as FreeRADIUS logs it, without the name. */
export function vsa(rec: Record<string, string>, name: string): string | undefined {
  const v = rec[name];
  return v?.startsWith(`${name}=`) ? v.slice(name.length + 1) : v;
}

/** Cisco time text ("14:02:32.050 UTC Tue Nov 24 2026") as epoch ms. */
export function ciscoMs(text: string): number {
  const m = /^(\d\d):(\d\d):(\d\d)\.(\d{3}) UTC \w{3} (\w{3}) (\d{1,2}) (\d{4})$/.exec(text);
  assert.ok(m, `not a Cisco time: ${text}`);
  const months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  return Date.UTC(
    Number(m[7]),
    months.indexOf(m[5]) / 3,
    Number(m[6]),
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4]),
  );
}

/** The SIPp log lines (`-trace_logs`) of the caller scenario `uac`. */
export async function uacLog(p: BedPlan, uac: string): Promise<string[]> {
  const text = await Deno.readTextFile(`${p.dir}/uac-${uac}.log`).catch(() => "");
  return text.split("\n").filter((l) => l.trim());
}

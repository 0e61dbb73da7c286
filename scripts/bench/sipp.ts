// SIPp caller and callee for the benchmarks: the shared scenarios (../shared/bench/), the
// statistics CSV (-trace_stat, one line per second with -fd 1) and the response-time file
// (-trace_rtt, INVITE -> 200 per call, in ms).

import { resolve } from "node:path";
import { type Child, spawn } from "./proc.ts";

export const SIPP = "sipp";
/** SIPp wants more open files than calls it may hold (media support): raise the limit first. */
const SIPP_SH = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec sipp "$@"';
export const UAS_PORT = 27090;
export const UAC_PORT = 27050;
/** Socket buffers asked of the kernel by both SIPp sides (capped by net.core.rmem_max). */
export const SIPP_BUFF = 1 << 20;

/** The shared scenarios, by the relative path the shared README gives, from the repo root. */
export function scenarios(repoRoot: string): { uac: string; uas: string } {
  return {
    uac: resolve(repoRoot, "../shared/bench/uac_rr.xml"),
    uas: resolve(repoRoot, "../shared/bench/uas_rr.xml"),
  };
}

/** The counters one SIPp side reports, cumulative over its run. */
export interface SippStats {
  elapsedS: number;
  outgoing: number;
  incoming: number;
  created: number;
  current: number;
  successful: number;
  failed: number;
  retransmissions: number;
  timeoutOnRecv: number;
  maxUdpRetrans: number;
  unexpected: number;
  deadCallMsgs: number;
  outOfCallMsgs: number;
  /** ResponseTimeRepartition1 buckets: label -> count (INVITE -> 200 on the caller). */
  rttBuckets: Record<string, number>;
}

function hms(s: string): number {
  // "HH:MM:SS" or "HH:MM:SS:uuuuuu"
  const p = s.split(":").map(Number);
  return (p[0] ?? 0) * 3600 + (p[1] ?? 0) * 60 + (p[2] ?? 0) + (p[3] ?? 0) / 1e6;
}

/** Last line of a SIPp -trace_stat CSV, or undefined while it has none. */
export function readStats(path: string): SippStats | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length < 2) return undefined;
  const head = lines[0].split(";");
  const row = lines[lines.length - 1].split(";");
  // Date columns hold "date<TAB>time<TAB>epoch" in one ;-separated field, so indexes line up.
  const get = (name: string) => row[head.indexOf(name)] ?? "0";
  const num = (name: string) => Number(get(name)) || 0;
  const buckets: Record<string, number> = {};
  head.forEach((h, i) => {
    const m = /^ResponseTimeRepartition1_(.+)$/.exec(h);
    if (m) buckets[m[1]] = Number(row[i]) || 0;
  });
  return {
    elapsedS: hms(get("ElapsedTime(C)")),
    outgoing: num("OutgoingCall(C)"),
    incoming: num("IncomingCall(C)"),
    created: num("TotalCallCreated"),
    current: num("CurrentCall"),
    successful: num("SuccessfulCall(C)"),
    failed: num("FailedCall(C)"),
    retransmissions: num("Retransmissions(C)"),
    timeoutOnRecv: num("FailedTimeoutOnRecv(C)"),
    maxUdpRetrans: num("FailedMaxUDPRetrans(C)"),
    unexpected: num("FailedUnexpectedMessage(C)"),
    deadCallMsgs: num("DeadCallMsgs(C)"),
    outOfCallMsgs: num("OutOfCallMsgs(C)"),
    rttBuckets: buckets,
  };
}

/** INVITE -> 200 latency percentiles (ms) from the -trace_rtt file(s) in `dir`. */
export interface Latency {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function readRtt(dir: string, prefix: string): Latency | undefined {
  const values: number[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.startsWith(prefix) || !e.name.endsWith("_rtt.csv")) continue;
    for (const line of Deno.readTextFileSync(`${dir}/${e.name}`).split("\n").slice(1)) {
      const f = line.split(";");
      if (f.length >= 3 && f[2].trim() === "1") values.push(Number(f[1]));
    }
  }
  if (values.length === 0) return undefined;
  values.sort((a, b) => a - b);
  const q = (p: number) => values[Math.min(values.length - 1, Math.floor(p * values.length))];
  return {
    samples: values.length,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: values[values.length - 1],
  };
}

/** Callee: answers every INVITE (180, 200 with Record-Route echoed), then BYE. */
export function startUas(dir: string, uas: string): Child {
  return spawn("sipp-uas", "sh", {
    cwd: dir,
    logFile: `${dir}/uas.out`,
    args: [
      "-c",
      SIPP_SH,
      "sipp",
      "-sf",
      uas,
      "-i",
      "127.0.0.1",
      "-p",
      String(UAS_PORT),
      "-mp",
      "27300",
      "-nostdin",
      "-buff_size",
      String(SIPP_BUFF),
      "-trace_stat",
      "-stf",
      "uas.csv",
      "-fd",
      "1",
      "-trace_err",
      "-error_file",
      "uas_err.log",
      "-max_log_size",
      "1000000",
    ],
  });
}

export interface UacOptions {
  target: string;
  rate: number;
  calls: number;
  holdMs: number;
  limit: number;
  recvTimeoutMs: number;
}

/** Caller: `calls` calls at `rate`/s, each held `holdMs`, at most `limit` at once. */
export function startUac(dir: string, uac: string, o: UacOptions): Child {
  return spawn("sipp-uac", "sh", {
    cwd: dir,
    logFile: `${dir}/uac.out`,
    args: [
      "-c",
      SIPP_SH,
      "sipp",
      "-sf",
      uac,
      "-i",
      "127.0.0.1",
      "-p",
      String(UAC_PORT),
      "-mp",
      "27200",
      "-r",
      String(o.rate),
      "-rp",
      "1000",
      "-m",
      String(o.calls),
      "-l",
      String(o.limit),
      "-d",
      String(o.holdMs),
      "-recv_timeout",
      String(o.recvTimeoutMs),
      "-nostdin",
      "-buff_size",
      String(SIPP_BUFF),
      "-trace_stat",
      "-stf",
      "uac.csv",
      "-fd",
      "1",
      "-trace_rtt",
      "-rtt_freq",
      "500",
      "-trace_screen",
      "-trace_err",
      "-error_file",
      "uac_err.log",
      "-max_log_size",
      "1000000",
      o.target,
    ],
  });
}

// SIPp log lines that say nothing about the calls (open-files advice, its own epoll cleanup).
const NOISE =
  /following events occurred|Maximum number of open sockets|Failed to delete FD from epoll/;

/** The first lines of SIPp's error log (what went wrong, verbatim), for the report. */
export function errorSample(path: string, max = 6): string[] {
  try {
    return Deno.readTextFileSync(path).split("\n").filter((l) => l.trim() !== "" && !NOISE.test(l))
      .slice(0, max)
      .map((l) => l.slice(0, 300));
  } catch {
    return [];
  }
}

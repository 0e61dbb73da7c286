// The systems under test, each started the same way and measured through its process group:
//   sipp         SIPp caller straight to the SIPp callee (the box's ceiling; nothing to start)
//   kamailio     Kamailio 5.6, tm + rr + dialog, 2 UDP workers, on 127.0.0.1:27160
//   tandem-bun   dist/tandem (the Bun single binary) with config/bench.yaml, on 127.0.0.1:27060
//   tandem-deno  deno run -A mod.ts with the same config

import { resolve } from "node:path";
import { type Child, sleep, spawn, udpBound, waitFor } from "./proc.ts";
import { UAS_PORT } from "./sipp.ts";

export const TARGETS = ["tandem-bun", "tandem-deno", "sipp", "kamailio"] as const;
export type TargetName = typeof TARGETS[number];

export const TANDEM_SIP_PORT = 27060;
export const TANDEM_HTTP = "http://127.0.0.1:27080";
export const KAMAILIO_PORT = 27160;

/** A running system under test. */
export interface Target {
  name: TargetName;
  /** host:port the SIPp caller sends to. */
  address: string;
  /** Process group to account CPU and memory to (undefined for sipp: nothing in between). */
  child?: Child;
  /** The exact command that started it, for the docs. */
  command: string;
  /** Tandem's SIP worker processes (1 unless --workers). */
  workers?: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  repoRoot: string;
  workDir: string;
  /** tandem-deno: expose the V8 inspector here (for the CPU profile). */
  inspectPort?: number;
  /** tandem-bun from source with `bun --cpu-prof`, profiles written in this folder. */
  bunCpuProfDir?: string;
  /** Tandem's sip.workers; above 1 the bench config gets `workers: N`. */
  workers?: number;
  /** Tandem's configuration file, relative to the repository (default config/bench.yaml). */
  config?: string;
  /** Extra environment for Tandem (JavaScriptCore options for the perf profile). */
  env?: Record<string, string>;
  /**
   * Tandem's output straight into its log file through the shell, not through a pipe to this
   * process: a disassembly dump runs to hundreds of megabytes, and a pipe drained here would
   * hold Tandem up on every write.
   */
  rawLog?: boolean;
}

export async function startTarget(name: TargetName, o: StartOptions): Promise<Target> {
  switch (name) {
    case "sipp":
      return {
        name,
        address: `127.0.0.1:${UAS_PORT}`,
        command: "(none: SIPp caller -> SIPp callee)",
        stop: () => Promise.resolve(),
      };
    case "kamailio":
      return await startKamailio(o);
    case "tandem-bun":
    case "tandem-deno":
      return await startTandem(name, o);
  }
}

async function startTandem(name: "tandem-bun" | "tandem-deno", o: StartOptions): Promise<Target> {
  let config = o.config ?? "config/bench.yaml";
  if ((o.workers ?? 1) > 1) {
    const text = Deno.readTextFileSync(resolve(o.repoRoot, config));
    config = `${o.workDir}/bench-workers-${o.workers}.yaml`;
    Deno.writeTextFileSync(config, text.replace(/^sip:\n/m, `sip:\n  workers: ${o.workers}\n`));
  }
  let cmd: string;
  let args: string[];
  if (name === "tandem-bun" && o.bunCpuProfDir) {
    cmd = Deno.env.get("BUN_BIN") ?? "bun";
    args = ["--cpu-prof", "--cpu-prof-dir", o.bunCpuProfDir, "mod.ts", "--config", config];
  } else if (name === "tandem-bun") {
    cmd = resolve(o.repoRoot, "dist/tandem");
    args = ["--config", config];
  } else {
    cmd = Deno.execPath();
    // expose-gc: POST /gc (the soak) collects through V8's gc(); nothing else changes.
    args = ["run", "-A", "--v8-flags=--expose-gc"];
    if (o.inspectPort) args.push(`--inspect=127.0.0.1:${o.inspectPort}`);
    args.push("mod.ts", "--config", config);
  }
  if (udpBound(TANDEM_SIP_PORT)) {
    throw new Error(`UDP ${TANDEM_SIP_PORT} is taken already: another Tandem is running?`);
  }
  const logFile = `${o.workDir}/${name}.log`;
  const child = o.rawLog
    ? spawn(name, "sh", {
      // exec: the child's pid stays Tandem's, so perf can name its main thread.
      args: ["-c", `exec "$0" "$@" >>'${logFile}' 2>&1`, cmd, ...args],
      cwd: o.repoRoot,
      env: o.env,
      logFile: null,
    })
    : spawn(name, cmd, { args, cwd: o.repoRoot, env: o.env, logFile });
  const ready = await waitFor(async () => {
    if (child.exited) return true;
    try {
      const r = await fetch(`${TANDEM_HTTP}/ready`);
      await r.body?.cancel();
      return r.status === 200 && udpBound(TANDEM_SIP_PORT);
    } catch {
      return false;
    }
  }, 30_000);
  if (!ready || child.exited) {
    await child.stop("SIGKILL");
    const log = tail(`${o.workDir}/${name}.log`);
    throw new Error(`${name} did not become ready (${cmd} ${args.join(" ")}):\n${log}`);
  }
  const shown = cmd === Deno.execPath() ? "deno" : cmd.replace(o.repoRoot + "/", "");
  return {
    name,
    address: `127.0.0.1:${TANDEM_SIP_PORT}`,
    child,
    command: `${shown} ${args.join(" ")}`,
    workers: o.workers ?? 1,
    async stop() {
      // SIGTERM drains (no calls are left by then); a second signal would exit at once.
      await child.stop("SIGTERM", 15_000);
    },
  };
}

/**
 * Tandem's /metrics as name -> value: unlabelled samples, and with several workers the sum of
 * the samples labelled with nothing but `worker`.
 */
export async function tandemMetrics(): Promise<Record<string, number>> {
  const r = await fetch(`${TANDEM_HTTP}/metrics`);
  const text = await r.text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{worker="\d+"\})? (\S+)$/.exec(line.trim());
    if (m) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

/**
 * New INVITEs Tandem refused with 503 so far (`tandem_calls_total{outcome="shed"}`): 0 before
 * the first one, undefined when /metrics does not answer in time (a saturated target).
 */
export async function tandemShed(): Promise<number | undefined> {
  try {
    const r = await fetch(`${TANDEM_HTTP}/metrics`, { signal: AbortSignal.timeout(500) });
    // Summed over workers (`{worker="k",outcome="shed"}`) when there are several.
    let shed = 0;
    for (
      const m of (await r.text()).matchAll(
        /^tandem_calls_total\{(?:worker="\d+",)?outcome="shed"\} (\S+)$/gm,
      )
    ) {
      shed += Number(m[1]);
    }
    return shed;
  } catch {
    return undefined;
  }
}

/** Kamailio configuration: stateful forwarding (tm), record-routing (rr), dialogs (dialog). */
export function kamailioConfig(): string {
  return `#!KAMAILIO
# Written by scripts/bench.ts: the Kamailio reference point of docs/benchmarks.md.
debug=1
log_stderror=yes
children=2
auto_aliases=no
listen=udp:127.0.0.1:${KAMAILIO_PORT}

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "dialog.so"

modparam("rr", "enable_full_lr", 0)
modparam("dialog", "db_mode", 0)
modparam("dialog", "hash_size", 65536)

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
  t_check_trans();
  if (is_method("INVITE")) { dlg_manage(); record_route(); }
  $du = "sip:127.0.0.1:${UAS_PORT}";
  if (!t_relay()) { sl_reply_error(); }
  exit;
}
`;
}

async function startKamailio(o: StartOptions): Promise<Target> {
  const dir = `${o.workDir}/kamailio`;
  await Deno.mkdir(dir, { recursive: true });
  const cfg = `${dir}/kamailio.cfg`;
  await Deno.writeTextFile(cfg, kamailioConfig());
  const args = [
    "-f",
    cfg,
    "-DD",
    "-E",
    "-P",
    `${dir}/kamailio.pid`,
    "-Y",
    dir,
    "-m",
    "512",
    "-M",
    "16",
    // The receive buffer Tandem gets too (sip.udp_receive_buffer, 8 MiB): Kamailio's default
    // probing stops at 256 KiB, which drops datagrams in a burst and shows as retransmissions.
    "-b",
    "8388608",
  ];
  const check = await new Deno.Command("kamailio", {
    args: ["-c", "-f", cfg],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!check.success) {
    throw new Error(
      `kamailio -c ${cfg} failed:\n${new TextDecoder().decode(check.stderr).slice(-2000)}`,
    );
  }
  if (udpBound(KAMAILIO_PORT)) throw new Error(`UDP ${KAMAILIO_PORT} is taken already`);
  const child = spawn("kamailio", "kamailio", { args, logFile: `${dir}/kamailio.log` });
  const ok = await waitFor(() => child.exited || udpBound(KAMAILIO_PORT), 15_000);
  if (!ok || child.exited) {
    await child.stop("SIGKILL");
    throw new Error(`kamailio did not start:\n${tail(`${dir}/kamailio.log`)}`);
  }
  await sleep(500); // workers forked
  return {
    name: "kamailio",
    address: `127.0.0.1:${KAMAILIO_PORT}`,
    child,
    command: `kamailio ${args.join(" ")}`,
    stop: () => child.stop("SIGTERM", 5000),
  };
}

function tail(path: string, n = 20): string {
  try {
    return Deno.readTextFileSync(path).split("\n").slice(-n).join("\n");
  } catch {
    return "(no log)";
  }
}

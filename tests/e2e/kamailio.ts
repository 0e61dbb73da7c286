// Kamailio (apt `kamailio`) as a peer for end-to-end tests: started on loopback with a
// configuration the test writes into its own temp dir, its log (stderr) kept in a file there.

import assert from "node:assert/strict";
import { killGroup } from "../../scripts/lib/proc.ts";
import { sleep, udpBound, waitFor, which } from "./harness.ts";

/** A running Kamailio: its log so far, and how to stop it. */
export interface Kamailio {
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** Kamailio on `cfgText` (checked first), its log in `dir`; ready once `port` is bound. */
export async function runKamailio(
  dir: string,
  cfgText: string,
  port: number,
): Promise<Kamailio> {
  const kamailio = which("kamailio");
  assert.ok(kamailio, "kamailio is missing: apt-get install kamailio");
  const cfg = `${dir}/kamailio.cfg`;
  await Deno.writeTextFile(cfg, cfgText);
  const check = await new Deno.Command(kamailio, { args: ["-c", "-f", cfg], stderr: "piped" })
    .output();
  assert.ok(check.success, new TextDecoder().decode(check.stderr).slice(-2000));
  const logFile = `${dir}/kamailio.log`;
  // Its log (log_stderror) goes straight to a file the test reads, through the shell's redirect.
  const args = [
    "-f",
    cfg,
    "-DD",
    "-E",
    "-Y",
    dir,
    "-P",
    `${dir}/kamailio.pid`,
    "-m",
    "64",
    "-M",
    "8",
  ];
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec "$0" "$@" 2>"$LOG"', kamailio, ...args],
    env: { LOG: logFile },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    // Its own process group: Kamailio forks its workers, and a main process killed before it
    // could stop them (SIGKILL after 5 s) would leave them holding its ports for later tests.
    detached: true,
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  await waitFor(() => exited || udpBound(port), 10_000, { what: `kamailio on ${port}` });
  assert.ok(!exited, `kamailio exited:\n${await Deno.readTextFile(logFile).catch(() => "")}`);
  await sleep(300); // its workers are forked after the socket is bound
  return {
    log: () => Deno.readTextFile(logFile).catch(() => ""),
    async stop() {
      if (!exited) {
        killGroup(child.pid, "SIGTERM");
        const t = setTimeout(() => killGroup(child.pid, "SIGKILL"), 5000);
        await child.status;
        clearTimeout(t);
      }
      // Workers the main process did not take down with it.
      killGroup(child.pid, "SIGKILL");
    },
  };
}

/**
 * `fn` with a Kamailio of `config(port)` on `port` (its log in a temporary directory): stopped
 * and the directory removed afterwards, whatever `fn` did.
 */
export async function withKamailio(
  prefix: string,
  port: number,
  config: (port: number, dir: string) => string,
  fn: (front: Kamailio, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    const front = await runKamailio(dir, config(port, dir), port);
    try {
      await fn(front, dir);
    } finally {
      await front.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

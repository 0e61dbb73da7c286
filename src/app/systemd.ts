// systemd service notification (sd_notify(3), a unit with Type=notify): READY=1 once SIP and
// the HTTP API listen, so units ordered after Tandem start when it takes calls; STOPPING=1 when
// it drains; and, under WatchdogSec=, WATCHDOG=1 at half the interval while Tandem is healthy,
// so that a hung event loop or dead SIP listeners get the process restarted (its calls then come
// back as interrupted CDRs from the answered-call ledger).
//
// The messages go through systemd-notify(1) (--no-block): neither Bun nor Node sends Unix
// datagrams, and a few processes a minute cost nothing. The unit needs NotifyAccess=all, since
// the sender is a child of Tandem's main process.

import { spawn } from "node:child_process";
import type { Logger } from "../util/log.ts";

/** What the notifier needs of the environment (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID). */
export type Env = (name: string) => string | undefined;

export class SystemdNotifier {
  private timer?: ReturnType<typeof setInterval>;
  private missing = false;

  private constructor(
    private readonly log: Logger,
    /** WATCHDOG_USEC in ms, when the watchdog is on for this process. */
    readonly watchdogMs: number | undefined,
    private readonly command: string,
  ) {}

  /** A notifier when systemd asked for one (NOTIFY_SOCKET set), else undefined. */
  static fromEnv(
    env: Env,
    pid: number,
    log: Logger,
    command = "systemd-notify",
  ): SystemdNotifier | undefined {
    if (!env("NOTIFY_SOCKET")) return undefined;
    const usec = Number(env("WATCHDOG_USEC"));
    const forPid = env("WATCHDOG_PID");
    // sd_watchdog_enabled(3): the watchdog is this process's unless WATCHDOG_PID names another.
    const mine = usec > 0 && (forPid === undefined || Number(forPid) === pid);
    return new SystemdNotifier(log, mine ? usec / 1000 : undefined, command);
  }

  /** Tandem takes calls. */
  ready(status: string): void {
    this.send(["READY=1", `STATUS=${status}`]);
  }

  /** Tandem drains or exits (the watchdog goes on until the process ends: a drain may hang). */
  stopping(status: string): void {
    this.send(["STOPPING=1", `STATUS=${status}`]);
  }

  /**
   * Pings the watchdog at half its interval while `healthy()` holds (a status line with each);
   * a ping missed past the interval gets the process restarted by systemd.
   */
  startWatchdog(healthy: () => boolean, status: () => string): void {
    if (this.watchdogMs === undefined || this.timer) return;
    const ping = () => {
      if (healthy()) this.send(["WATCHDOG=1", `STATUS=${status()}`]);
      else this.log.warn("systemd-watchdog-withheld", { why: "SIP listeners are not up" });
    };
    this.timer = setInterval(ping, Math.max(500, this.watchdogMs / 2));
    (this.timer as { unref?: () => void }).unref?.();
  }

  stopWatchdog(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private send(lines: string[]): void {
    if (this.missing) return;
    try {
      const child = spawn(this.command, ["--no-block", ...lines], { stdio: "ignore" });
      child.on("error", (err) => this.unavailable(err));
      child.unref?.();
    } catch (err) {
      this.unavailable(err as Error);
    }
  }

  private unavailable(err: Error): void {
    if (this.missing) return;
    this.missing = true;
    this.log.warn("systemd-notify-unavailable", { err, command: this.command });
  }
}

// The `tandem` entry point minus starting the server, which the caller supplies: parse the
// command line, load the configuration, run a one-shot command or hand over to `start`.

import {
  type Config,
  ConfigError,
  defaultConfig,
  effectiveConfigText,
  loadConfigFile,
  TANDEM_VERSION,
} from "../config/mod.ts";
import { type CliCommand, parseCli } from "./args.ts";
import { type ClientIO, runClientCommand } from "./client.ts";
import { describeMatch } from "./match.ts";

/** The `run` command (start the B2BUA). */
export type RunCommand = Extract<CliCommand, { kind: "run" }>;

/** What `runCli` needs from the program that embeds it. */
export interface CliHooks {
  /** Start the B2BUA with the loaded configuration; resolve with the exit status. */
  start(cfg: Config, cmd: RunCommand): Promise<number>;
  /** I/O for tests; defaults to the console, the process environment and fetch. */
  io?: Partial<ClientIO>;
}

/**
 * Load the configuration named by `path`, else $TANDEM_CONFIG, else the embedded default.
 * Throws ConfigError.
 */
export function loadCliConfig(
  path: string | undefined,
  env: (n: string) => string | undefined,
): Config {
  const file = path ?? env("TANDEM_CONFIG");
  return file ? loadConfigFile(file, { env }) : defaultConfig();
}

/** Run `tandem` with `argv` (without the program name); resolves with the exit status. */
export async function runCli(argv: string[], hooks: CliHooks): Promise<number> {
  const io: ClientIO = {
    fetch: hooks.io?.fetch ?? globalThis.fetch.bind(globalThis),
    out: hooks.io?.out ?? ((t) => console.log(t)),
    err: hooks.io?.err ?? ((t) => console.error(t)),
    env: hooks.io?.env ??
      ((n) =>
        (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env[n]),
  };
  const cmd = parseCli(argv);
  switch (cmd.kind) {
    case "help":
      io.out(cmd.text.trimEnd());
      return 0;
    case "usage-error":
      io.err(`tandem: ${cmd.message}\n\n${cmd.usage.trimEnd()}`);
      return 2;
    case "version":
      io.out(`tandem ${TANDEM_VERSION} (${runtimeName()})`);
      return 0;
  }
  // Client commands without a config file talk to the default address; they do not need
  // the embedded default's other settings.
  const explicit = cmd.config ?? io.env("TANDEM_CONFIG");
  let cfg: Config | undefined;
  try {
    // `tandem match` reads routing only: a secret the shell asking has no variable for (a
    // password from the service's environment) must not stop it.
    const env = cmd.kind === "match" ? (n: string) => io.env(n) ?? `unset-${n}` : io.env;
    cfg = cmd.kind === "client" && !explicit ? undefined : loadCliConfig(cmd.config, env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    io.err(e.message);
    if (cmd.kind === "check-config") {
      io.err(`${e.errors.length} error${e.errors.length === 1 ? "" : "s"}`);
    }
    return 2;
  }
  switch (cmd.kind) {
    case "check-config":
      io.out(
        `${cfg!.source}: configuration OK (${cfg!.rules.length} rule${
          cfg!.rules.length === 1 ? "" : "s"
        })`,
      );
      return 0;
    case "print-config":
      io.out(effectiveConfigText(cfg!).trimEnd());
      return 0;
    case "match": {
      const a = describeMatch(cfg!, cmd);
      io.out(cmd.json ? JSON.stringify(a.json, null, 2) : a.text);
      return a.matched ? 0 : 1;
    }
    case "client":
      return await runClientCommand(cmd, cfg, io);
    case "run": {
      const c = cfg!;
      if (cmd.logLevel) c.log.level = cmd.logLevel;
      if (cmd.logFormat) c.log.format = cmd.logFormat;
      return await hooks.start(c, cmd);
    }
  }
}

/** The runtime this build runs on ("bun 1.x", "deno 2.x" or "node ..."), for --version. */
export function runtimeName(): string {
  const g = globalThis as {
    Bun?: { version: string };
    Deno?: { version: { deno: string } };
    process?: { version: string };
  };
  if (g.Bun) return `bun ${g.Bun.version}`;
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  return `node ${g.process?.version ?? "?"}`;
}

// Command-line parsing. Pure: argv in, a command out, so every case is a unit test.

import { parseArgs } from "node:util";
import { COMMAND_HELP, MAIN_HELP } from "./help.ts";
import { isIpLiteral } from "../transport/address.ts";

/** The HTTP-API commands. */
export type ClientAction =
  | "calls"
  | "routes"
  | "registrations"
  | "outbound-registrations"
  | "drop"
  | "reload"
  | "drain"
  | "stats";

/** What the command line asks for. */
export type CliCommand =
  /** Run the B2BUA. */
  | { kind: "run"; config?: string; logLevel?: LogLevel; logFormat?: LogFormat }
  /** Validate the configuration and exit. */
  | { kind: "check-config"; config?: string }
  /** Print the effective configuration and exit. */
  | { kind: "print-config"; config?: string }
  | { kind: "version" }
  /** Print `text` to stdout, exit 0. */
  | { kind: "help"; text: string }
  /** Bad usage: print `message` and `usage` to stderr, exit 2. */
  | { kind: "usage-error"; message: string; usage: string }
  /** Which rule and routes a call would take, from the configuration alone. */
  | {
    kind: "match";
    config?: string;
    ruriUser: string;
    fromUser: string;
    sourceIp: string;
    headers: [string, string][];
    /** When the call comes (epoch ms), for `match.time`; absent: now. */
    at?: number;
    json: boolean;
  }
  /** Talk to a running instance. */
  | {
    kind: "client";
    action: ClientAction;
    config?: string;
    url?: string;
    token?: string;
    json: boolean;
    callId?: string;
  };

/** Log levels accepted by --log-level. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Formats accepted by --log-format. */
export type LogFormat = "json" | "pretty";

const OPTIONS = {
  config: { type: "string", short: "c" },
  "check-config": { type: "boolean" },
  "print-config": { type: "boolean" },
  version: { type: "boolean", short: "V" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  url: { type: "string" },
  token: { type: "string" },
  from: { type: "string" },
  source: { type: "string" },
  header: { type: "string", multiple: true },
  at: { type: "string" },
} as const;

const MAIN_ONLY = ["check-config", "print-config", "version", "log-level", "log-format"];
const CLIENT_ONLY = ["url", "token", "json"];
const MATCH_ONLY = ["from", "source", "header", "at"];
const ACTIONS: readonly ClientAction[] = [
  "calls",
  "routes",
  "registrations",
  "outbound-registrations",
  "drop",
  "reload",
  "drain",
  "stats",
];
/** The commands that list JSON and can print it raw (--json). */
const LISTS: readonly ClientAction[] = [
  "calls",
  "routes",
  "registrations",
  "outbound-registrations",
];

/** Parse `argv` (without the program name). Never throws; never touches the environment. */
export function parseCli(argv: string[]): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (e) {
    const sub = argv.find((a) => !a.startsWith("-"));
    return {
      kind: "usage-error",
      message: (e as Error).message,
      usage: COMMAND_HELP[sub ?? ""] ?? MAIN_HELP,
    };
  }
  const { values: v, positionals: pos } = parsed;
  const given = new Set<string>(
    parsed.tokens.filter((t) => t.kind === "option").map((t) => t.name),
  );
  const err = (message: string, usage = MAIN_HELP): CliCommand => ({
    kind: "usage-error",
    message,
    usage,
  });

  if (pos.length === 0 || pos[0] === "help" && pos.length === 1) {
    const wrong = CLIENT_ONLY.find((o) => given.has(o));
    if (wrong) {
      return err(`--${wrong} belongs to a command (${ACTIONS.join(", ")})`);
    }
    const matchOnly = MATCH_ONLY.find((o) => given.has(o));
    if (matchOnly) return err(`--${matchOnly} belongs to "match"`);
    if (v.help || pos[0] === "help") return { kind: "help", text: MAIN_HELP };
    if (v.version) return { kind: "version" };
    if (v["check-config"] && v["print-config"]) {
      return err("--check-config and --print-config exclude each other");
    }
    if (v["check-config"]) return { kind: "check-config", config: v.config };
    if (v["print-config"]) return { kind: "print-config", config: v.config };
    const logLevel = v["log-level"];
    if (logLevel !== undefined && !["debug", "info", "warn", "error"].includes(logLevel)) {
      return err(`--log-level must be debug, info, warn or error, not "${logLevel}"`);
    }
    const logFormat = v["log-format"];
    if (logFormat !== undefined && !["json", "pretty"].includes(logFormat)) {
      return err(`--log-format must be json or pretty, not "${logFormat}"`);
    }
    return {
      kind: "run",
      config: v.config,
      logLevel: logLevel as LogLevel | undefined,
      logFormat: logFormat as LogFormat | undefined,
    };
  }

  if (pos[0] === "help") {
    const text = COMMAND_HELP[pos[1]];
    return pos.length === 2 && text
      ? { kind: "help", text }
      : err(`no help for "${pos.slice(1).join(" ")}"`);
  }
  if (pos[0] === "match") return parseMatch(v, given, pos);
  const action = pos[0] as ClientAction;
  if (!ACTIONS.includes(action)) return err(`unknown command "${pos[0]}"`);
  const usage = COMMAND_HELP[action];
  if (v.help) return { kind: "help", text: usage };
  const wrong = [...MAIN_ONLY, ...MATCH_ONLY].find((o) => given.has(o));
  if (wrong) return err(`--${wrong} does not apply to "${action}"`, usage);
  if (v.json && !LISTS.includes(action)) {
    return err(`--json applies to ${LISTS.map((a) => `"${a}"`).join(", ")} only`, usage);
  }
  const want = action === "drop" ? 2 : 1;
  if (pos.length < want) return err(`"drop" needs a call id`, usage);
  if (pos.length > want) return err(`unexpected argument "${pos[want]}"`, usage);
  if (v.url !== undefined && !/^https?:\/\/[^\s/]+/.test(v.url)) {
    return err(`--url must be an http(s) URL, not "${v.url}"`, usage);
  }
  return {
    kind: "client",
    action,
    config: v.config,
    url: v.url,
    token: v.token,
    json: v.json ?? false,
    ...(action === "drop" ? { callId: pos[1] } : {}),
  };
}

/**
 * `tandem match <number> [--from USER] [--source IP] [--header "Name: value"]... [--at TIME]
 * [--json]`.
 */
function parseMatch(
  v: {
    help?: boolean;
    config?: string;
    json?: boolean;
    from?: string;
    source?: string;
    header?: string[];
    at?: string;
  },
  given: Set<string>,
  pos: string[],
): CliCommand {
  const usage = COMMAND_HELP.match;
  const err = (message: string): CliCommand => ({ kind: "usage-error", message, usage });
  if (v.help) return { kind: "help", text: usage };
  const wrong = [...MAIN_ONLY, "url", "token"].find((o) => given.has(o));
  if (wrong) return err(`--${wrong} does not apply to "match"`);
  if (pos.length < 2) return err(`"match" needs the number dialled (the Request-URI user)`);
  if (pos.length > 2) return err(`unexpected argument "${pos[2]}"`);
  const headers: [string, string][] = [];
  for (const h of v.header ?? []) {
    const colon = h.indexOf(":");
    const name = colon < 0 ? "" : h.slice(0, colon).trim();
    if (!/^[A-Za-z0-9!%*_+`'~.-]+$/.test(name)) {
      return err(`--header must be "Name: value", not "${h}"`);
    }
    headers.push([name, h.slice(colon + 1).trim()]);
  }
  const source = (v.source ?? "192.0.2.1").replace(/^\[|\]$/g, "");
  if (!isIpLiteral(source)) {
    return err(`--source must be an IP address, not "${source}"`);
  }
  // A time with its offset (or Z): a bare local time would depend on the shell's zone.
  const at = v.at === undefined ? undefined : Date.parse(v.at);
  if (at !== undefined && (!/(Z|[+-]\d{2}:\d{2})$/i.test(v.at!) || Number.isNaN(at))) {
    return err(
      `--at must be an ISO 8601 time with its offset (2026-12-24T18:30:00Z), not "${v.at}"`,
    );
  }
  return {
    kind: "match",
    config: v.config,
    ruriUser: pos[1],
    fromUser: v.from ?? "",
    sourceIp: source,
    headers,
    ...(at !== undefined ? { at } : {}),
    json: v.json ?? false,
  };
}

// The `tandem` command line: parsing, one-shot commands and the HTTP-API client. The root
// mod.ts calls runCli with a `start` hook that runs the server.

export {
  type CliCommand,
  type ClientAction,
  type LogFormat,
  type LogLevel,
  parseCli,
} from "./args.ts";
export { apiBaseUrl, callsTable, type ClientIO, runClientCommand } from "./client.ts";
export { type CliHooks, loadCliConfig, runCli, type RunCommand, runtimeName } from "./main.ts";
export { COMMAND_HELP, MAIN_HELP } from "./help.ts";

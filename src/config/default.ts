// The configuration used when no file is given, built into the binary (STYLE §7). A default
// install has no upstream, so it has no rules: every INVITE is answered 404 "No route" until
// the operator writes rules. OPTIONS to the B2BUA itself, and the HTTP API, still work.

import type { Config } from "./types.ts";
import { parseConfig } from "./load.ts";

/** The embedded default configuration, YAML. */
export const DEFAULT_CONFIG_YAML = `# Tandem built-in default configuration.
# No rules: with no upstream configured, every INVITE is answered 404 "No route".
sip:
  listen:
    - { address: 0.0.0.0, port: 5060, transports: [udp, tcp] }
    - { address: "::", port: 5060, transports: [udp, tcp] }
  timers: { t1: 500ms, t2: 4s, t4: 5s }
  max_message_size: 65535
  tcp: { idle_timeout: 120s, connect_timeout: 3s }
http:
  listen: 127.0.0.1:8080
log: { level: info, format: json }
limits: { max_calls: 150000, retry_after: 5, drain_timeout: 60s }
rules: []
`;

/** Name used as `Config.source` for the embedded default. */
export const EMBEDDED_SOURCE = "<embedded>";

/** A fresh copy of the default configuration (no environment substitution is involved). */
export function defaultConfig(): Config {
  return parseConfig(DEFAULT_CONFIG_YAML, EMBEDDED_SOURCE, "yaml", { env: {} });
}

// Help texts, one per command, printed by --help and on usage errors.

/** Top-level usage. */
export const MAIN_HELP = `Usage: tandem [options]
       tandem <command> [command options]

Tandem, a SIP back-to-back user agent.

Options:
  --config FILE        configuration file (.yaml, .yml or .toml); default: $TANDEM_CONFIG,
                       else the built-in default (SIP on 0.0.0.0 and :: port 5060, HTTP on
                       127.0.0.1:8080, no routing rules: every INVITE gets 404)
  --check-config       validate the configuration, print every error, exit 0 or 2
  --print-config       print the effective configuration (YAML, secrets masked)
  --log-level LEVEL    debug | info | warn | error (overrides log.level)
  --log-format FORMAT  json | pretty (overrides log.format)
  --version            print the version
  --help               this text

Commands (talk to a running instance's HTTP API):
  calls [--json]       list live calls
  routes [--json]      list routes: calls, attempts and ASR, limits, probed servers
  registrations [--json]  list phones registered through Tandem (registrar)
  outbound-registrations [--json]
                       list accounts Tandem registers at carriers, and their state
  drop <call-id>       end one call (BYE both sides)
  reload               re-read the configuration file
  drain                stop taking calls; let live calls finish
  stats                print the metrics (Prometheus text)
  help [command]       help for a command

  match <number> [--from USER] [--source IP] [--header "Name: value"]... [--at TIME] [--json]
                       which rule a call to <number> comes under and the routes it tries,
                       from the configuration file alone (no instance needed)

Exit status: 0 ok, 1 failure (server unreachable or refused), 2 usage or configuration error.
`;

const CLIENT_OPTS = `
Options:
  --url URL       API base URL; default: from the configuration's http.listen
                  (http://127.0.0.1:8080)
  --token TOKEN   bearer token; default: the configuration's http.token, else $TANDEM_TOKEN
  --config FILE   configuration to take the URL and token from
  --help          this text
`;

/** Help per client command. */
export const COMMAND_HELP: Record<string, string> = {
  calls:
    `Usage: tandem calls [--json] [options]\n\nList live calls (GET /calls).\n  --json          print the raw JSON array\n${CLIENT_OPTS}`,
  registrations:
    `Usage: tandem registrations [--json] [options]\n\nList the phones registered through Tandem at its registrar (GET /registrations): address\nof record, Contact, connection and when the registration runs out.\n  --json          print the raw JSON array\n${CLIENT_OPTS}`,
  "outbound-registrations":
    `Usage: tandem outbound-registrations [--json] [options]\n\nList the accounts Tandem registers at carriers (outbound_registrations; GET\n/outbound-registrations): name, address of record, state, the registrar's server, the last\nanswer, when the binding runs out and when the next REGISTER goes.\n  --json          print the raw JSON array\n${CLIENT_OPTS}`,
  routes:
    `Usage: tandem routes [--json] [options]\n\nList the configured routes (GET /routes): the rules using each, its calls now and its\nlimits, its attempts and answer-seizure ratio since start, and its probed servers.\n  --json          print the raw JSON array\n${CLIENT_OPTS}`,
  drop:
    `Usage: tandem drop <call-id> [options]\n\nEnd one live call: BYE to both sides (DELETE /calls/<call-id>).\n${CLIENT_OPTS}`,
  reload:
    `Usage: tandem reload [options]\n\nAsk the instance to re-read its configuration file (POST /reload). New calls use the\nnew configuration; live calls keep theirs. A file with errors is refused, and the errors printed.\n${CLIENT_OPTS}`,
  drain:
    `Usage: tandem drain [options]\n\nStop accepting new calls (503 with Retry-After) and let live calls finish; calls still up\nafter limits.drain_timeout are dropped (POST /drain).\n${CLIENT_OPTS}`,
  match:
    `Usage: tandem match <number> [--from USER] [--source IP] [--header "Name: value"]...\n                    [--at TIME] [--json] [--config FILE]\n\nWhich rule a call to <number> (the Request-URI user) comes under, as rules[].match sees\nthe INVITE, and what it then does: the routes it tries in their order, its auth, limits and\npriority, or the answer of a reject rule. Read from the configuration file; no instance\nneeded.\n  --from USER     the From user (default: empty)\n  --source IP     the address the INVITE comes from (default 192.0.2.1)\n  --header H      a header line of the INVITE, "Name: value" (repeat for more)\n  --at TIME       when the call comes, for rules with match.time: ISO 8601 with its offset\n                  (2026-12-24T18:30:00+01:00); default: now\n  --json          print JSON\n  --config FILE   configuration file; default: $TANDEM_CONFIG, else the built-in default\n\nExit status: 0 a rule matches, 1 none does (the call gets 404), 2 usage or configuration error.\n`,
  stats:
    `Usage: tandem stats [options]\n\nPrint the instance's metrics in Prometheus text format (GET /metrics).\n${CLIENT_OPTS}`,
};

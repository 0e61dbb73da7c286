// Command-line parsing: every command, option placement and usage error.
import assert from "node:assert/strict";
import { COMMAND_HELP, MAIN_HELP, parseCli } from "../../src/cli/mod.ts";

Deno.test("no arguments runs the server with the default config", () => {
  assert.deepEqual(parseCli([]), {
    kind: "run",
    config: undefined,
    logLevel: undefined,
    logFormat: undefined,
  });
});

Deno.test("run options", () => {
  assert.deepEqual(
    parseCli(["--config", "t.yaml", "--log-level", "debug", "--log-format=pretty"]),
    {
      kind: "run",
      config: "t.yaml",
      logLevel: "debug",
      logFormat: "pretty",
    },
  );
  assert.deepEqual(parseCli(["-c", "t.toml"]), {
    kind: "run",
    config: "t.toml",
    logLevel: undefined,
    logFormat: undefined,
  });
});

Deno.test("one-shot commands", () => {
  assert.deepEqual(parseCli(["--check-config", "--config", "a.yaml"]), {
    kind: "check-config",
    config: "a.yaml",
  });
  assert.deepEqual(parseCli(["--print-config"]), { kind: "print-config", config: undefined });
  assert.deepEqual(parseCli(["--version"]), { kind: "version" });
  assert.deepEqual(parseCli(["--help"]), { kind: "help", text: MAIN_HELP });
  assert.deepEqual(parseCli(["help"]), { kind: "help", text: MAIN_HELP });
  assert.deepEqual(parseCli(["help", "drop"]), { kind: "help", text: COMMAND_HELP.drop });
});

Deno.test("client commands, with options before or after the command", () => {
  assert.deepEqual(parseCli(["calls", "--json"]), {
    kind: "client",
    action: "calls",
    config: undefined,
    url: undefined,
    token: undefined,
    json: true,
  });
  assert.deepEqual(
    parseCli([
      "--config",
      "t.yaml",
      "drop",
      "abc@host",
      "--url",
      "http://10.0.0.1:8080",
      "--token",
      "t",
    ]),
    {
      kind: "client",
      action: "drop",
      config: "t.yaml",
      url: "http://10.0.0.1:8080",
      token: "t",
      json: false,
      callId: "abc@host",
    },
  );
  for (const action of ["reload", "drain", "stats"]) {
    assert.equal(parseCli([action]).kind, "client");
    assert.deepEqual(parseCli([action, "--help"]), { kind: "help", text: COMMAND_HELP[action] });
  }
  assert.deepEqual(parseCli(["calls", "-h"]), { kind: "help", text: COMMAND_HELP.calls });
});

Deno.test("usage errors carry the message and the relevant usage", () => {
  const e = (argv: string[]) => {
    const c = parseCli(argv);
    assert.equal(c.kind, "usage-error", argv.join(" "));
    return c as { message: string; usage: string };
  };
  assert.match(e(["--bogus"]).message, /bogus/);
  assert.equal(
    e(["--log-level", "loud"]).message,
    '--log-level must be debug, info, warn or error, not "loud"',
  );
  assert.equal(
    e(["--log-format", "xml"]).message,
    '--log-format must be json or pretty, not "xml"',
  );
  assert.equal(
    e(["--check-config", "--print-config"]).message,
    "--check-config and --print-config exclude each other",
  );
  assert.equal(e(["frobnicate"]).message, 'unknown command "frobnicate"');
  const drop = e(["drop"]);
  assert.deepEqual([drop.message, drop.usage], ['"drop" needs a call id', COMMAND_HELP.drop]);
  assert.equal(e(["drop", "a", "b"]).message, 'unexpected argument "b"');
  assert.equal(e(["reload", "now"]).message, 'unexpected argument "now"');
  assert.equal(
    e(["stats", "--json"]).message,
    '--json applies to "calls", "routes", "registrations", "outbound-registrations" only',
  );
  assert.equal(e(["calls", "--check-config"]).message, '--check-config does not apply to "calls"');
  assert.equal(
    e(["--json"]).message,
    "--json belongs to a command (calls, routes, registrations, outbound-registrations, drop, " +
      "reload, drain, stats)",
  );
  assert.equal(
    e(["calls", "--url", "127.0.0.1:8080"]).message,
    '--url must be an http(s) URL, not "127.0.0.1:8080"',
  );
  assert.match(e(["--config"]).message, /config/);
  assert.equal(e(["help", "nope"]).message, 'no help for "nope"');
});

Deno.test("match: the number, --from, --source, repeated --header and --json; its usage errors", () => {
  assert.deepEqual(
    parseCli([
      "match",
      "4412345",
      "--from",
      "alice",
      "--source",
      "[2001:db8::1]",
      "--header",
      "X-Account: acme",
      "--header=P-Asserted-Identity:<sip:+4420@x>",
      "--json",
      "-c",
      "t.yaml",
    ]),
    {
      kind: "match",
      config: "t.yaml",
      ruriUser: "4412345",
      fromUser: "alice",
      sourceIp: "2001:db8::1",
      headers: [["X-Account", "acme"], ["P-Asserted-Identity", "<sip:+4420@x>"]],
      json: true,
    },
  );
  assert.deepEqual(parseCli(["match", "911"]), {
    kind: "match",
    config: undefined,
    ruriUser: "911",
    fromUser: "",
    sourceIp: "192.0.2.1",
    headers: [],
    json: false,
  });
  const usage = (argv: string[]) => {
    const c = parseCli(argv);
    assert.equal(c.kind, "usage-error", argv.join(" "));
    return (c as { message: string }).message;
  };
  assert.match(usage(["match"]), /needs the number dialled/);
  assert.match(usage(["match", "1", "2"]), /unexpected argument "2"/);
  assert.match(usage(["match", "1", "--source", "pbx.example"]), /--source must be an IP/);
  assert.match(usage(["match", "1", "--header", "no colon"]), /--header must be "Name: value"/);
  assert.match(usage(["match", "1", "--url", "http://x"]), /--url does not apply to "match"/);
  assert.match(usage(["calls", "--from", "a"]), /--from does not apply to "calls"/);
  assert.match(usage(["--source", "10.0.0.1"]), /--source belongs to "match"/);
  // --at: an instant, with its offset.
  const at = parseCli(["match", "2000", "--at", "2026-12-24T18:30:00+01:00"]);
  assert.equal((at as { at?: number }).at, Date.UTC(2026, 11, 24, 17, 30));
  assert.match(
    usage(["match", "1", "--at", "2026-12-24T18:30:00"]),
    /--at must be an ISO 8601 time/,
  );
  assert.match(usage(["match", "1", "--at", "tomorrow"]), /--at must be an ISO 8601 time/);
  assert.match(usage(["calls", "--at", "2026-12-24T18:30:00Z"]), /--at does not apply to "calls"/);
  assert.equal(parseCli(["match", "--help"]).kind, "help");
  assert.ok(COMMAND_HELP.match.includes("tandem match <number>"));
  assert.ok(MAIN_HELP.includes("match <number>"));
});

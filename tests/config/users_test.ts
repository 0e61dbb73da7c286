// `users` and `auth.mode: local`: callers' digest credentials in the configuration, masked when
// printed, and each mistake named by its key.

import assert from "node:assert/strict";
import {
  ConfigError,
  effectiveConfigText,
  formatIssue,
  parseConfig,
} from "../../src/config/mod.ts";

const load = (text: string, env: Record<string, string> = {}) =>
  parseConfig(text, "t.yaml", "yaml", { env });

function errorsOf(text: string): string[] {
  try {
    load(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.errors.map(formatIssue);
  }
  throw new Error("expected a ConfigError");
}

const RULE =
  'rules:\n  - { auth: { mode: local, realm: tandem.example }, routes: [{ target: "192.0.2.1" }] }\n';

Deno.test("users: passwords from the environment or HA1s, masked in the printed configuration", () => {
  const cfg = load(
    `users:
  - { username: pbx1, password: "\${PBX1_PASSWORD}" }
  - { username: pbx2, ha1: 0123456789ABCDEF0123456789abcdef, numbers: ["+1215555", 4420] }
${RULE}`,
    { PBX1_PASSWORD: "s3cret" },
  );
  assert.deepEqual(cfg.users, [
    { username: "pbx1", password: "s3cret" },
    { username: "pbx2", ha1: "0123456789abcdef0123456789abcdef", numbers: ["1215555", "4420"] },
  ]);
  assert.equal(cfg.rules[0].auth.mode, "local");
  const masked = effectiveConfigText(cfg);
  assert.doesNotMatch(masked, /s3cret|0123456789abcdef/);
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.users, cfg.users);
});

Deno.test("users: each mistake named; mode local needs users", () => {
  const errs = errorsOf(`users:
  - { username: pbx1 }
  - { username: pbx1, password: a, ha1: 0123456789abcdef0123456789abcdef }
  - { username: pbx3, ha1: nothex }
  - { password: x }
  - { username: pbx5, password: x, numbers: ["12a"] }
${RULE}`);
  const text = errs.join("\n");
  for (
    const want of [
      "t.yaml:2: users[0]: expected exactly one of password, ha1, got neither",
      "t.yaml:3: users[1].username: expected a user name no other user has",
      "t.yaml:3: users[1]: expected exactly one of password, ha1, got both",
      "t.yaml:4: users[2].ha1: expected 32 hex digits: MD5(username:realm:password)",
      "t.yaml:5: users[3].username: expected a user name, got nothing",
      't.yaml:6: users[4].numbers[0]: expected a number prefix of 1-15 digits, got "12a"',
    ]
  ) assert.ok(text.includes(want), `${want}\nin:\n${text}`);
  assert.match(
    errorsOf(RULE)[0],
    /rules\[0\]\.auth\.mode: expected a users section for auth mode local/,
  );
});

Deno.test("auth.calling_number: any by default, enforce read and printed back; anything else named", () => {
  const text = (v: string) =>
    `users: [{ username: pbx1, password: x, numbers: ["1215555"] }]
rules:
  - auth: { mode: local, calling_number: ${v} }
    routes: [{ target: "192.0.2.10" }]
`;
  const cfg = load(text("enforce"));
  assert.equal(cfg.rules[0].auth.callingNumber, "enforce");
  assert.equal(load(text("any")).rules[0].auth.callingNumber, undefined);
  const back = load(effectiveConfigText(cfg, { mask: false }));
  assert.equal(back.rules[0].auth.callingNumber, "enforce");
  assert.match(
    errorsOf(text("strict"))[0],
    /rules\[0\]\.auth\.calling_number: expected one of any, enforce/,
  );
});

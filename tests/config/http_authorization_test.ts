// `http_authorization` and rules with `auth.mode: http`: values, defaults, errors, and the
// effective configuration that loads back the same with its token masked.

import assert from "node:assert/strict";
import { effectiveConfigText, parseConfig } from "../../src/config/mod.ts";
import { errorsOf, load } from "./with-certs.ts";

Deno.test("http_authorization: values and defaults; a rule in http mode; loads back the same", () => {
  const cfg = load(`
http_authorization:
  url: "http://127.0.0.1:9000/authorize"
  headers: { Authorization: "Bearer s3cret" }
  sip_headers: [X-Account, P-Asserted-Identity]
rules:
  - { name: customers, auth: { mode: http, on_timeout: allow }, routes: [{ target: "192.0.2.1" }] }
`);
  assert.deepEqual(cfg.httpAuthorization, {
    url: "http://127.0.0.1:9000/authorize",
    timeout: 2000,
    headers: { Authorization: "Bearer s3cret" },
    sipHeaders: ["x-account", "p-asserted-identity"],
  });
  assert.equal(cfg.rules[0].auth.mode, "http");
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.httpAuthorization, cfg.httpAuthorization);
  assert.deepEqual(back.rules, cfg.rules);
  assert.doesNotMatch(effectiveConfigText(cfg), /s3cret/);
});

Deno.test("http_authorization: bad values name the key; http mode without the section is refused", () => {
  assert.deepEqual(
    errorsOf(
      'http_authorization: { url: "ftp://x", timeout: 1m, sip_headers: ["X Bad"] }\n' +
        'rules: [{ auth: { mode: http }, routes: [{ target: "192.0.2.1" }] }]\n',
    ),
    [
      'F:1: http_authorization.url: expected an http(s) URL, got "ftp://x"',
      'F:1: http_authorization.timeout: expected a duration between 100ms and 30s (seconds, or a string like "500ms", "5s", "2m", "1h"), got "1m"',
      'F:1: http_authorization.sip_headers[0]: expected a header name (token characters only), got "X Bad"',
    ],
    "a broken section has its own errors, not one per rule",
  );
  assert.deepEqual(
    errorsOf('rules: [{ auth: { mode: http }, routes: [{ target: "192.0.2.1" }] }]\n'),
    [
      "F:1: rules[0].auth.mode: expected an http_authorization section with a url for auth mode http, got none",
    ],
  );
});

Deno.test("rules auth.digest: with mode http only; loads back the same", () => {
  const cfg = load(`
http_authorization: { url: "http://127.0.0.1:9000/authorize" }
rules:
  - { auth: { mode: http, digest: true, realm: tandem.test }, routes: [{ target: "192.0.2.1" }] }
`);
  assert.deepEqual(cfg.rules[0].auth, {
    mode: "http",
    realm: "tandem.test",
    onTimeout: "reject",
    digest: true,
  });
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.rules, cfg.rules);
  assert.deepEqual(
    errorsOf(
      "radius: { servers: [{ address: 127.0.0.1, secret: s }] }\n" +
        'rules: [{ auth: { mode: source, digest: true }, routes: [{ target: "192.0.2.1" }] }]\n',
    ),
    ["F:2: rules[0].auth.digest: expected mode http, got mode source"],
  );
});

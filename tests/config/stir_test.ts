// stir_shaken: the signing key and the trusted STI-CAs read and checked at load (a key that is
// not EC P-256 stops Tandem, naming the file), defaults, rules' own settings, and each mistake
// named by its key.

import assert from "node:assert/strict";
import {
  ConfigError,
  effectiveConfigText,
  formatIssue,
  parseConfig,
} from "../../src/config/mod.ts";
import { makePki, type Pki } from "../stir/pki.ts";

function load(pki: Pki, text: string) {
  return parseConfig(text, `${pki.dir}/tandem.yaml`, "yaml", { env: {} });
}

function errorsOf(pki: Pki, text: string): string[] {
  try {
    load(pki, text);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.errors.map(formatIssue).map((m) => m.replaceAll(pki.dir, "D"));
  }
  throw new Error("expected a ConfigError");
}

const ROUTE = 'routes: [{ target: "192.0.2.1:5060" }]';

Deno.test("stir_shaken: files relative to the config, defaults, rules' own settings, printed without PEM", async () => {
  const pki = await makePki();
  try {
    const cfg = load(
      pki,
      `stir_shaken:
  sign: { key: sp.key, x5u: "https://cert.example.net/sp.pem" }
  verify: { ca: ca.pem }
rules:
  - { name: customers, stir_shaken: { attest: A, origid: 0F0E0D0C-0B0A-4908-8706-050403020100 }, ${ROUTE} }
  - { name: carriers, stir_shaken: { verify: reject, attest: none }, ${ROUTE} }
`,
    );
    const s = cfg.stirShaken!;
    assert.equal(s.sign!.keyFile, pki.keyFile);
    assert.match(s.sign!.key, /EC PRIVATE KEY/);
    assert.equal(s.sign!.attest, undefined, "no default attestation: only rules that say sign");
    assert.equal(s.verify!.caFile, pki.caFile);
    assert.deepEqual(
      [
        s.verify!.mode,
        s.verify!.maxAge,
        s.verify!.fetchTimeout,
        s.verify!.cacheTtl,
        s.verify!.allowHttp,
      ],
      ["mark", 60_000, 2000, 3_600_000, false],
    );
    assert.deepEqual(cfg.rules[0].stirShaken, {
      attest: "A",
      origid: "0f0e0d0c-0b0a-4908-8706-050403020100",
    });
    assert.deepEqual(cfg.rules[1].stirShaken, { verify: "reject", attest: "none" });
    const text = effectiveConfigText(cfg, { mask: false });
    assert.doesNotMatch(text, /BEGIN/, "the key and CAs by file name only");
    const back = load(pki, text);
    assert.deepEqual(back.stirShaken, cfg.stirShaken);
    assert.deepEqual(back.rules.map((r) => r.stirShaken), cfg.rules.map((r) => r.stirShaken));
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "null" })
    .output();
  assert.ok(out.success, `openssl ${args.join(" ")}`);
}

Deno.test("stir_shaken: a key that is not EC P-256, missing files and bad values are named", async () => {
  const pki = await makePki();
  try {
    await openssl(
      pki.dir,
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:1024",
      "-out",
      "rsa.key",
    );
    await openssl(
      pki.dir,
      "ecparam",
      "-name",
      "secp384r1",
      "-genkey",
      "-noout",
      "-out",
      "p384.key",
    );
    const rsa = errorsOf(pki, 'stir_shaken: { sign: { key: rsa.key, x5u: "https://x/" } }\n');
    assert.equal(rsa.length, 1, rsa.join("\n"));
    assert.match(
      rsa[0],
      /stir_shaken\.sign\.key: expected an EC P-256 private key \(ES256\), got D\/rsa\.key: rsa/,
    );
    const p384 = errorsOf(pki, 'stir_shaken: { sign: { key: p384.key, x5u: "https://x/" } }\n');
    assert.match(p384[0], /stir_shaken\.sign\.key: .*P-256.*secp384r1/);
    const many = errorsOf(
      pki,
      `stir_shaken:
  sign: { key: gone.key, x5u: "ftp://x/", attest: D }
  verify: { mode: loud, max_age: 0, allow_http: yes }
`,
    );
    const text = many.join("\n");
    for (
      const key of [
        "stir_shaken.sign.key: expected a readable PEM file",
        "stir_shaken.sign.x5u: expected an http(s) URL",
        "stir_shaken.sign.attest: expected one of A, B, C",
        "stir_shaken.verify.mode: expected one of off, mark, reject, require",
        "stir_shaken.verify.ca: expected a PEM file",
        "stir_shaken.verify.max_age: expected a duration",
        "stir_shaken.verify.allow_http: expected true or false",
      ]
    ) assert.ok(text.includes(key), `${key} in:\n${text}`);
    assert.match(
      errorsOf(pki, "stir_shaken: {}\n")[0],
      /stir_shaken: expected sign, verify or both/,
    );
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("stir_shaken: a rule that signs or checks needs the section that does", async () => {
  const pki = await makePki();
  try {
    const errs = errorsOf(
      pki,
      `rules:
  - { stir_shaken: { attest: B }, ${ROUTE} }
  - { stir_shaken: { verify: mark, origid: not-a-uuid }, ${ROUTE} }
  - { stir_shaken: { attest: none, verify: "off" }, ${ROUTE} }
`,
    );
    assert.equal(errs.length, 3, errs.join("\n"));
    assert.match(errs[0], /rules\[0\]\.stir_shaken\.attest: expected a stir_shaken\.sign section/);
    assert.match(errs[1], /rules\[1\]\.stir_shaken\.origid: expected a UUID/);
    assert.match(
      errs[2],
      /rules\[1\]\.stir_shaken\.verify: expected a stir_shaken\.verify section/,
    );
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

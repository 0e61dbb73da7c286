// Test helper: load configuration text as if it were a file in tests/testdata/tls, so relative
// certificate paths resolve to the test certificates. Not a test file.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ConfigError, formatIssue, parseConfig } from "../../src/config/mod.ts";

export const DIR = fileURLToPath(new URL("../testdata/tls/", import.meta.url));
/** A config file "in" the certificates' directory. */
export const FILE = `${DIR}tandem.yaml`;

export function load(text: string) {
  return parseConfig(text, FILE, "yaml", { env: {} });
}

/** The formatted issues of text that must not load, with FILE as "F" and DIR as "D/". */
export function errorsOf(text: string): string[] {
  try {
    load(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.errors.map(formatIssue).map((m) => m.replace(FILE, "F").replaceAll(DIR, "D/"));
  }
  throw new Error("expected a ConfigError");
}

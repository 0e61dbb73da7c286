// Loading: text → parsed document (YAML or TOML) → validated Config, or one ConfigError listing
// every problem with its file, line and key path.

import { readFileSync } from "node:fs";
import process from "node:process";
import { LineCounter, parseDocument } from "yaml";
import { parse as parseToml, TomlError } from "smol-toml";
import type { Config } from "./types.ts";
import { ConfigError } from "./errors.ts";
import { type LineOf, tomlLines, yamlLines } from "./locate.ts";
import { Reader } from "./reader.ts";
import { validateDocument } from "./validate.ts";

/** File formats the loader reads. */
export type ConfigFormat = "yaml" | "toml";

/** Loader options; tests pass their own environment. */
export interface LoadOptions {
  /** Environment for `${NAME}` substitution; default: the process environment. */
  env?: Record<string, string | undefined> | ((name: string) => string | undefined);
}

function envLookup(env: LoadOptions["env"]): (name: string) => string | undefined {
  if (typeof env === "function") return env;
  if (env) return (n) => env[n];
  return (n) => process.env[n];
}

/** The format implied by a file name, or undefined. */
export function formatOf(path: string): ConfigFormat | undefined {
  if (/\.ya?ml$/i.test(path)) return "yaml";
  if (/\.toml$/i.test(path)) return "toml";
  return undefined;
}

/**
 * Parse and validate configuration text. `file` names the source in errors and in
 * `Config.source`. Throws ConfigError with every problem found.
 */
export function parseConfig(
  text: string,
  file: string,
  format: ConfigFormat,
  opts: LoadOptions = {},
): Config {
  let doc: unknown;
  let lineOf: LineOf;
  if (format === "yaml") {
    const lc = new LineCounter();
    const d = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    if (d.errors.length > 0) {
      // Only the first: after a syntax error the parser's later complaints are mostly echoes.
      throw new ConfigError(
        d.errors.slice(0, 1).map((e) => ({
          file,
          line: lc.linePos(e.pos[0]).line,
          path: "",
          message: `YAML syntax: ${e.message.split("\n")[0]}`,
        })),
      );
    }
    doc = d.toJS({ maxAliasCount: 100 });
    lineOf = yamlLines(d, lc);
  } else {
    try {
      doc = parseToml(text);
    } catch (e) {
      if (!(e instanceof TomlError)) throw e;
      throw new ConfigError([{
        file,
        line: e.line,
        path: "",
        message: `TOML syntax: ${e.message.split("\n")[0]}`,
      }]);
    }
    lineOf = tomlLines(text);
  }
  const r = new Reader(file, lineOf, envLookup(opts.env));
  const cfg = validateDocument(r, doc, file);
  r.throwIfAny();
  return cfg;
}

/** Read, parse and validate a .yaml, .yml or .toml file. Throws ConfigError. */
export function loadConfigFile(path: string, opts: LoadOptions = {}): Config {
  const format = formatOf(path);
  if (!format) {
    throw new ConfigError([{
      file: path,
      line: 0,
      path: "",
      message: "expected a .yaml, .yml or .toml file name",
    }]);
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError([{
      file: path,
      line: 0,
      path: "",
      message: `cannot read the file: ${(e as Error).message}`,
    }]);
  }
  return parseConfig(text, path, format, opts);
}

// Typed reads from the raw parsed document. Every read either returns a value or records an
// issue and returns undefined, so validation carries on and reports every mistake at once.

import { ConfigError, type ConfigIssue } from "./errors.ts";
import { formatPath, type KeyPath, type LineOf } from "./locate.ts";
import { formatDuration, parseDuration, parseSize } from "./duration.ts";
import { isIp, parseCidr } from "./cidr.ts";

/** A raw map from the parsed file. */
export type RawMap = Record<string, unknown>;

/** Describe a raw value for "got ..." in a message. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (v instanceof Date || (typeof v === "object" && v.constructor?.name === "TomlDate")) {
    return "a date";
  }
  if (typeof v === "object") return "a map";
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length][b.length];
}

/** Characters that would let a value split or end a SIP header line. */
const UNSAFE = /[\r\n\0]/;

/** Reads raw values at key paths, collecting issues. */
export class Reader {
  readonly issues: ConfigIssue[] = [];

  constructor(
    readonly file: string,
    readonly lineOf: LineOf,
    readonly env: (name: string) => string | undefined,
  ) {}

  /** Record `path: expected X, got Y`. */
  fail(path: KeyPath, expected: string, got: unknown, raw = false): undefined {
    const g = raw ? String(got) : describe(got);
    this.issues.push({
      file: this.file,
      line: this.lineOf(path),
      path: formatPath(path),
      message: `expected ${expected}, got ${g}`,
    });
    return undefined;
  }

  /** Throw the collected issues, if any, in line order. */
  throwIfAny(): void {
    if (this.issues.length === 0) return;
    throw new ConfigError([...this.issues].sort((a, b) => a.line - b.line));
  }

  /** A map with only `keys` allowed; unknown keys are reported (with a near-miss hint). */
  map(v: unknown, path: KeyPath, keys: readonly string[]): RawMap | undefined {
    if (v === null || typeof v !== "object" || Array.isArray(v) || describe(v) === "a date") {
      return this.fail(path, "a map", v);
    }
    for (const k of Object.keys(v)) {
      if (keys.includes(k)) continue;
      const near = keys.filter((c) => editDistance(c, k) <= 2);
      const hint = near.length ? ` (did you mean "${near[0]}"?)` : "";
      this.fail(
        [...path, k],
        `one of the keys ${keys.join(", ")}`,
        `unknown key "${k}"${hint}`,
        true,
      );
    }
    return v as RawMap;
  }

  /** A list; a single scalar is accepted as a one-element list when `single` is set. */
  list(v: unknown, path: KeyPath, single = false): unknown[] | undefined {
    if (Array.isArray(v)) return v;
    if (single && (typeof v === "string" || typeof v === "number")) return [v];
    return this.fail(path, "a list", v);
  }

  /** Replace `${NAME}` (and `${NAME:-default}`) from the environment; `$${` is a literal `${`. */
  subst(s: string, path: KeyPath): string | undefined {
    let ok = true;
    const out = s.replace(/\$(\$?)\{([^}]*)\}/g, (all, esc: string, body: string) => {
      if (esc) return all.slice(1);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(body);
      if (!m) {
        ok = false;
        this.fail(path, "an environment reference like ${NAME}", `"\${${body}}"`, true);
        return "";
      }
      const val = this.env(m[1]);
      if (val !== undefined && (val !== "" || m[2] === undefined)) return val;
      if (m[2] !== undefined) return m[2];
      ok = false;
      this.fail(path, `environment variable ${m[1]} to be set`, `${m[1]} unset`, true);
      return "";
    });
    return ok ? out : undefined;
  }

  /** A string (after environment substitution). */
  str(v: unknown, path: KeyPath): string | undefined {
    if (typeof v !== "string") return this.fail(path, "a string", v);
    return this.subst(v, path);
  }

  /** A string that ends up in a SIP message: no CR, LF or NUL (header injection). */
  sipText(v: unknown, path: KeyPath): string | undefined {
    const s = this.str(v, path);
    if (s === undefined) return undefined;
    if (UNSAFE.test(s)) return this.fail(path, "text without CR, LF or NUL", s);
    return s;
  }

  /** A number, or a string made of one `${VAR}` that expands to a number. */
  private numeric(v: unknown, path: KeyPath): unknown {
    if (typeof v === "string" && /^\$\{[^}]+\}$/.test(v)) {
      const s = this.subst(v, path);
      return s === undefined ? undefined : /^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : s;
    }
    return v;
  }

  /** An integer in [min, max]. */
  int(
    v: unknown,
    path: KeyPath,
    min: number,
    max: number,
    what = "an integer",
  ): number | undefined {
    const n = this.numeric(v, path);
    if (n === undefined && v !== undefined) return undefined;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      return this.fail(path, `${what} (${min}-${max})`, n);
    }
    return n;
  }

  /** A port number, 1-65535. */
  port(v: unknown, path: KeyPath): number | undefined {
    return this.int(v, path, 1, 65535, "a port");
  }

  /** A boolean. */
  bool(v: unknown, path: KeyPath): boolean | undefined {
    if (typeof v !== "boolean") return this.fail(path, "true or false", v);
    return v;
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(v: unknown, path: KeyPath, values: readonly T[]): T | undefined {
    const s = typeof v === "string" ? this.subst(v, path) : undefined;
    if (s !== undefined && (values as readonly string[]).includes(s)) return s as T;
    if (typeof v === "string" && s === undefined) return undefined;
    return this.fail(path, `one of ${values.join(", ")}`, v);
  }

  /** A duration in ms, within [min, max] ms. */
  duration(v: unknown, path: KeyPath, min = 0, max = Infinity): number | undefined {
    const raw = typeof v === "string" ? this.subst(v, path) : v;
    if (raw === undefined && v !== undefined) return undefined;
    const ms = parseDuration(raw);
    const range = max === Infinity
      ? ""
      : ` between ${formatDuration(min)} and ${formatDuration(max)}`;
    if (ms === undefined || ms < min || ms > max) {
      return this.fail(
        path,
        `a duration${range} (seconds, or a string like "500ms", "5s", "2m", "1h")`,
        v,
      );
    }
    return ms;
  }

  /** A size in bytes, within [min, max]. */
  size(v: unknown, path: KeyPath, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const raw = typeof v === "string" ? this.subst(v, path) : v;
    if (raw === undefined && v !== undefined) return undefined;
    const b = parseSize(raw);
    if (b === undefined || b < min || b > max) {
      return this.fail(
        path,
        `a size of at least ${min} bytes (bytes, or a string like "64KiB", "64MiB", "1GiB")`,
        v,
      );
    }
    return b;
  }

  /** An IP literal (IPv4 or IPv6, without brackets). */
  ip(v: unknown, path: KeyPath): string | undefined {
    const s = this.str(v, path);
    if (s === undefined) return undefined;
    const bare = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
    if (!isIp(bare)) return this.fail(path, "an IP address literal (IPv4 or IPv6)", s);
    return bare;
  }

  /** A CIDR block such as "10.0.0.0/8" or "::1/128" (a bare IP is a host block). */
  cidr(v: unknown, path: KeyPath): string | undefined {
    const s = this.str(v, path);
    if (s === undefined) return undefined;
    if (!parseCidr(s)) {
      return this.fail(path, 'a CIDR block like "10.0.0.0/8" or "2001:db8::/32"', s);
    }
    return s;
  }

  /** A regular expression (JavaScript syntax), compiled. */
  regex(v: unknown, path: KeyPath): RegExp | undefined {
    const s = this.str(v, path);
    if (s === undefined) return undefined;
    try {
      return new RegExp(s);
    } catch (e) {
      return this.fail(
        path,
        "a valid regular expression",
        `${JSON.stringify(s)} (${(e as Error).message})`,
        true,
      );
    }
  }
}

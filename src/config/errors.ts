// Configuration failures. Every problem found in a file is collected into one ConfigError, so an
// operator fixes a file in one pass instead of one error per restart.

/** One problem in a configuration file. `line` is 1-based; 0 when no line applies. */
export interface ConfigIssue {
  file: string;
  line: number;
  /** Key path in the file's terms, e.g. `rules[0].routes[1].target`; "" for the whole file. */
  path: string;
  /** What was expected and what was found: `expected a port (1-65535), got 70000`. */
  message: string;
}

/** Format one issue as `FILE:LINE: key.path: message`. */
export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}` : i.file;
  return i.path ? `${where}: ${i.path}: ${i.message}` : `${where}: ${i.message}`;
}

/** The configuration could not be loaded; `errors` holds every problem found, in file order. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(public readonly errors: ConfigIssue[]) {
    super(errors.map(formatIssue).join("\n"));
  }
}

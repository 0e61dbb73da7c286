// Structured logging: one JSON object per line, or a readable line. Per-packet events belong at
// debug level, which is filtered before any string is built.

/** Log levels in increasing severity. */
export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Fields attached to a log event (call id, leg, addresses...). */
export type Fields = Record<string, unknown>;

/** Where log lines go; tests may capture them. */
export type Sink = (line: string) => void;

/** A logger with level filtering and fixed context fields. */
export class Logger {
  constructor(
    public level: Level = "info",
    public format: "json" | "pretty" = "json",
    private sink: Sink = (l) => console.error(l),
    private context: Fields = {},
  ) {}

  enabled(level: Level): boolean {
    return RANK[level] >= RANK[this.level];
  }
  /** A logger that adds `fields` to every event. */
  child(fields: Fields): Logger {
    return new Logger(this.level, this.format, this.sink, { ...this.context, ...fields });
  }
  debug(event: string, fields?: Fields): void {
    if (RANK.debug >= RANK[this.level]) this.write("debug", event, fields);
  }
  info(event: string, fields?: Fields): void {
    if (RANK.info >= RANK[this.level]) this.write("info", event, fields);
  }
  warn(event: string, fields?: Fields): void {
    if (RANK.warn >= RANK[this.level]) this.write("warn", event, fields);
  }
  error(event: string, fields?: Fields): void {
    this.write("error", event, fields);
  }
  /** Change level/format in place (config reload, CLI flags). */
  configure(level: Level, format: "json" | "pretty"): void {
    this.level = level;
    this.format = format;
  }

  private write(level: Level, event: string, fields?: Fields): void {
    const all = { ...this.context, ...fields };
    for (const [k, v] of Object.entries(all)) if (v instanceof Error) all[k] = v.message;
    if (this.format === "json") {
      this.sink(JSON.stringify({ time: new Date().toISOString(), level, event, ...all }));
    } else {
      const kv = Object.entries(all).map(([k, v]) =>
        `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
      ).join(" ");
      this.sink(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${event} ${kv}`);
    }
  }
}

/** A logger that discards everything (unit tests). */
export const silentLogger = new Logger("error", "json", () => {});

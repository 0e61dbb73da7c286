// Durations and sizes as operators write them: a bare number is seconds (durations) or bytes
// (sizes); a string carries its unit. Internally everything is milliseconds and bytes.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * Parse a duration to milliseconds: a number of seconds, or a string such as "500ms", "4s",
 * "2m", "2h", "1m30s". Returns undefined when the value is not a duration.
 */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined;
  if (typeof v !== "string") return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  // A sequence of number+unit parts; "ms" must be tried before "m".
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = part.exec(s)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    pos = part.lastIndex;
  }
  return pos > 0 && pos === s.length ? Math.round(total) : undefined;
}

/** Parse a size to bytes: a number, or "64MiB", "512KiB", "1GiB", "100B". */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = SIZE_UNITS[m[2].toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

/** Render milliseconds in the largest whole unit ("2h", "5s", "500ms"). */
export function formatDuration(ms: number): string {
  for (const [u, f] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms > 0 && ms % f === 0) return `${ms / f}${u}`;
  }
  return `${ms}ms`;
}

/** Render bytes in the largest whole binary unit ("64MiB"). */
export function formatSize(bytes: number): string {
  for (const [u, f] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes > 0 && bytes % f === 0) return `${bytes / f}${u}`;
  }
  return `${bytes}`;
}

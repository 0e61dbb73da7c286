// Time-of-day rules (`match.time`): a rule that holds only on some days, in some hours, in a
// time zone, and not on listed dates (public holidays). What carriers route peak and off-peak
// traffic by, and offices their business hours. Pure grammar and a per-minute clock: the local
// time of a zone is worked out once a minute (Intl), not per call.

import type { TimeMatch } from "./types.ts";

/** Day names, Monday first: a day's number is its index. */
export const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const INTL_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** Why a `match.time` value was refused: what was expected. */
export class TimeGrammarError extends Error {}

/** "mon", or a range "mon-fri" (wrapping: "fri-mon" is Friday to Monday) → day numbers. */
export function parseDays(text: string): number[] {
  const t = text.trim().toLowerCase();
  const [a, b] = t.split("-");
  const from = DAY_NAMES.indexOf(a as typeof DAY_NAMES[number]);
  const to = b === undefined ? from : DAY_NAMES.indexOf(b as typeof DAY_NAMES[number]);
  if (from < 0 || to < 0 || t.split("-").length > 2) {
    throw new TimeGrammarError("a day (mon, tue, wed, thu, fri, sat, sun) or a range like mon-fri");
  }
  const out: number[] = [];
  for (let d = from;; d = (d + 1) % 7) {
    out.push(d);
    if (d === to) return out;
  }
}

/**
 * "08:00-18:00" → [480, 1080] (minutes of the day; the end is not included). "24:00" ends a
 * day; an end before the start ("22:00-06:00") crosses midnight.
 */
export function parseHours(text: string): [number, number] {
  const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(text);
  const from = m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  const to = m ? Number(m[3]) * 60 + Number(m[4]) : NaN;
  const ok = m && Number(m[2]) < 60 && Number(m[4]) < 60 && from < 1440 && to <= 1440 &&
    from !== to;
  if (!ok) {
    throw new TimeGrammarError(
      'hours as "HH:MM-HH:MM" (local; "24:00" ends the day, "22:00-06:00" crosses midnight)',
    );
  }
  return [from, to];
}

/** "2026-12-25" (a real date) → itself. */
export function parseDate(text: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !d || d.toISOString().slice(0, 10) !== m[0]) {
    throw new TimeGrammarError("a date as YYYY-MM-DD");
  }
  return m[0];
}

/** An IANA time zone name this runtime knows ("UTC", "Europe/Berlin") → itself. */
export function parseZone(text: string): string {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: text });
    return text;
  } catch {
    throw new TimeGrammarError('an IANA time zone such as "UTC" or "Europe/Berlin"');
  }
}

/** "08:00-18:00" back from minutes. */
export function formatHours([from, to]: [number, number]): string {
  const hm = (m: number) =>
    `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  return `${hm(from)}-${hm(to)}`;
}

/** One zone's local time during one minute: the day, the minute of the day, the dates. */
interface LocalMinute {
  /** The UTC minute it holds for: [start, start + 60 s). */
  start: number;
  weekday: number;
  minute: number;
  date: string;
  /** The day before's weekday and date (for the hours after midnight of a window crossing it). */
  prevWeekday: number;
  prevDate: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const minutes = new Map<string, LocalMinute>();

/** The local time in `zone` at `now` (epoch ms), worked out once per zone and minute. */
export function localMinute(zone: string, now: number): LocalMinute {
  const start = now - (((now % 60_000) + 60_000) % 60_000);
  const cached = minutes.get(zone);
  if (cached && cached.start === start) return cached;
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      weekday: "short",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    formatters.set(zone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(start))) p[part.type] = part.value;
  const y = Number(p.year), mo = Number(p.month), d = Number(p.day);
  const weekday = INTL_DAYS.indexOf(p.weekday);
  const l: LocalMinute = {
    start,
    weekday,
    minute: (Number(p.hour) % 24) * 60 + Number(p.minute),
    date: `${p.year}-${p.month}-${p.day}`,
    prevWeekday: (weekday + 6) % 7,
    prevDate: new Date(Date.UTC(y, mo - 1, d - 1)).toISOString().slice(0, 10),
  };
  minutes.set(zone, l);
  return l;
}

/**
 * Whether `now` (epoch ms) falls in the window. The hours of a window that crosses midnight
 * belong to the day it starts: "fri 22:00-06:00" holds until Saturday 06:00, and a holiday
 * listed in `except` takes its night with it.
 */
export function timeHolds(t: TimeMatch, now: number): boolean {
  const l = localMinute(t.timezone, now);
  const dayOk = (weekday: number, date: string) =>
    (t.days === undefined || t.days.includes(weekday)) &&
    (t.except === undefined || !t.except.includes(date));
  if (t.hours === undefined) return dayOk(l.weekday, l.date);
  for (const [from, to] of t.hours) {
    if (from < to) {
      if (l.minute >= from && l.minute < to && dayOk(l.weekday, l.date)) return true;
    } else {
      if (l.minute >= from && dayOk(l.weekday, l.date)) return true;
      if (l.minute < to && dayOk(l.prevWeekday, l.prevDate)) return true;
    }
  }
  return false;
}

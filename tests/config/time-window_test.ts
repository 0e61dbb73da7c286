// Time-of-day rules: the grammar of days, hours, dates and zones; when a window holds, across
// midnight, a holiday and a daylight-saving change; the errors a bad `match.time` gets; and the
// effective configuration read back the same.

import assert from "node:assert/strict";
import { effectiveConfigText, parseConfig } from "../../src/config/mod.ts";
import {
  localMinute,
  parseDate,
  parseDays,
  parseHours,
  parseZone,
  TimeGrammarError,
  timeHolds,
} from "../../src/config/time-window.ts";
import type { TimeMatch } from "../../src/config/types.ts";

Deno.test("days: names and ranges, Monday first, wrapping past Sunday", () => {
  assert.deepEqual(parseDays("mon"), [0]);
  assert.deepEqual(parseDays("Mon-Fri"), [0, 1, 2, 3, 4]);
  assert.deepEqual(parseDays("fri-mon"), [4, 5, 6, 0]);
  assert.deepEqual(parseDays("sun"), [6]);
  for (const bad of ["monday", "mon-", "mon-fri-sat", "", "1"]) {
    assert.throws(() => parseDays(bad), TimeGrammarError, bad);
  }
});

Deno.test("hours: HH:MM-HH:MM, 24:00 ends the day, an end before the start crosses midnight", () => {
  assert.deepEqual(parseHours("08:00-18:00"), [480, 1080]);
  assert.deepEqual(parseHours("8:30 - 12:15"), [510, 735]);
  assert.deepEqual(parseHours("18:00-24:00"), [1080, 1440]);
  assert.deepEqual(parseHours("22:00-06:00"), [1320, 360]);
  for (const bad of ["08:00", "08:00-08:00", "24:00-06:00", "08:60-09:00", "25:00-26:00", "8-9"]) {
    assert.throws(() => parseHours(bad), TimeGrammarError, bad);
  }
});

Deno.test("dates and zones: real dates only, zones the runtime knows", () => {
  assert.equal(parseDate("2026-12-25"), "2026-12-25");
  for (const bad of ["2026-02-30", "2026-13-01", "25.12.2026", "2026-1-5"]) {
    assert.throws(() => parseDate(bad), TimeGrammarError, bad);
  }
  assert.equal(parseZone("Europe/Berlin"), "Europe/Berlin");
  assert.equal(parseZone("UTC"), "UTC");
  assert.throws(() => parseZone("Mars/Olympus"), TimeGrammarError);
});

Deno.test("the local time of a zone, minute by minute, across a daylight-saving change", () => {
  // Berlin springs forward on 2026-03-29 at 02:00 CET (01:00 UTC) to 03:00 CEST.
  const before = localMinute("Europe/Berlin", Date.UTC(2026, 2, 29, 0, 59, 30));
  assert.equal(before.minute, 1 * 60 + 59);
  assert.equal(before.date, "2026-03-29");
  assert.equal(before.weekday, 6); // a Sunday
  const after = localMinute("Europe/Berlin", Date.UTC(2026, 2, 29, 1, 0, 0));
  assert.equal(after.minute, 3 * 60);
  const ny = localMinute("America/New_York", Date.UTC(2026, 0, 1, 3, 0));
  assert.equal(ny.date, "2025-12-31");
  assert.equal(ny.prevDate, "2025-12-30");
  assert.equal(ny.minute, 22 * 60);
});

Deno.test("a window holds on its days, in its hours, in its zone; not on a holiday", () => {
  const office: TimeMatch = {
    timezone: "Europe/Berlin",
    days: [0, 1, 2, 3, 4],
    hours: [[480, 720], [780, 1080]],
    except: ["2026-12-24", "2026-12-25"],
  };
  // Wednesday 2026-12-02, Berlin is UTC+1 in winter.
  const at = (d: number, h: number, m = 0) => Date.UTC(2026, 11, d, h - 1, m);
  assert.equal(timeHolds(office, at(2, 8)), true);
  assert.equal(timeHolds(office, at(2, 7, 59)), false);
  assert.equal(timeHolds(office, at(2, 12, 30)), false, "lunch");
  assert.equal(timeHolds(office, at(2, 17, 59)), true);
  assert.equal(timeHolds(office, at(2, 18)), false, "the end is not included");
  assert.equal(timeHolds(office, at(5, 10)), false, "a Saturday");
  assert.equal(timeHolds(office, at(24, 10)), false, "Christmas Eve, a Thursday");
  assert.equal(timeHolds(office, at(23, 10)), true);
  // The same instant in UTC is an hour earlier on the wall: 07:30 UTC is 08:30 in Berlin.
  assert.equal(timeHolds({ ...office, timezone: "UTC" }, Date.UTC(2026, 11, 2, 7, 30)), false);
});

Deno.test("a night window belongs to the day it starts: Friday night holds into Saturday", () => {
  const fridayNight: TimeMatch = { timezone: "UTC", days: [4], hours: [[1320, 360]] };
  assert.equal(timeHolds(fridayNight, Date.UTC(2026, 11, 4, 23, 0)), true, "Friday 23:00");
  assert.equal(timeHolds(fridayNight, Date.UTC(2026, 11, 5, 5, 59)), true, "Saturday 05:59");
  assert.equal(timeHolds(fridayNight, Date.UTC(2026, 11, 5, 6, 0)), false, "Saturday 06:00");
  assert.equal(timeHolds(fridayNight, Date.UTC(2026, 11, 4, 5, 0)), false, "Friday 05:00");
  assert.equal(timeHolds(fridayNight, Date.UTC(2026, 11, 5, 23, 0)), false, "Saturday 23:00");
  // A holiday takes its night with it.
  const holiday = { ...fridayNight, except: ["2026-12-04"] };
  assert.equal(timeHolds(holiday, Date.UTC(2026, 11, 5, 2, 0)), false);
  // Days alone: the whole day.
  assert.equal(timeHolds({ timezone: "UTC", days: [5, 6] }, Date.UTC(2026, 11, 5, 0, 0)), true);
  assert.equal(timeHolds({ timezone: "UTC", days: [5, 6] }, Date.UTC(2026, 11, 4, 23, 59)), false);
});

const RULES = (time: string) =>
  `rules:\n  - name: office\n    match:\n      time: ${time}\n    routes: [{ target: "127.0.0.1:5090" }]\n`;

Deno.test("match.time in a configuration: read, printed back the same, errors named", () => {
  const cfg = parseConfig(
    RULES(
      '{ timezone: Europe/Berlin, days: [mon-fri, sat], hours: ["08:00-18:00"], except: [2026-12-25] }',
    ),
    "t.yaml",
    "yaml",
    { env: {} },
  );
  assert.deepEqual(cfg.rules[0].match.time, {
    timezone: "Europe/Berlin",
    days: [0, 1, 2, 3, 4, 5],
    hours: [[480, 1080]],
    except: ["2026-12-25"],
  });
  const back = parseConfig(effectiveConfigText(cfg, { mask: false }), "p.yaml", "yaml", {
    env: {},
  });
  assert.deepEqual(back.rules[0].match.time, cfg.rules[0].match.time);
  const utc = parseConfig(RULES("{ days: [sun] }"), "t.yaml", "yaml", { env: {} });
  assert.deepEqual(utc.rules[0].match.time, { timezone: "UTC", days: [6] });

  const errors = (time: string) => {
    try {
      parseConfig(RULES(time), "t.yaml", "yaml", { env: {} });
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.match(
    errors("{ days: [mon, funday] }"),
    /rules\[0\]\.match\.time\.days\[1\]: expected a day \(mon, tue, wed, thu, fri, sat, sun\) or a range like mon-fri, got "funday"/,
  );
  assert.match(
    errors('{ hours: ["8-9"] }'),
    /rules\[0\]\.match\.time\.hours\[0\]: expected hours as/,
  );
  assert.match(
    errors("{ days: [mon], except: [2026-02-30] }"),
    /match\.time\.except\[0\]: expected a date as YYYY-MM-DD/,
  );
  assert.match(
    errors("{ days: [mon], timezone: Europe/Nowhere }"),
    /match\.time\.timezone: expected an IANA time zone/,
  );
  assert.match(errors("{ timezone: UTC }"), /rules\[0\]\.match\.time: expected days or hours/);
  assert.match(errors("{ days: [mon], weeks: [1] }"), /match\.time\.weeks/);
});

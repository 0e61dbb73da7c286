// RFC 4180 CSV rendering of CDRs: a fixed column order, one header line per file.

import type { CdrRecord } from "./record.ts";

/** Column names, in order. Times are epoch ms (UTC). */
export const CSV_COLUMNS = [
  "id",
  "call_id_in",
  "call_id_out",
  "from_in",
  "to_in",
  "ruri_in",
  "from_out",
  "to_out",
  "ruri_out",
  "source",
  "destination",
  "user",
  "rule",
  "route",
  "attempt",
  "setup_at",
  "progress_at",
  "connect_at",
  "disconnect_at",
  "duration_ms",
  "billable_ms",
  "final_code",
  "q850",
  "reason",
  "ended_by",
  "end_reason",
  "sip_headers",
  "verstat",
  "attest_in",
  "attest_out",
  "recorded",
] as const;

function cell(v: unknown): string {
  if (v === undefined || v === null) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The header line, CRLF-terminated. */
export function csvHeader(): string {
  return CSV_COLUMNS.join(",") + "\r\n";
}

/** One record as a CSV line, CRLF-terminated (RFC 4180 §2). */
export function csvLine(r: CdrRecord): string {
  return [
    r.id,
    r.callIdIn,
    r.callIdOut,
    r.in.from,
    r.in.to,
    r.in.ruri,
    r.out?.from,
    r.out?.to,
    r.out?.ruri,
    r.source,
    r.destination,
    r.user,
    r.rule,
    r.route,
    r.attempt,
    r.setupAt,
    r.progressAt,
    r.connectAt,
    r.disconnectAt,
    r.durationMs,
    r.billableMs,
    r.finalCode,
    r.q850,
    r.reason,
    r.endedBy,
    r.endReason,
    // One column whatever `cdr.sip_headers` names, so a reload keeps a file's columns.
    r.headers ? JSON.stringify(r.headers) : undefined,
    r.identity?.verstat,
    r.identity?.attest,
    r.identity?.signed,
    r.recorded ? "yes" : undefined,
  ].map(cell).join(",") + "\r\n";
}

// RFC 4180 CSV rendering of CDRs: the header line, one line per record, quoting.

import assert from "node:assert/strict";
import { CSV_COLUMNS, csvHeader, csvLine } from "../../src/cdr/mod.ts";
import { sampleCdr } from "./fixtures.ts";

/** Split one RFC 4180 line into its cells (quoted cells may hold commas and doubled quotes). */
function cells(line: string): string[] {
  const out: string[] = [];
  const re = /("(?:[^"]|"")*"|[^,]*)(,|\r\n$)/g;
  let m;
  while ((m = re.exec(line)) && m[0] !== "") {
    const c = m[1];
    out.push(c.startsWith('"') ? c.slice(1, -1).replace(/""/g, '"') : c);
    if (m[2] === "\r\n") break;
  }
  return out;
}

Deno.test("csv: one column per CSV_COLUMNS entry, the recorded SIP headers as JSON", () => {
  assert.equal(csvHeader(), CSV_COLUMNS.join(",") + "\r\n");
  const at = CSV_COLUMNS.indexOf("sip_headers");
  const plain = cells(csvLine(sampleCdr(1)));
  assert.equal(plain.length, CSV_COLUMNS.length);
  assert.equal(plain[CSV_COLUMNS.indexOf("from_in")], '"Alice" <sip:10001@caller.example>;tag=a1');
  assert.equal(plain[at], "", "no headers recorded: an empty cell");
  const rec = {
    ...sampleCdr(2),
    headers: { "x-account": "1234", "p-asserted-identity": '"A, B" <sip:1@x>' },
  };
  const withHeaders = cells(csvLine(rec));
  assert.equal(withHeaders.length, CSV_COLUMNS.length);
  assert.deepEqual(JSON.parse(withHeaders[at]), rec.headers);
});

Deno.test("csv: STIR/SHAKEN columns after the headers, so older readers keep their places", () => {
  assert.deepEqual(CSV_COLUMNS.slice(-5, -1), [
    "sip_headers",
    "verstat",
    "attest_in",
    "attest_out",
  ]);
  const rec = {
    ...sampleCdr(3),
    identity: { verstat: "TN-Validation-Passed", attest: "B", origid: "x", signed: "A" },
  };
  assert.deepEqual(cells(csvLine(rec)).slice(-4, -1), ["TN-Validation-Passed", "B", "A"]);
  assert.deepEqual(cells(csvLine(sampleCdr(4))).slice(-4, -1), ["", "", ""]);
});

Deno.test("csv: recorded last, yes for a recorded call and empty otherwise", () => {
  assert.equal(CSV_COLUMNS.at(-1), "recorded");
  assert.equal(cells(csvLine({ ...sampleCdr(5), recorded: true })).at(-1), "yes");
  assert.equal(cells(csvLine(sampleCdr(6))).at(-1), "");
});

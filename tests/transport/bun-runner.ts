// Runs the RFC 3261 §18 transport cases (cases.ts) under Bun with the Bun and Node adapters,
// over IPv4 and IPv6 (when ::1 is usable). Prints "ok <name>" / "not ok <name>" per case and
// "N passed, M failed"; exits 1 on any failure. Launched by scripts/test-bun.ts.

import { bunAdapter, nodeAdapter } from "../../src/transport/mod.ts";
import { cases } from "./cases.ts";
import { ipv6Available } from "./helpers.ts";

const CASE_TIMEOUT_MS = 10_000;
const only = (globalThis as { process?: { argv: string[] } }).process?.argv[2];

let passed = 0;
let failed = 0;
const hosts = ["127.0.0.1", ...(await ipv6Available()) ? ["::1"] : []];
for (const adapter of [bunAdapter, nodeAdapter]) {
  for (const host of hosts) {
    for (const [name, fn] of Object.entries(cases)) {
      const full = `${adapter.runtime} ${host.includes(":") ? "IPv6" : "IPv4"}: ${name}`;
      if (only && !full.includes(only)) continue;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          fn(adapter, host),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error("case timed out")), CASE_TIMEOUT_MS);
          }),
        ]);
        passed++;
        console.log(`ok ${full}`);
      } catch (e) {
        failed++;
        console.log(`not ok ${full}\n  ${String((e as Error)?.stack ?? e).replace(/\n/g, "\n  ")}`);
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
(globalThis as unknown as { process: { exit(code: number): never } }).process.exit(
  failed > 0 ? 1 : 0,
);

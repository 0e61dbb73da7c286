// The B2BUA acceptance kit (../shared/acceptance/run.sh) as the e2e tests run it.

import { repoRoot } from "./harness.ts";

const KIT = `${repoRoot}/../shared/acceptance/run.sh`;

/** Run the kit with `args`; resolves to everything it printed (stdout, then stderr). */
export async function runKit(args: string[]): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: [KIT, ...args],
    stdout: "piped",
    stderr: "piped",
    cwd: repoRoot,
  }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

/** The kit's last line, "N passed, N failed", or "(no summary line)". */
export function kitSummary(text: string): string {
  return text.match(/^(\d+) passed, (\d+) failed$/m)?.[0] ?? "(no summary line)";
}

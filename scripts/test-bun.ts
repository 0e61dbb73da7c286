// Runs the transport test cases under Bun (Bun and Node socket adapters) by launching
// tests/transport/bun-runner.ts with `bun run`. Usage: deno run -A scripts/test-bun.ts [filter]
// Bun binary: $BUN_BIN, else .tools/node_modules/.bin/bun, else /work/tools/node_modules/.bin/bun,
// else `bun` on PATH.

const root = new URL("..", import.meta.url);

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function bunBinary(): string {
  const env = Deno.env.get("BUN_BIN");
  if (env) return env;
  for (
    const p of [
      new URL(".tools/node_modules/.bin/bun", root).pathname,
      "/work/tools/node_modules/.bin/bun",
    ]
  ) if (exists(p)) return p;
  return "bun";
}

const bun = bunBinary();
const runner = new URL("tests/transport/bun-runner.ts", root).pathname;
let status: Deno.CommandStatus;
try {
  status = await new Deno.Command(bun, {
    args: ["run", runner, ...Deno.args],
    cwd: root.pathname,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
} catch (e) {
  console.error(`cannot run Bun (${bun}): ${(e as Error).message}; set BUN_BIN`);
  Deno.exit(2);
}
Deno.exit(status.success ? 0 : 1);

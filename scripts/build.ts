// Build the single Tandem executable, dist/tandem, with Bun's compiler (it works offline, unlike
// `deno compile`, which must download its runtime). Bun's bundler resolves the npm imports from
// the node_modules/ folder that `deno install` fills (deno.json has nodeModulesDir: auto).
//
//   deno task build [--entry mod.ts] [--outfile dist/tandem] [--target bun-linux-x64] [--no-install]

import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureBun } from "./lib/deps.ts";
import { repoRoot, run } from "./lib/proc.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    entry: { type: "string", default: "mod.ts" },
    outfile: { type: "string", default: "dist/tandem" },
    target: { type: "string" },
    "no-install": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: deno task build [--entry mod.ts] [--outfile dist/tandem] [--target <bun target>] [--no-install]",
  );
  Deno.exit(0);
}

const MIN = 60_000;

async function main(): Promise<number> {
  if (!values["no-install"]) {
    console.log("[build] deno install (node_modules/ for Bun's bundler)");
    const inst = await run(Deno.execPath(), {
      args: ["install", "--quiet"],
      cwd: repoRoot,
      timeoutMs: 5 * MIN,
    });
    if (inst.code !== 0) {
      console.error(`[build] deno install failed (exit ${inst.code})`);
      return 1;
    }
  }
  const bun = await ensureBun(5 * MIN);
  if (!bun) {
    console.error("[build] no bun: install it (npm install --prefix .tools bun@1) or set BUN_BIN");
    return 1;
  }
  try {
    Deno.statSync(resolve(repoRoot, values.entry));
  } catch {
    console.error(`[build] entry ${values.entry} not found in ${repoRoot}`);
    return 1;
  }
  const outfile = resolve(repoRoot, values.outfile);
  await Deno.mkdir(dirname(outfile), { recursive: true });
  // Whitespace and syntax minification only: identifiers keep their names, so error class
  // names and stack traces stay readable.
  const args = [
    "build",
    "--compile",
    "--minify-whitespace",
    "--minify-syntax",
    values.entry,
    // The UDP send thread's module (src/transport/udp-send-thread.ts finds it by this path).
    "src/transport/bun-udp-sender.ts",
    "--outfile",
    outfile,
  ];
  if (values.target) args.push("--target", values.target);
  console.log(`[build] ${bun} ${args.join(" ")}`);
  const res = await run(bun, { args, cwd: repoRoot, timeoutMs: 5 * MIN });
  if (res.code !== 0) {
    console.error(`[build] bun build failed (exit ${res.code})`);
    return 1;
  }
  const size = Deno.statSync(outfile).size;
  console.log(`[build] ${values.outfile}: ${(size / 1024 / 1024).toFixed(1)} MiB (${size} bytes)`);
  return 0;
}

Deno.exit(await main());

// Tandem, an RFC 3261 back-to-back user agent. Entry point of `deno task start` and of the
// single binary: everything is wired in src/app/.

import process from "node:process";
import { main } from "./src/app/main.ts";

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`tandem: fatal: ${err?.stack ?? err}`);
      process.exit(1);
    },
  );
}

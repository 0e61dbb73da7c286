// Test support: a real FreeRADIUS 3 (apt package `freeradius`) in a temp dir, on free ports,
// with client 127.0.0.1/testing123, digest + PAP users, Cisco replies and a detail file.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import dgram from "node:dgram";

/** Users file entries every test server knows. */
export const USERS = `
alice	Cleartext-Password := "wonderland"
	Reply-Message = "hello alice"

credit	Cleartext-Password := "money"
	h323-credit-time = "h323-credit-time=120",
	Cisco-AVPair += "h323-ivr-in=Routing:gw1",
	Cisco-AVPair += "h323-ivr-in=Routing:gw2",
	Cisco-AVPair += "h323-ivr-in=CLI:15551230000",
	Cisco-AVPair += "h323-ivr-in=Display:Credit Line",
	h323-return-code = "h323-return-code=0"

ivr	Cleartext-Password := "voice"
	Cisco-AVPair = "h323-ivr-in=Routing:10.0.0.7:5060",
	h323-credit-time = "60"

broke	Cleartext-Password := "nomoney"
	h323-return-code = "h323-return-code=4"

127.0.0.1	Cleartext-Password := "127.0.0.1"
	h323-credit-time = "h323-credit-time=300"
`;

/** A running FreeRADIUS instance; `stop()` kills it and removes its directory. */
export interface RadiusServerHandle {
  authPort: number;
  acctPort: number;
  dir: string;
  detailFile: string;
  stop(): Promise<void>;
  /** Detail file content ("" when nothing was written yet). */
  detail(): string;
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((res) => s.bind(0, "127.0.0.1", () => res()));
  const port = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

function findBinary(): string {
  for (const p of ["/usr/sbin/freeradius", "/usr/sbin/radiusd"]) if (fs.existsSync(p)) return p;
  throw new Error(
    "FreeRADIUS not found (/usr/sbin/freeradius): install the apt package `freeradius` " +
      "(apt-get install freeradius freeradius-utils) to run the RADIUS tests",
  );
}

const SITE = (auth: number, acct: number) => `
server tandem {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = ${auth}
  }
  listen {
    type = acct
    ipaddr = 127.0.0.1
    port = ${acct}
  }
  authorize {
    preprocess
    digest
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
    digest
  }
  preacct {
    preprocess
  }
  accounting {
    detail
    ok
  }
  post-auth {
    ok
  }
}
`;

const KEEP_MODS = new Set(["always", "pap", "digest", "files", "detail", "preprocess", "expr"]);

/**
 * Starts FreeRADIUS in the foreground; resolves once it is ready to process requests.
 * `users` entries are appended to {@link USERS}.
 */
export async function startFreeRadius(
  ports: { authPort?: number; acctPort?: number; users?: string } = {},
): Promise<RadiusServerHandle> {
  const bin = findBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tandem-radius-"));
  const raddb = path.join(dir, "raddb");
  execFileSync("cp", ["-a", "/etc/freeradius/3.0", raddb]);
  const authPort = ports.authPort ?? await freeUdpPort();
  const acctPort = ports.acctPort ?? await freeUdpPort();
  const detailFile = path.join(dir, "detail");
  const logFile = path.join(dir, "radius.log");

  let conf = fs.readFileSync(path.join(raddb, "radiusd.conf"), "utf8");
  conf = conf.replace(/^\s*(user|group)\s*=.*$/gm, "")
    .replace(/^logdir = .*$/m, `logdir = ${dir}`)
    .replace(/^run_dir = .*$/m, `run_dir = ${dir}`)
    .replace(/^pidfile = .*$/m, `pidfile = ${dir}/radiusd.pid`)
    .replace(/^(\s*)reject_delay = .*$/m, "$1reject_delay = 0");
  fs.writeFileSync(path.join(raddb, "radiusd.conf"), conf);
  for (const f of fs.readdirSync(path.join(raddb, "sites-enabled"))) {
    fs.rmSync(path.join(raddb, "sites-enabled", f));
  }
  fs.writeFileSync(path.join(raddb, "sites-enabled", "tandem"), SITE(authPort, acctPort));
  for (const f of fs.readdirSync(path.join(raddb, "mods-enabled"))) {
    if (!KEEP_MODS.has(f)) fs.rmSync(path.join(raddb, "mods-enabled", f));
  }
  fs.writeFileSync(
    path.join(raddb, "mods-enabled", "detail"),
    `detail {\n  filename = ${detailFile}\n  escape_filenames = no\n  permissions = 0600\n  header = "%t"\n}\n`,
  );
  fs.writeFileSync(
    path.join(raddb, "clients.conf"),
    "client localhost {\n  ipaddr = 127.0.0.1\n  secret = testing123\n}\n",
  );
  fs.writeFileSync(
    path.join(raddb, "mods-config", "files", "authorize"),
    USERS + (ports.users ?? ""),
  );

  const child: ChildProcess = spawn(bin, ["-f", "-l", logFile, "-d", raddb], {
    stdio: ["ignore", "ignore", "ignore"],
  });
  let exited = false;
  const exitP = new Promise<void>((res) =>
    child.on("exit", () => {
      exited = true;
      res();
    })
  );
  const deadline = Date.now() + 15000;
  for (;;) {
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
    if (log.includes("Ready to process requests")) break;
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill("SIGKILL");
      throw new Error(`FreeRADIUS did not start (config in ${raddb}):\n${log.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    authPort,
    acctPort,
    dir,
    detailFile,
    detail: () => fs.existsSync(detailFile) ? fs.readFileSync(detailFile, "utf8") : "",
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exitP;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The detail file's records: one attribute map per packet (repeated attributes joined by "|"). */
export function parseDetail(text: string): Record<string, string>[] {
  return text.split(/\n\s*\n/).filter((b) => b.trim()).map((block) => {
    const rec: Record<string, string> = {};
    for (const line of block.split("\n").slice(1)) {
      const m = /^\s+([\w-]+) = (.*)$/.exec(line);
      if (!m) continue;
      const v = m[2].replace(/^"(.*)"$/, "$1");
      rec[m[1]] = rec[m[1]] === undefined ? v : `${rec[m[1]]}|${v}`;
    }
    return rec;
  });
}

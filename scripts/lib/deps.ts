// What the test suite needs on the machine: Debian packages for the e2e peers (SIPp, FreeRADIUS,
// rtpengine, Prometheus, baresip, Kamailio as the front proxy, dnsmasq) and Bun for the binary and
// transport tests. The benchmarks (scripts/bench.ts) use Kamailio too.

import { repoRoot, run, which } from "./proc.ts";

/** One command the tests call, the Debian package that provides it, and alternative names. */
export interface SystemTool {
  /** Any of these names on PATH (or in an sbin folder) satisfies the requirement. */
  commands: string[];
  /** Or any of these files (for a package without a command). */
  files?: string[];
  /** Debian 12 package. */
  pkg: string;
}

/** Everything the e2e tests may call, by Debian package. */
export const SYSTEM_TOOLS: SystemTool[] = [
  { commands: ["sipp"], pkg: "sip-tester" },
  { commands: ["freeradius", "radiusd"], pkg: "freeradius" },
  { commands: ["radclient"], pkg: "freeradius-utils" },
  { commands: ["rtpengine"], pkg: "rtpengine-daemon" },
  { commands: ["promtool"], pkg: "prometheus" },
  { commands: ["prometheus"], pkg: "prometheus" },
  { commands: ["ss"], pkg: "iproute2" },
  { commands: ["baresip"], pkg: "baresip-core" },
  { commands: ["kamailio"], pkg: "kamailio" },
  // STIR/SHAKEN's other end: Kamailio signing and checking Identity headers (libsecsipid).
  {
    commands: [],
    files: [
      "/usr/lib/x86_64-linux-gnu/kamailio/modules/secsipid.so",
      "/usr/lib/aarch64-linux-gnu/kamailio/modules/secsipid.so",
    ],
    pkg: "kamailio-secsipid-modules",
  },
  { commands: ["chromium"], pkg: "chromium" },
  // Installed without recommends, Chromium has no font; its pages need one to lay out.
  {
    commands: [],
    files: ["/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"],
    pkg: "fonts-liberation",
  },
  { commands: ["unshare"], pkg: "util-linux" },
  // systemd's notify protocol (Type=notify, the watchdog) goes out through systemd-notify.
  { commands: ["systemd-notify"], pkg: "systemd" },
  // The DNS server behind routes by host name (SRV, NAPTR).
  { commands: ["dnsmasq"], pkg: "dnsmasq-base" },
  // SIPVicious: the scanner every SIP server on the Internet meets.
  { commands: ["svmap", "svwar"], pkg: "sipvicious" },
];

/** Debian packages whose commands are missing, without duplicates, in table order. */
export function missingPackages(tools: SystemTool[] = SYSTEM_TOOLS): string[] {
  const missing: string[] = [];
  for (const t of tools) {
    if (t.commands.some((c) => which(c) !== undefined)) continue;
    if (t.files?.some(exists)) continue;
    if (!missing.includes(t.pkg)) missing.push(t.pkg);
  }
  return missing;
}

/** True when running as root (apt-get can be used). */
export function isRoot(): boolean {
  return Deno.uid?.() === 0;
}

const POLICY_RC = "/usr/sbin/policy-rc.d";

/**
 * `apt-get update` once, then one `apt-get install -y` for all `pkgs`. Service start is denied
 * during the install (policy-rc.d exit 101) so that kamailio, freeradius or prometheus do not
 * start as daemons and take the ports the tests use.
 */
export async function aptInstall(pkgs: string[], timeoutMs: number): Promise<boolean> {
  if (pkgs.length === 0) return true;
  const env = { DEBIAN_FRONTEND: "noninteractive", NEEDRESTART_MODE: "a" };
  let ownPolicy = false;
  try {
    Deno.statSync(POLICY_RC);
  } catch {
    Deno.writeTextFileSync(
      POLICY_RC,
      "#!/bin/sh\n# written by tandem scripts/test.ts\nexit 101\n",
      {
        mode: 0o755,
      },
    );
    ownPolicy = true;
  }
  const deadline = Date.now() + timeoutMs;
  try {
    console.log(`[deps] apt-get update && apt-get install -y ${pkgs.join(" ")}`);
    const upd = await run("apt-get", {
      args: ["update", "-q"],
      env,
      timeoutMs: Math.max(1000, deadline - Date.now()),
    });
    if (upd.code !== 0) {
      console.error(`[deps] apt-get update exited ${upd.code}; trying install anyway`);
    }
    const inst = await run("apt-get", {
      args: ["install", "-y", "-q", "--no-install-recommends", ...pkgs],
      env,
      timeoutMs: Math.max(1000, deadline - Date.now()),
    });
    return inst.code === 0;
  } finally {
    if (ownPolicy) Deno.removeSync(POLICY_RC);
  }
}

/** Bun on PATH, else the copy under `.tools/`, else undefined. `BUN_BIN` wins over both. */
export function findBun(): string | undefined {
  const env = Deno.env.get("BUN_BIN");
  if (env) return env;
  const local = `${repoRoot}/.tools/node_modules/.bin/bun`;
  return which("bun") ?? (exists(local) ? local : undefined);
}

/** Find Bun, installing `bun@1` into `.tools/` with npm when it is nowhere. */
export async function ensureBun(timeoutMs: number): Promise<string | undefined> {
  const found = findBun();
  if (found) return found;
  console.log("[deps] bun not found: npm install --prefix .tools bun@1");
  const res = await run("npm", {
    args: ["install", "--prefix", `${repoRoot}/.tools`, "--no-audit", "--no-fund", "bun@1"],
    timeoutMs,
  });
  if (res.code !== 0) return undefined;
  return findBun();
}

/** Where the e2e tests find JsSIP, the browser SIP library of the WebRTC test (npm, in `.tools/`). */
export const JSSIP_ENTRY = `${repoRoot}/.tools/node_modules/jssip/lib/JsSIP.js`;

/** JsSIP in `.tools/`, installed with npm when it is not there; false when that failed. */
export async function ensureJssip(timeoutMs: number): Promise<boolean> {
  if (exists(JSSIP_ENTRY)) return true;
  console.log("[deps] npm install --prefix .tools jssip@3");
  const res = await run("npm", {
    args: ["install", "--prefix", `${repoRoot}/.tools`, "--no-audit", "--no-fund", "jssip@3"],
    timeoutMs,
  });
  return res.code === 0 && exists(JSSIP_ENTRY);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

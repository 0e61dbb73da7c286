// A real DNS server for the tests: dnsmasq (Debian: dnsmasq-base) on a loopback address and a
// free UDP port, serving only the records given as its own flags (--srv-host, --host-record,
// --naptr-record, ...). Nothing is forwarded (--no-resolv): no query leaves the loopback. Pass
// --local=/domain/ to make unknown names of a test domain NXDOMAIN.

import dgram from "node:dgram";
import { encodeQuery } from "../../../src/transport/dns/wire.ts";
import type { DnsServer } from "../../../src/transport/dns/client.ts";

export interface Dnsmasq extends AsyncDisposable {
  server: DnsServer;
  /** How many queries dnsmasq logged for `name` of `type` (log lines "query[A] name"). */
  queries(name: string, type: string): number;
  stop(): Promise<void>;
}

/** A UDP port nothing is bound to right now on `host`. */
export async function freeUdpPort(host: string): Promise<number> {
  const s = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** dnsmasq from PATH, else /usr/sbin (not on a non-root user's PATH on Debian). */
function dnsmasqBinary(): string {
  for (const dir of [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin"]) {
    try {
      if (dir !== "" && Deno.statSync(`${dir}/dnsmasq`).isFile) return `${dir}/dnsmasq`;
    } catch { /* not there */ }
  }
  return "dnsmasq";
}

/** Start dnsmasq on `host` with `args` and wait until it answers (5 s at most). */
export async function startDnsmasq(host: string, args: string[]): Promise<Dnsmasq> {
  const dir = await Deno.makeTempDir({ prefix: "tandem-dns-" });
  const logFile = `${dir}/dnsmasq.log`;
  const port = await freeUdpPort(host);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(dnsmasqBinary(), {
      args: [
        "--keep-in-foreground",
        `--port=${port}`,
        `--listen-address=${host}`,
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--conf-file=/dev/null",
        "--pid-file=",
        // As root dnsmasq would drop to "nobody", which cannot write the log in our temp dir.
        ...(Deno.uid() === 0 ? ["--user=root", "--group=root"] : []),
        "--log-queries",
        `--log-facility=${logFile}`,
        ...args,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    if (e instanceof Deno.errors.NotFound) {
      throw new Error("dnsmasq is not installed: apt-get install -y dnsmasq-base");
    }
    throw e;
  }
  const stderr = new Response(child.stderr).text();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    await child.status;
    await stderr;
    await Deno.remove(dir, { recursive: true });
  };
  const log = () => {
    try {
      return Deno.readTextFileSync(logFile);
    } catch {
      return "";
    }
  };
  const server = { host, port };
  // Raw probes, not DnsClient: readiness must not depend on the code under test.
  const probe = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  try {
    let answered = false;
    probe.on("message", () => answered = true);
    for (let i = 0; i < 100 && !answered; i++) {
      probe.send(encodeQuery(i, "ready.test", "A"), port, host);
      await sleep(50);
    }
    if (!answered) {
      await stop();
      throw new Error(`dnsmasq did not answer on ${host}:${port}: ${await stderr}\n${log()}`);
    }
  } finally {
    await new Promise<void>((r) => probe.close(() => r()));
  }
  return {
    server,
    queries: (name, type) =>
      log().split("\n").filter((l) => l.includes(`query[${type}] ${name} `)).length,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

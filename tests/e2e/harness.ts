// End-to-end test utilities: start Tandem (from source under Deno, or the dist/tandem binary)
// on a config, run SIPp, and talk SIP over real loopback sockets. Every child process started
// here is killed when the test process ends, even after a failed assertion; tests should still
// `await using` (or stop()) what they start so that Deno's sanitizers stay quiet.

import { parse as parseYaml } from "yaml";
import { killGroup, repoRoot, which } from "../../scripts/lib/proc.ts";

// The test runner's process helpers serve the tests too: one repository root, one PATH search,
// one group kill.
export { repoRoot, which };

/** Process groups still alive, killed at unload whatever happened to the test. */
const live = new Set<number>();
/** Tandem's per-run directories (config, stdout/stderr logs); TANDEM_E2E_KEEP=1 keeps them. */
const runDirs = new Set<string>();
globalThis.addEventListener("unload", () => {
  for (const pid of live) killGroup(pid, "SIGKILL");
  if (Deno.env.get("TANDEM_E2E_KEEP") === "1") return;
  for (const dir of runDirs) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  }
});

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// Polling and ports

/** Thrown by a waitFor condition to stop waiting at once (e.g. the process died). */
export class WaitAborted extends Error {
  override name = "WaitAborted";
}

/** Poll `cond` every `intervalMs` until it returns truthy; throw after `timeoutMs`. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  timeoutMs: number,
  opts: { intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      if (e instanceof WaitAborted) throw e;
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last error: ${lastError})` : "";
      throw new Error(`waitFor: ${opts.what ?? "condition"} not met within ${timeoutMs} ms${why}`);
    }
    await sleep(opts.intervalMs ?? 50);
  }
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Hold the ports a few tests cannot move off while other test files run beside them (`deno test
 * --parallel`): the acceptance kit's (5070, 5090-5093, the B2BUA on 5060) and the embedded
 * default's (5060, 8080). An exclusive lock (flock) on one file shared by every test process,
 * released on dispose or when the process dies; every other test takes free ports.
 */
export async function fixedPorts(): Promise<AsyncDisposable> {
  const path = `${Deno.env.get("TMPDIR") ?? "/tmp"}/tandem-tests-fixed-ports.lock`;
  const file = await Deno.open(path, { create: true, write: true });
  await file.lock(true);
  return {
    async [Symbol.asyncDispose]() {
      await file.unlock().catch(() => {});
      file.close();
    },
  };
}

/**
 * Test ports come from 10000-19999, at random: below the kernel's ephemeral range (32768 and up
 * here), so that no socket bound to port 0 elsewhere (a peer's client socket, another test file
 * running beside this one) can take a port between the moment a test picks it and the moment its
 * peer binds it; and below the 20000-39999 media ranges the rtpengine tests draw from.
 */
const TEST_PORTS = { min: 10_000, count: 10_000 };
/** Ports fetch() and browsers refuse to connect to (the Fetch standard's "bad ports"). */
const BAD_PORTS = new Set([10080]);
/**
 * Ports handed out are reserved with a file each (created only if absent), so that two test
 * files running at once, in one process or two, never get the same free port to bind later.
 * The files go when this test file's isolate ends; one left by a killed run is stale after an
 * hour.
 */
const RESERVED = `${Deno.env.get("TMPDIR") ?? "/tmp"}/tandem-test-ports`;
const reserved: string[] = [];
Deno.mkdirSync(RESERVED, { recursive: true });
globalThis.addEventListener("unload", () => {
  for (const f of reserved) {
    try {
      Deno.removeSync(f);
    } catch { /* gone already */ }
  }
});

function reserve(port: number): boolean {
  const file = `${RESERVED}/${port}`;
  for (let i = 0; i < 2; i++) {
    try {
      Deno.openSync(file, { createNew: true, write: true }).close();
      reserved.push(file);
      return true;
    } catch {
      let age: number;
      try {
        age = Date.now() - (Deno.statSync(file).mtime?.getTime() ?? Date.now());
      } catch {
        continue; // released meanwhile: try again
      }
      if (age < 3_600_000) return false;
      try {
        Deno.removeSync(file);
      } catch { /* another run took it first */ }
    }
  }
  return false;
}

function randomTestPort(): number {
  for (;;) {
    const port = TEST_PORTS.min + Math.floor(Math.random() * TEST_PORTS.count);
    if (!BAD_PORTS.has(port) && reserve(port)) return port;
  }
}

/** A UDP port nobody holds right now (see TEST_PORTS). */
export function freeUdpPort(hostname = "127.0.0.1"): number {
  for (let i = 0; i < 200; i++) {
    const port = randomTestPort();
    try {
      Deno.listenDatagram({ transport: "udp", hostname, port }).close();
      return port;
    } catch {
      // held; draw again
    }
  }
  throw new Error("freeUdpPort: no free port in 10000-19999 after 200 draws");
}

/** A TCP port nobody listens on right now (see TEST_PORTS). */
export function freeTcpPort(hostname = "127.0.0.1"): number {
  for (let i = 0; i < 200; i++) {
    const port = randomTestPort();
    try {
      Deno.listen({ hostname, port }).close();
      return port;
    } catch {
      // held; draw again
    }
  }
  throw new Error("freeTcpPort: no free port in 10000-19999 after 200 draws");
}

/**
 * Four free UDP ports in a row (RTP and RTCP, with room) for a SIPp media port, drawn from
 * `from`..`from + 999`. Tests that run side by side draw from separate ranges, and the block is
 * checked free rather than assumed: a SIPp whose media port is taken exits before it binds.
 */
export function freeMediaPort(from = 28000): number {
  for (let i = 0; i < 50; i++) {
    const p = from + 4 * Math.floor(Math.random() * 250);
    try {
      for (const q of [p, p + 1, p + 2, p + 3]) {
        Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: q }).close();
      }
      return p;
    } catch {
      // taken; try another
    }
  }
  throw new Error(`no free media port block in ${from}-${from + 999}`);
}

/** A port free over both UDP and TCP (SIP listens on both). */
export function freePort(hostname = "127.0.0.1"): number {
  for (let i = 0; i < 50; i++) {
    const port = freeUdpPort(hostname);
    try {
      Deno.listen({ hostname, port }).close();
      return port;
    } catch {
      // taken over TCP; try another
    }
  }
  throw new Error("freePort: no port free over both UDP and TCP");
}

/** True when something holds `port` over UDP on `hostname` (a peer has bound it). */
export function udpBound(port: number, hostname = "127.0.0.1"): boolean {
  try {
    Deno.listenDatagram({ transport: "udp", hostname, port }).close();
    return false;
  } catch {
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Raw SIP over sockets

/**
 * Send one UDP datagram from an ephemeral port and wait up to `waitForReplyMs` for one datagram
 * back. Returns the reply, or null when none came.
 */
export async function sendUdp(
  host: string,
  port: number,
  bytes: Uint8Array | string,
  waitForReplyMs: number,
): Promise<Uint8Array | null> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: bindFor(host), port: 0 });
  try {
    await sock.send(typeof bytes === "string" ? enc.encode(bytes) : bytes, {
      transport: "udp",
      hostname: unbracket(host),
      port,
    });
    const got = await recvWithin(sock, waitForReplyMs);
    return got ? got[0] : null;
  } finally {
    sock.close();
  }
}

/** The next datagram on `sock` within `ms`, or null when none came. */
export async function recvWithin(
  sock: Deno.DatagramConn,
  ms: number,
): Promise<[Uint8Array, Deno.Addr] | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), ms));
  const recv = sock.receive().catch(() => null);
  try {
    return await Promise.race([recv, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A parsed SIP response start line plus the raw text. */
export interface SipReply {
  status: number;
  reason: string;
  raw: string;
}

/** Parse the status line and headers of a SIP response (enough for tests). */
export function parseReply(raw: string): SipReply {
  const m = /^SIP\/2\.0 (\d{3}) ?([^\r\n]*)/.exec(raw);
  if (!m) throw new Error(`not a SIP response: ${JSON.stringify(raw.slice(0, 80))}`);
  return { status: Number(m[1]), reason: m[2], raw };
}

/** First value of a header in a raw SIP message (long or compact name), or undefined. */
export function headerOf(raw: string, name: string, compact?: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0];
  for (const line of head.split(/\r?\n/).slice(1)) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    const n = line.slice(0, i).trim().toLowerCase();
    if (n === name.toLowerCase() || (compact && n === compact.toLowerCase())) {
      return line.slice(i + 1).trim();
    }
  }
  return undefined;
}

/** One sample of Tandem's /metrics (`name{labels}` as printed), or undefined when absent. */
export async function metricValue(http: number, sample: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(sample + " "));
  return line ? Number(line.slice(sample.length + 1)) : undefined;
}

/** Build a minimal valid OPTIONS (RFC 3261 §11) from `local` to `host:port`. */
export function buildOptions(
  host: string,
  port: number,
  transport: "udp" | "tcp",
  local: { host: string; port: number },
): string {
  const rnd = crypto.randomUUID().replaceAll("-", "");
  const target = `${bracket(host)}:${port}`;
  const via = `SIP/2.0/${transport.toUpperCase()} ${bracket(local.host)}:${local.port}`;
  return [
    `OPTIONS sip:${target} SIP/2.0`,
    `Via: ${via};branch=z9hG4bK${rnd.slice(0, 16)};rport`,
    "Max-Forwards: 70",
    `From: <sip:harness@${bracket(local.host)}>;tag=${rnd.slice(16, 24)}`,
    `To: <sip:${target}>`,
    `Call-ID: ${rnd}@harness`,
    "CSeq: 1 OPTIONS",
    `Contact: <sip:harness@${bracket(local.host)}:${local.port};transport=${transport}>`,
    "Accept: application/sdp",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

/**
 * Send a minimal OPTIONS to `host:port` and return the first final response (1xx are skipped).
 * Throws when nothing final arrives within `timeoutMs`.
 */
export async function sipOptions(
  host: string,
  port: number,
  transport: "udp" | "tcp" = "udp",
  timeoutMs = 2000,
): Promise<SipReply> {
  const deadline = Date.now() + timeoutMs;
  if (transport === "udp") {
    const sock = Deno.listenDatagram({ transport: "udp", hostname: bindFor(host), port: 0 });
    try {
      const msg = buildOptions(host, port, "udp", viaAddr(sock.addr as Deno.NetAddr, host));
      await sock.send(enc.encode(msg), { transport: "udp", hostname: unbracket(host), port });
      while (Date.now() < deadline) {
        const got = await recvWithin(sock, deadline - Date.now());
        if (!got) break;
        const reply = parseReply(dec.decode(got[0]));
        if (reply.status >= 200) return reply;
      }
      throw new Error(`sipOptions: no final response from ${host}:${port}/udp in ${timeoutMs} ms`);
    } finally {
      sock.close();
    }
  }
  const conn = await Deno.connect({ hostname: unbracket(host), port });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const local = viaAddr(conn.localAddr as Deno.NetAddr, host);
    await conn.write(enc.encode(buildOptions(host, port, "tcp", local)));
    timer = setTimeout(() => conn.close(), Math.max(1, deadline - Date.now()));
    let buf = "";
    const chunk = new Uint8Array(65536);
    while (true) {
      // Pull whole messages (header block + Content-Length body) out of the stream.
      let msg: string | undefined;
      while ((msg = takeMessage(buf)) !== undefined) {
        buf = buf.slice(msg.length);
        const reply = parseReply(msg);
        if (reply.status >= 200) return reply;
      }
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) {
        throw new Error(
          `sipOptions: no final response from ${host}:${port}/tcp in ${timeoutMs} ms`,
        );
      }
      buf += dec.decode(chunk.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

function takeMessage(buf: string): string | undefined {
  buf = buf.replace(/^(\r\n)+/, ""); // keep-alive CRLFs
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const len = Number(headerOf(buf.slice(0, end), "Content-Length", "l") ?? "0");
  const total = end + 4 + len;
  return buf.length >= total ? buf.slice(0, total) : undefined;
}

function bracket(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function unbracket(host: string): string {
  return host.replace(/^\[(.*)\]$/, "$1");
}

/** Bind on loopback for a loopback target (so Via is right), else on the wildcard. */
function bindFor(host: string): string {
  const h = unbracket(host);
  if (h === "::1" || h.startsWith("127.")) return h;
  return h.includes(":") ? "::" : "0.0.0.0";
}

function viaAddr(addr: Deno.NetAddr, target: string): { host: string; port: number } {
  const wildcard = addr.hostname === "0.0.0.0" || addr.hostname === "::";
  const fallback = unbracket(target).includes(":") ? "::1" : "127.0.0.1";
  return { host: wildcard ? fallback : addr.hostname, port: addr.port };
}

// ---------------------------------------------------------------------------------------------
// SIPp

/** True when SIPp (Debian: sip-tester) is installed. */
export function sippAvailable(): boolean {
  return which("sipp") !== undefined;
}

/** What a SIPp run left. `code` is -1 when the outer timeout killed it. */
export interface SippResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Run SIPp with `args` (add `-m` and `-timeout` yourself), killing its process group after
 * `timeoutMs`. stdin is closed (`-nostdin` is added), so SIPp never waits for keys.
 */
export async function runSipp(
  args: string[],
  opts: { timeoutMs: number; cwd?: string; env?: Record<string, string> },
): Promise<SippResult> {
  const sipp = which("sipp");
  if (!sipp) throw new Error("runSipp: sipp is not installed (apt-get install sip-tester)");
  const child = new Deno.Command(sipp, {
    args: args.includes("-nostdin") ? args : ["-nostdin", ...args],
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  live.add(child.pid);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, "SIGKILL");
  }, opts.timeoutMs);
  try {
    const out = await child.output();
    return {
      code: timedOut ? -1 : out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
    live.delete(child.pid);
    killGroup(child.pid, "SIGKILL");
  }
}

/**
 * The start of most tests' configuration: SIP over UDP on 127.0.0.1:`sip`, the HTTP API on
 * 127.0.0.1:`http`, JSON logs at info; the test appends its own sections, and `sipKeys` (lines
 * indented two spaces) go into the sip section.
 */
export function baseConfig(sip: number, http: number, sipKeys = ""): string {
  return `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
${sipKeys}http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
`;
}

/**
 * SIPp's built-in caller (`uac`) from a free port: `calls` calls (default 1) to `target`, dialling
 * `service`; it fails on a timeout (`-timeout_error`).
 */
export function sippUac(
  target: string,
  opts: { service?: string; calls?: number; rate?: number; timeoutS?: number } = {},
): Promise<SippResult> {
  const timeoutS = opts.timeoutS ?? 20;
  return runSipp([
    "-sn",
    "uac",
    target,
    ...(opts.service ? ["-s", opts.service] : []),
    "-i",
    "127.0.0.1",
    "-p",
    String(freeUdpPort()),
    "-m",
    String(opts.calls ?? 1),
    ...(opts.rate ? ["-r", String(opts.rate)] : []),
    "-timeout",
    `${timeoutS}s`,
    "-timeout_error",
  ], { timeoutMs: (timeoutS + 10) * 1000 });
}

/**
 * A callee SIPp on 127.0.0.1:`port` for `calls` calls, resolved when it exits: SIPp's built-in
 * `uas`, or the scenario file at `scenario`.
 */
export function sippUas(
  port: number,
  calls = 1,
  timeoutS = 30,
  scenario = "uas",
): Promise<SippResult> {
  return runSipp([
    ...(scenario === "uas" ? ["-sn", "uas"] : ["-sf", scenario]),
    "-i",
    "127.0.0.1",
    "-p",
    String(port),
    "-m",
    String(calls),
    "-timeout",
    `${timeoutS}s`,
    "-timeout_error",
  ], { timeoutMs: (timeoutS + 10) * 1000 });
}

// ---------------------------------------------------------------------------------------------
// Tandem

/** How to start Tandem for a test. */
export interface StartOptions {
  /** YAML text, or the path of an existing config file (YAML, JSON or TOML). */
  config: string;
  /** Run dist/tandem (or $TANDEM_BIN) instead of `deno run -A mod.ts`. */
  binary?: boolean;
  env?: Record<string, string>;
  /** Extra command-line arguments, after `--config <file>`. */
  args?: string[];
  /** Readiness: GET this URL until 200. Default: http://<http address>/ready from the config. */
  readyUrl?: string;
  /** Readiness without HTTP: OPTIONS to this SIP address until answered. Default: the config's. */
  sip?: { host: string; port: number; transport?: "udp" | "tcp" };
  /** How long to wait for readiness. Default 20 000 ms. */
  readyTimeoutMs?: number;
}

/** A running Tandem. */
export interface TandemProcess extends AsyncDisposable {
  pid: number;
  /** The temp folder with tandem.yaml (when written), stdout.log and stderr.log. */
  dir: string;
  configPath: string;
  /** Everything Tandem wrote so far. */
  logs(): Promise<{ stdout: string; stderr: string }>;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs` (default 5000). Resolves the status. */
  stop(signal?: Deno.Signal, graceMs?: number): Promise<Deno.CommandStatus>;
  /** SIGKILL now. */
  kill9(): Promise<Deno.CommandStatus>;
  /** The exit status, or null while it runs. */
  exitStatus(): Deno.CommandStatus | null;
  /** Resolves when the process has exited. */
  exited: Promise<Deno.CommandStatus>;
}

/** The path of the binary binary-mode tests run: $TANDEM_BIN, else dist/tandem. */
export function tandemBinary(): string {
  return Deno.env.get("TANDEM_BIN") ?? `${repoRoot}/dist/tandem`;
}

/** True when the built binary exists (binary-mode tests should skip, with a reason, if not). */
export function binaryAvailable(): boolean {
  try {
    return Deno.statSync(tandemBinary()).isFile;
  } catch {
    return false;
  }
}

/** Start Tandem on `opts.config` and resolve once it is ready; throws (with logs) otherwise. */
export async function startTandem(opts: StartOptions): Promise<TandemProcess> {
  const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-" });
  runDirs.add(dir);
  let configPath: string;
  let configText: string;
  if (!opts.config.includes("\n") && isFile(opts.config)) {
    configPath = opts.config;
    configText = await Deno.readTextFile(opts.config);
  } else {
    configPath = `${dir}/tandem.yaml`;
    configText = opts.config;
    await Deno.writeTextFile(configPath, configText);
  }
  const cmd = opts.binary ? tandemBinary() : Deno.execPath();
  const args = opts.binary ? [] : ["run", "-A", `${repoRoot}/mod.ts`];
  args.push("--config", configPath, ...(opts.args ?? []));

  const child = new Deno.Command(cmd, {
    args,
    cwd: repoRoot,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  live.add(child.pid);
  const outFile = await Deno.open(`${dir}/stdout.log`, { write: true, create: true });
  const errFile = await Deno.open(`${dir}/stderr.log`, { write: true, create: true });
  const piped = Promise.all([copyTo(child.stdout, outFile), copyTo(child.stderr, errFile)]);
  let status: Deno.CommandStatus | null = null;
  const exited = child.status.then(async (s) => {
    status = s;
    live.delete(child.pid);
    killGroup(child.pid, "SIGKILL"); // anything it left in its group
    await piped;
    return s;
  });

  const logs = async () => ({
    stdout: await Deno.readTextFile(`${dir}/stdout.log`).catch(() => ""),
    stderr: await Deno.readTextFile(`${dir}/stderr.log`).catch(() => ""),
  });
  const stop = async (signal: Deno.Signal = "SIGTERM", graceMs = 5000) => {
    if (status) return status;
    try {
      Deno.kill(child.pid, signal);
    } catch {
      // exited meanwhile
    }
    const timer = setTimeout(() => killGroup(child.pid, "SIGKILL"), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  const proc: TandemProcess = {
    pid: child.pid,
    dir,
    configPath,
    logs,
    stop,
    kill9: () => stop("SIGKILL", 0),
    exitStatus: () => status,
    exited,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };

  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  const target = readinessTarget(configText, configPath, opts);
  try {
    await waitFor(
      async () => {
        if (status) throw new WaitAborted(`tandem exited early with code ${status.code}`);
        if (target.url) {
          const res = await fetch(target.url, { signal: AbortSignal.timeout(1000) });
          await res.body?.cancel();
          return res.status === 200;
        }
        const s = target.sip!;
        const reply = await sipOptions(s.host, s.port, s.transport ?? "udp", 500);
        return reply.status > 0;
      },
      timeoutMs,
      { intervalMs: 100, what: `tandem ready (${target.url ?? JSON.stringify(target.sip)})` },
    );
  } catch (e) {
    await stop("SIGKILL", 0);
    const l = await logs();
    throw new Error(
      `${(e as Error).message}\n--- ${cmd} ${args.join(" ")}\n--- stdout:\n${
        tail(l.stdout)
      }\n--- stderr:\n${tail(l.stderr)}`,
    );
  }
  return proc;
}

/** Copy a child's stream into a log file chunk by chunk, so logs() sees output as it comes. */
async function copyTo(stream: ReadableStream<Uint8Array>, file: Deno.FsFile): Promise<void> {
  try {
    for await (const chunk of stream) {
      let off = 0;
      while (off < chunk.length) off += await file.write(chunk.subarray(off));
    }
  } catch {
    // the child went away mid-write
  } finally {
    file.close();
  }
}

function tail(s: string, lines = 40): string {
  return s.split("\n").slice(-lines).join("\n");
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

type Target = { url?: string; sip?: { host: string; port: number; transport?: "udp" | "tcp" } };

/**
 * Where to probe readiness. The config file format is still settling, so this reads the usual
 * shapes: `http: { address, port }` or `http: { listen: "host:port" }`, and `sip: { listen: [...] }`
 * with `{ address, port, transports }` objects or `"udp:host:port"` / `"host:port"` strings.
 */
export function readinessTarget(text: string, path: string, opts: StartOptions): Target {
  if (opts.readyUrl) return { url: opts.readyUrl };
  if (opts.sip) return { sip: opts.sip };
  let cfg: Record<string, unknown> = {};
  try {
    cfg = (path.endsWith(".json") ? JSON.parse(text) : parseYaml(text)) ?? {};
  } catch {
    // TOML or unreadable: fall back to the default SIP port
  }
  const http = cfg.http as Record<string, unknown> | undefined;
  if (http && typeof http === "object" && http.enabled !== false) {
    const hp = hostPort(http.listen ?? http);
    if (hp) return { url: `http://${bracket(probeHost(hp.host))}:${hp.port}/ready` };
  }
  const sip = cfg.sip as Record<string, unknown> | undefined;
  const listen = sip?.listen;
  for (const l of Array.isArray(listen) ? listen : listen ? [listen] : []) {
    const hp = hostPort(l);
    if (!hp) continue;
    const transports =
      typeof l === "object" && l && Array.isArray((l as { transports?: unknown }).transports)
        ? (l as { transports: string[] }).transports.map((t) => t.toLowerCase())
        : [hp.transport ?? "udp"];
    const transport = transports.includes("udp")
      ? "udp"
      : transports.includes("tcp")
      ? "tcp"
      : undefined;
    if (transport) return { sip: { host: probeHost(hp.host), port: hp.port, transport } };
  }
  return { sip: { host: "127.0.0.1", port: 5060, transport: "udp" } };
}

function probeHost(h: string): string {
  const u = unbracket(h);
  return u === "0.0.0.0" || u === "" ? "127.0.0.1" : u === "::" ? "::1" : u;
}

function hostPort(v: unknown): { host: string; port: number; transport?: "udp" | "tcp" } | null {
  if (typeof v === "string") {
    const m = /^(?:(udp|tcp|tls|ws|wss):)?(\[[^\]]+\]|[^:]+):(\d+)$/i.exec(v.trim());
    if (!m) return null;
    const t = m[1]?.toLowerCase();
    return {
      host: m[2],
      port: Number(m[3]),
      transport: t === "udp" || t === "tcp" ? t : undefined,
    };
  }
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const port = Number(o.port);
    if (!Number.isInteger(port) || port <= 0) return null;
    const host = String(o.address ?? o.host ?? "127.0.0.1");
    return { host, port };
  }
  return null;
}

// The process: parse the command line, load the configuration (or the embedded default), start
// SIP and HTTP, handle signals (SIGHUP reloads; SIGTERM/SIGINT drain, a second one exits).

import process from "node:process";
import { loadCliConfig, runCli, runtimeName } from "../cli/mod.ts";
import { type Config, TANDEM_VERSION } from "../config/mod.ts";
import {
  type CallFilter,
  checkHttpExposure,
  createApp,
  type HttpServer,
  type ReloadResult,
  serveHttp,
} from "../http/mod.ts";
import { defaultAdapter, WorkerLink } from "../transport/mod.ts";
import { Logger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import { registerProcessMetrics } from "../util/process-metrics.ts";
import { SystemdNotifier } from "./systemd.ts";
import { TandemControl } from "./control.ts";
import { SipServer } from "./server.ts";
import { buildServices, type Services } from "./services.ts";
import { newLinkToken, workerConfig, type WorkerRole, workerRoleFromEnv } from "./cluster.ts";
import { ClusterControl } from "./cluster-control.ts";
import { Supervisor } from "./supervisor.ts";
import { WorkerEndpoint } from "./worker-endpoint.ts";

function load(path: string | undefined): Config {
  const cfg = loadCliConfig(path, (n) => process.env[n]);
  if (cfg.http) checkHttpExposure(cfg.http.address, cfg.http.token);
  return cfg;
}

/** Run Tandem with `argv` (without the program name); resolves to the exit status. */
export function main(argv: string[]): Promise<number> {
  return runCli(argv, { start: (cfg, cmd) => run(cfg, cmd.config) });
}

async function run(cfg: Config, path: string | undefined): Promise<number> {
  let role: WorkerRole | undefined;
  try {
    role = workerRoleFromEnv(process.env);
    if (cfg.http && !role) checkHttpExposure(cfg.http.address, cfg.http.token);
  } catch (e) {
    console.error(`tandem: ${(e as Error).message}`);
    return 2;
  }
  const index = role?.index ?? 0;
  const count = role?.count ?? cfg.sip.workers;
  cfg = workerConfig(cfg, index, count);
  const base = new Logger(cfg.log.level, cfg.log.format);
  const log = count > 1 ? base.child({ worker: index }) : base;
  const services = await buildServices(cfg, log);
  // Several workers: the link comes first, its port is part of the start-up handshake.
  const token = role?.token ?? newLinkToken();
  let server: SipServer | undefined = undefined;
  const link = count > 1
    ? await WorkerLink.open(defaultAdapter(), token, {
      onMessage: (d, s) => server?.transport.receiveForwarded(d, s),
      onDrop: (why) => server?.transport.drop(why),
    }, { receiveBuffer: cfg.sip.udpReceiveBuffer })
    : undefined;
  const shard = link && { index, count, forward: link.forward.bind(link) };
  server = new SipServer({ config: cfg, log, services: services.b2bua, shard });
  const reloadConfig = () => workerConfig(load(path), index, count);
  return role
    ? await runWorker(server, link!, log, services, reloadConfig)
    : await runMain(server, { cfg, log, services, link, token, reloadConfig });
}

/** Signals: SIGTERM/SIGINT drain (a second one exits now), SIGHUP reloads. */
function onSignals(
  log: Logger,
  calls: () => number,
  drain: (sig: string) => void,
  exitNow: (sig: string) => void,
  reload: () => Promise<ReloadResult>,
): void {
  let signalled = 0;
  const onStop = (sig: string) => {
    signalled++;
    if (signalled > 1) {
      log.warn("exit-now", { signal: sig });
      exitNow(sig);
      return;
    }
    log.info("draining", { signal: sig, calls: calls() });
    drain(sig);
  };
  process.on("SIGTERM", () => onStop("SIGTERM"));
  process.on("SIGINT", () => onStop("SIGINT"));
  process.on("SIGHUP", () => {
    reload().then((r) => {
      if (r.ok) {
        log.info("config-reloaded", { rules: r.rules });
        if (r.restartNeeded.length) log.warn("reload-restart-needed", { keys: r.restartNeeded });
      } else log.error("config-reload-failed", { errors: r.errors });
    });
  });
}

/** The process the operator started: SIP worker 0, HTTP, and the other workers' supervisor. */
async function runMain(
  server: SipServer,
  o: {
    cfg: Config;
    log: Logger;
    services: Services;
    link?: WorkerLink;
    token: Uint8Array;
    reloadConfig: () => Config;
  },
): Promise<number> {
  const { cfg, log, services, link } = o;
  let sup: Supervisor | undefined;
  if (link) {
    if (defaultAdapter().runtime !== "bun") {
      log.warn("workers-not-spread", {
        runtime: runtimeName(),
        why: "only the Bun build shares a UDP port with SO_REUSEPORT: one worker receives " +
          "every datagram and forwards the others' share",
      });
    }
    sup = new Supervisor({
      count: cfg.sip.workers,
      token: o.token,
      linkPort: link.port,
      onPeers: (p) => link.setPeers(p),
      log,
    });
    try {
      await sup.start();
    } catch (e) {
      log.error("workers-start-failed", { err: e as Error });
      await services.close();
      await link.close();
      return 1;
    }
  }
  try {
    await server.start();
  } catch (e) {
    log.error("sip-start-failed", { err: e as Error });
    sup?.exitAll();
    await sup?.stopped(5000);
    return 1;
  }
  const pm = registerProcessMetrics(metrics);
  pm.start();
  let exit: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => exit = r);
  let http: HttpServer | undefined;
  const local = new TandemControl(server, {
    loadConfig: o.reloadConfig,
    onDrained: () => exit(0),
    eventLoopLagMs: () => pm.maxLagMs,
    onReloaded: (next) => renewHttps(next),
  });
  const control = sup ? new ClusterControl(local, sup) : local;
  const app = cfg.http && createApp(control, {
    token: cfg.http.token,
    registry: metrics,
    log,
    allow: () => server.config.http?.allow,
  });
  let https = cfg.http?.tls;
  const apiExpiry = metrics.gauge(
    "tandem_http_tls_certificate_expiry_timestamp_seconds",
    "When the HTTP API's certificate (http.tls.cert) expires, Unix time; alert well before it.",
  );
  if (https) apiExpiry.set(Math.floor(https.notAfter / 1000));
  /**
   * A reload that brings a renewed certificate for the HTTPS API serves it from then on: the
   * listener is opened again on the same port (after the reload's own answer has left). Turning
   * HTTPS on or off, or moving the API, still takes a restart.
   */
  const renewHttps = (next: Config) => {
    const t = next.http?.tls;
    if (!http || !app || !https || !t || (t.cert === https.cert && t.key === https.key)) return;
    https = t;
    setTimeout(async () => {
      const old = http!;
      await old.close(true);
      try {
        http = await serveHttp(app, {
          address: cfg.http!.address,
          port: old.port,
          tls: { cert: t.cert, key: t.key },
        });
        apiExpiry.set(Math.floor(t.notAfter / 1000));
        log.info("http-certificate-renewed", { notAfter: new Date(t.notAfter).toISOString() });
      } catch (e) {
        http = undefined;
        log.error("http-restart-failed", { err: e as Error });
      }
    }, 200);
  };
  if (cfg.http && app) {
    try {
      http = await serveHttp(app, {
        address: cfg.http.address,
        port: cfg.http.port,
        ...(https ? { tls: { cert: https.cert, key: https.key } } : {}),
      });
      log.info("http-listening", { url: `${https ? "https" : "http"}://${http.url}` });
    } catch (e) {
      log.error("http-start-failed", { err: e as Error });
      await server.stop();
      sup?.exitAll();
      await sup?.stopped(5000);
      return 1;
    }
  }
  log.info("tandem-started", {
    version: TANDEM_VERSION,
    runtime: runtimeName(),
    config: cfg.source,
    rules: cfg.rules.length,
    ...(sup ? { workers: cfg.sip.workers } : {}),
  });
  const notifier = SystemdNotifier.fromEnv((n) => process.env[n], process.pid, log);
  notifier?.ready(`${cfg.rules.length} rules; taking calls`);
  notifier?.startWatchdog(() => server.listening, () => `${server.b2bua.calls.size} calls up`);
  onSignals(
    log,
    () => server.b2bua.calls.size,
    () => {
      notifier?.stopping(`draining ${server.b2bua.calls.size} calls`);
      sup?.drainAll();
      local.drain();
    },
    () => {
      sup?.exitAll();
      exit(1);
    },
    () => (sup ? control.reload() : local.reload()),
  );

  const code = await finished;
  log.info("tandem-stopping", { code });
  notifier?.stopping("stopping");
  // Workers drain on their own clock (the same drain timeout): wait for them, then some.
  await sup?.stopped(code === 0 ? cfg.limits.drainTimeout + 15_000 : 5000);
  await services.close();
  await http?.close();
  notifier?.stopWatchdog();
  pm.stop();
  await server.stop();
  await link?.close();
  return code;
}

/** A SIP worker started by worker 0 (cluster.ts): no HTTP; answers worker 0 over IPC. */
async function runWorker(
  server: SipServer,
  link: WorkerLink,
  log: Logger,
  services: Services,
  reloadConfig: () => Config,
): Promise<number> {
  let exit: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => exit = r);
  const endpoint = new WorkerEndpoint(() => {
    // Worker 0 is gone (crashed or killed): nobody supervises or answers HTTP for this worker.
    log.error("supervisor-gone", {});
    exit(1);
  });
  link.setPeers(await endpoint.announceLink(link.port));
  endpoint.onPeers = (p) => link.setPeers(p);
  try {
    await server.start();
  } catch (e) {
    log.error("sip-start-failed", { err: e as Error });
    endpoint.failed(e as Error);
    await services.close();
    await link.close();
    endpoint.close();
    return 1;
  }
  const pm = registerProcessMetrics(metrics);
  pm.start();
  const control = new TandemControl(server, {
    loadConfig: reloadConfig,
    onDrained: () => exit(0),
    eventLoopLagMs: () => pm.maxLagMs,
  });
  endpoint.started({
    health: () => control.health(),
    ready: () => control.ready(),
    listCalls: (f: CallFilter) => control.listCalls(f),
    getCall: (id: string) => control.getCall(id) ?? null,
    dropCall: (id: string, reason: string | null) => control.dropCall(id, reason ?? undefined),
    reload: () => control.reload(),
    drain: (ms: number | null) => control.drain(ms ?? undefined),
    stats: () => control.stats(),
    routes: () => control.routes(),
    registrations: () => control.registrations(),
    bannedSources: () => control.bannedSources(),
    unbanSource: (address: string) => control.unbanSource(address),
    collectGarbage: async () => (await control.collectGarbage()) ?? null,
    metrics: () => metrics.expose(),
    exit: () => exit(1),
  });
  onSignals(
    log,
    () => server.b2bua.calls.size,
    () => control.drain(),
    () => exit(1),
    () => control.reload(),
  );
  const code = await finished;
  log.info("worker-stopping", { code });
  await services.close();
  pm.stop();
  await server.stop();
  await link.close();
  endpoint.close();
  return code;
}

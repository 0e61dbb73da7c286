// The process: parse the command line, load the configuration (or the embedded default), start
// SIP and HTTP, handle signals (SIGHUP reloads; SIGTERM/SIGINT drain, a second one exits).

import process from "node:process";
import { loadCliConfig, runCli, runtimeName } from "../cli/mod.ts";
import { type Config, TANDEM_VERSION } from "../config/mod.ts";
import { checkHttpExposure, createApp, type HttpServer, serveHttp } from "../http/mod.ts";
import { Logger } from "../util/log.ts";
import { metrics } from "../util/metrics.ts";
import { registerProcessMetrics } from "../util/process-metrics.ts";
import { TandemControl } from "./control.ts";
import { SipServer } from "./server.ts";
import { buildServices } from "./services.ts";

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
  try {
    if (cfg.http) checkHttpExposure(cfg.http.address, cfg.http.token);
  } catch (e) {
    console.error(`tandem: ${(e as Error).message}`);
    return 2;
  }
  const log = new Logger(cfg.log.level, cfg.log.format);
  const services = await buildServices(cfg, log);
  const server = new SipServer({ config: cfg, log, services: services.b2bua });
  try {
    await server.start();
  } catch (e) {
    log.error("sip-start-failed", { err: e as Error });
    return 1;
  }
  const pm = registerProcessMetrics(metrics);
  pm.start();
  let exit: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => exit = r);
  const control = new TandemControl(server, {
    loadConfig: () => load(path),
    onDrained: () => exit(0),
    eventLoopLagMs: () => pm.maxLagMs,
  });
  let http: HttpServer | undefined;
  if (cfg.http) {
    try {
      http = await serveHttp(
        createApp(control, { token: cfg.http.token, registry: metrics, log }),
        { address: cfg.http.address, port: cfg.http.port },
      );
      log.info("http-listening", { url: http.url });
    } catch (e) {
      log.error("http-start-failed", { err: e as Error });
      await server.stop();
      return 1;
    }
  }
  log.info("tandem-started", {
    version: TANDEM_VERSION,
    runtime: runtimeName(),
    config: cfg.source,
    rules: cfg.rules.length,
  });

  let signalled = 0;
  const onStop = (sig: string) => {
    signalled++;
    if (signalled > 1) {
      log.warn("exit-now", { signal: sig });
      exit(1);
      return;
    }
    log.info("draining", { signal: sig, calls: server.b2bua.calls.size });
    control.drain();
  };
  const onHup = () => {
    control.reload().then((r) => {
      if (r.ok) log.info("config-reloaded", { rules: r.rules });
      else log.error("config-reload-failed", { errors: r.errors });
    });
  };
  process.on("SIGTERM", () => onStop("SIGTERM"));
  process.on("SIGINT", () => onStop("SIGINT"));
  process.on("SIGHUP", onHup);

  const code = await finished;
  log.info("tandem-stopping", { code });
  await services.close();
  await http?.close();
  pm.stop();
  await server.stop();
  return code;
}

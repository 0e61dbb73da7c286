// Real Prometheus tooling for tests: `promtool check metrics` on an exposition, and a throwaway
// Prometheus server (own config, own TSDB in a temp dir, loopback only) that scrapes given
// targets every second. Shared with the e2e tests, which point it at the real Tandem binary.

const APT_HINT = "install the Debian/Ubuntu package with: apt-get install prometheus";

/** Result of `promtool check metrics`. */
export interface PromtoolResult {
  ok: boolean;
  /** promtool's stdout and stderr: the lint problems when not ok. */
  output: string;
}

/** Pipe `exposition` through `promtool check metrics`; throws when promtool is missing. */
export async function promtoolCheckMetrics(exposition: string): Promise<PromtoolResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`promtool is not on PATH: ${APT_HINT}`);
    }
    throw err;
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(exposition));
  await writer.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { ok: out.success, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** Options of {@link startPrometheus}. */
export interface PrometheusOptions {
  /** Scrape targets, "host:port". */
  targets: string[];
  /** Sent as `Authorization: Bearer <token>` on scrapes. */
  bearerToken?: string;
  /** Default "/metrics". */
  metricsPath?: string;
  /** Scrape interval in seconds. Default 1. */
  scrapeIntervalSeconds?: number;
  /** Job label. Default "tandem". */
  job?: string;
  /** How long to wait for Prometheus to become ready (ms). Default 15000. */
  startTimeoutMs?: number;
}

/** One sample of an instant-query vector result. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/** A running Prometheus. */
export interface PrometheusServer {
  /** e.g. "http://127.0.0.1:41234". */
  readonly url: string;
  /** Instant query through /api/v1/query; throws on an API error. */
  query(expr: string): Promise<PromSample[]>;
  /**
   * Poll `expr` until `accept` holds for its result; throws with the last result and the tail of
   * Prometheus's log after `timeoutMs` (default 15000).
   */
  waitFor(
    expr: string,
    accept: (samples: PromSample[]) => boolean,
    timeoutMs?: number,
  ): Promise<PromSample[]>;
  /** Scrape state of each target ("up"/"down"/"unknown") with its last error, from the API. */
  targets(): Promise<{ scrapeUrl: string; health: string; lastError: string }[]>;
  /** Last lines Prometheus logged (for failure messages). */
  logTail(): string;
  /** SIGTERM (SIGKILL after 5 s), wait for exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 free at the time of the call. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start Prometheus scraping `opts.targets`; resolves once its /-/ready answers 200. */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusServer> {
  const dir = await Deno.makeTempDir({ prefix: "tandem-prometheus-" });
  const interval = opts.scrapeIntervalSeconds ?? 1;
  // JSON is valid YAML, so the config needs no YAML writer.
  const config = {
    global: { scrape_interval: `${interval}s`, scrape_timeout: `${interval}s` },
    scrape_configs: [{
      job_name: opts.job ?? "tandem",
      metrics_path: opts.metricsPath ?? "/metrics",
      ...(opts.bearerToken
        ? { authorization: { type: "Bearer", credentials: opts.bearerToken } }
        : {}),
      static_configs: [{ targets: opts.targets }],
    }],
  };
  await Deno.writeTextFile(`${dir}/prometheus.yml`, JSON.stringify(config, null, 2));
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;

  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=info",
      ],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`prometheus is not on PATH: ${APT_HINT}`);
    }
    throw err;
  }

  // Drain both pipes so Prometheus never blocks on a full pipe; keep the tail for errors.
  const tail: string[] = [];
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      tail.push(...chunk.split("\n").filter((l) => l));
      if (tail.length > 40) tail.splice(0, tail.length - 40);
    }
  };
  const drained = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        const killer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* already gone */ }
        }, 5000);
        await status;
        clearTimeout(killer);
      }
      await status;
      await drained;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  const logTail = () => tail.join("\n");

  const query = async (expr: string): Promise<PromSample[]> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = await res.json();
    if (body.status !== "success") {
      throw new Error(`Prometheus query ${expr} failed: ${body.errorType}: ${body.error}`);
    }
    return (body.data.result as { metric: Record<string, string>; value: [number, string] }[])
      .map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };

  const targets = async () => {
    const res = await fetch(`${url}/api/v1/targets?state=active`);
    const body = await res.json();
    const active = (body.data?.activeTargets ?? []) as Record<string, string>[];
    return active.map((t) => ({
      scrapeUrl: t.scrapeUrl,
      health: t.health,
      lastError: t.lastError,
    }));
  };

  const server: PrometheusServer = {
    url,
    query,
    targets,
    logTail,
    stop,
    async waitFor(expr, accept, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      let last: PromSample[] | string = "no answer yet";
      while (Date.now() < end) {
        if (exited) break;
        try {
          last = await query(expr);
          if (accept(last)) return last;
        } catch (err) {
          last = String(err);
        }
        await sleep(250);
      }
      const scrapes = await targets().then((t) => JSON.stringify(t), (err) => String(err));
      throw new Error(
        `Prometheus: ${expr} not as expected after ${timeoutMs} ms; last: ${
          JSON.stringify(last)
        }\ntargets: ${scrapes}\n--- prometheus log ---\n${logTail()}`,
      );
    },
  };

  const end = Date.now() + (opts.startTimeoutMs ?? 15_000);
  while (Date.now() < end && !exited) {
    try {
      const res = await fetch(`${url}/-/ready`);
      await res.body?.cancel();
      if (res.ok) return server;
    } catch { /* not listening yet */ }
    await sleep(100);
  }
  await stop();
  throw new Error(
    `Prometheus did not become ready on ${url}` +
      `${exited ? " (it exited)" : ""}\n--- prometheus log ---\n${logTail()}`,
  );
}

// Build the media relay a route asks for (RouteConfig.media) from the media config section.

import type { MediaConfig } from "../config/types.ts";
import type { Random, Timers } from "../util/clock.ts";
import type { Logger } from "../util/log.ts";
import type { Registry } from "../util/metrics.ts";
import { RelayPool } from "./pool.ts";
import { RtpengineRelay } from "./relay-rtpengine.ts";
import { RtpproxyRelay } from "./relay-rtpproxy.ts";
import { RtpengineClient } from "./rtpengine.ts";
import { RtpproxyClient } from "./rtpproxy.ts";
import { runtimeTimers } from "./runtime-timers.ts";

/** Runtime services the relays use. */
export interface MediaDeps {
  /** Schedules health probes. */
  timers: Timers;
  /** Schedules request retransmissions and timeouts; default {@link runtimeTimers}. */
  requestTimers?: Timers;
  random?: Random;
  log?: Logger;
  registry?: Registry;
  /** Health probe interval, ms (default 5000). */
  healthInterval?: number;
}

/**
 * A started {@link RelayPool} over the `kind` servers of `config`. An rtpproxy server whose
 * address starts with "unix:" is reached over that socket path.
 */
export function createRelayPool(
  config: MediaConfig,
  kind: "rtpengine" | "rtpproxy",
  deps: MediaDeps,
): RelayPool {
  const policy = { codecs: config.codecs, ice: config.ice };
  const timing = {
    timeout: config.timeout,
    retries: config.retries,
    timers: deps.requestTimers ?? runtimeTimers,
    registry: deps.registry,
  };
  const members = (kind === "rtpengine" ? config.rtpengine : config.rtpproxy).map((s) => ({
    weight: s.weight,
    driver: kind === "rtpengine"
      ? new RtpengineRelay(
        new RtpengineClient(s.address, s.port, { ...timing, log: deps.log }),
        policy,
      )
      : new RtpproxyRelay(
        new RtpproxyClient(
          s.address.startsWith("unix:")
            ? { path: s.address.slice(5) }
            : { host: s.address, port: s.port },
          timing,
        ),
        policy,
        s.address.startsWith("unix:") ? "127.0.0.1" : s.address,
      ),
  }));
  const pool = new RelayPool(members, {
    onFailure: config.onFailure,
    timers: deps.timers,
    random: deps.random,
    log: deps.log,
    healthInterval: deps.healthInterval,
  });
  pool.start();
  return pool;
}

// Whether a route's servers answer, found by probing them with OPTIONS (what Kamailio's
// dispatcher does): a server down is skipped at once instead of costing every call its
// no-progress timer. Keyed by server address, so routes sharing a server share its state, and a
// route by host name has one entry per server DNS gives.

import type { Config, RouteConfig, RouteProbe } from "../config/types.ts";
import type { LocateTarget } from "../transport/locate.ts";
import { endpointKey, endpointText } from "../transport/address.ts";
import type { Endpoint } from "../transport/types.ts";
import type { Clock, TimerHandle, Timers } from "../util/clock.ts";
import type { Logger } from "../util/log.ts";
import { routeRequestUri } from "./route-uri.ts";

/** Named server states. */
export type ServerState = "up" | "down";

/** One probed server. */
export interface ProbedServer {
  /** The route (name) that asked for it first. */
  route: string;
  dest: Endpoint;
  /** The Request-URI of its probes: the route's host, as its INVITEs carry it. */
  ruri: string;
  settings: RouteProbe;
  state: ServerState;
  /** Failures (or answers, while down) in a row. */
  streak: number;
  inFlight: boolean;
  /** Monotonic ms of the next probe. */
  dueAt: number;
  /** Wall-clock ms of the last change of state (or of the first probe). */
  since: number;
  /** What the last probe or failed attempt found: a status code or why it failed. */
  last: string;
}

export interface RouteHealthOptions {
  config: () => Config;
  clock: Clock;
  timers: Timers;
  /** Send one probe; `done(ok, what)` once, with a status code or why it failed as `what`. */
  probe: (server: ProbedServer, done: (ok: boolean, what: string) => void) => void;
  /** Servers for a route by host name (RFC 3263). */
  locate?: (t: LocateTarget) => Promise<Endpoint[]>;
  log: Logger;
}

/** How often the probe schedule is looked at, ms; probe intervals are whole seconds or more. */
const TICK_MS = 1000;

/** A probed route, and the servers it had at its last lookup. */
interface ProbedRoute {
  route: RouteConfig;
  keys: Set<string>;
  dueAt: number;
  resolving: boolean;
}

/** Servers held back at once (503 Retry-After) at most. */
const MAX_HELD = 10_000;

export class RouteHealth {
  private servers = new Map<string, ProbedServer>();
  /** Servers held back after a 503 with Retry-After: monotonic ms they may be tried again. */
  private held = new Map<string, number>();
  private routes: ProbedRoute[] = [];
  private of: Config | undefined;
  private tick: TimerHandle | undefined;

  constructor(private o: RouteHealthOptions) {}

  /** Start probing (and follow reloads: the schedule is rebuilt when the configuration changes). */
  start(): void {
    if (this.tick) return;
    const loop = () => {
      this.tick = this.o.timers.set(TICK_MS, loop);
      this.run();
    };
    this.tick = this.o.timers.set(0, loop);
  }

  stop(): void {
    this.tick?.cancel();
    this.tick = undefined;
  }

  /** True when `dest` is probed and found down. Cheap when nothing is probed. */
  isDown(dest: Endpoint): boolean {
    if (this.servers.size === 0) return false;
    return this.servers.get(endpointKey(dest))?.state === "down";
  }

  /**
   * Whether `dest` is held back after a 503 with Retry-After (RFC 3263 §4.3), for a route with
   * `respect_retry_after`. Time-based only: probes neither set nor lift it.
   */
  isHeld(dest: Endpoint): boolean {
    if (this.held.size === 0) return false;
    const key = endpointKey(dest);
    const until = this.held.get(key);
    if (until === undefined) return false;
    if (until > this.o.clock.now()) return true;
    this.held.delete(key);
    return false;
  }

  /** Hold `dest` back for `ms` (from a 503's Retry-After, capped by the route). */
  hold(dest: Endpoint, ms: number): void {
    const now = this.o.clock.now();
    if (this.held.size >= MAX_HELD) {
      for (const [k, until] of this.held) if (until <= now) this.held.delete(k);
      if (this.held.size >= MAX_HELD) return; // bounded: a flood of names holds no more
    }
    const key = endpointKey(dest);
    const until = now + ms;
    if ((this.held.get(key) ?? 0) < until) this.held.set(key, until);
    this.o.log.info("route-server-held", { target: endpointText(dest), seconds: ms / 1000 });
  }

  /** A call attempt to `dest` got no answer or could not be sent: as a failed probe. */
  failed(dest: Endpoint, what: string): void {
    if (this.servers.size === 0) return;
    const s = this.servers.get(endpointKey(dest));
    if (s) this.record(s, false, what);
  }

  /** The probed servers, for metrics. */
  list(): readonly ProbedServer[] {
    return [...this.servers.values()];
  }

  private run(): void {
    const cfg = this.o.config();
    if (cfg !== this.of) this.configure(cfg);
    const now = this.o.clock.now();
    for (const r of this.routes) {
      if (r.dueAt > now || r.resolving) continue;
      r.dueAt = now + r.route.probe!.interval;
      if (r.route.dns) this.resolve(r);
    }
    for (const s of this.servers.values()) {
      if (s.dueAt > now || s.inFlight) continue;
      s.dueAt = now + s.settings.interval;
      s.inFlight = true;
      let answered = false;
      this.o.probe(s, (ok, what) => {
        if (answered) return;
        answered = true;
        s.inFlight = false;
        this.record(s, ok, what);
      });
    }
  }

  /** The probed routes of `cfg`; servers kept (with their state) when a route still has them. */
  private configure(cfg: Config): void {
    this.of = cfg;
    const seen = new Set<string>();
    const routes: ProbedRoute[] = [];
    const keep = new Map<string, ProbedServer>();
    const now = this.o.clock.now();
    for (const rule of [...cfg.rules, { routes: cfg.routes ?? [] }]) {
      for (const route of rule.routes) {
        if (!route.probe) continue;
        const id = `${route.name}|${route.transport}|${route.host}|${route.port}`;
        if (seen.has(id)) continue;
        seen.add(id);
        const pr: ProbedRoute = { route, keys: new Set(), dueAt: now, resolving: false };
        routes.push(pr);
        if (!route.dns) {
          const dest: Endpoint = { protocol: route.transport, host: route.host, port: route.port };
          this.adopt(pr, [dest], keep);
        } else {
          // Until the lookup answers, the servers it found before stay probed.
          for (const old of this.routes) {
            if (old.route.name !== route.name || old.route.host !== route.host) continue;
            for (const k of old.keys) {
              const s = this.servers.get(k);
              if (s) this.adopt(pr, [s.dest], keep);
            }
          }
        }
      }
    }
    this.routes = routes;
    this.servers = keep;
  }

  /** Make `dests` the servers of `pr`, reusing what `into` or the current table knows of them. */
  private adopt(pr: ProbedRoute, dests: Endpoint[], into: Map<string, ProbedServer>): void {
    const settings = pr.route.probe!;
    for (const dest of dests) {
      const key = endpointKey(dest);
      pr.keys.add(key);
      if (into.has(key)) continue;
      const had = this.servers.get(key);
      if (had) {
        had.settings = settings;
        into.set(key, had);
        continue;
      }
      into.set(key, {
        route: pr.route.name,
        dest,
        ruri: routeRequestUri(pr.route, undefined).toString(),
        settings,
        state: "up",
        streak: 0,
        inFlight: false,
        dueAt: this.o.clock.now(),
        since: this.o.clock.wallNow(),
        last: "",
      });
    }
  }

  /** Look a route by name up again; its servers become what DNS says now. */
  private resolve(pr: ProbedRoute): void {
    const locate = this.o.locate;
    if (!locate) return;
    const r = pr.route;
    pr.resolving = true;
    locate({ host: r.host, port: r.port, transport: r.transport, mode: r.dns! }).then(
      (found) => {
        pr.resolving = false;
        if (!this.routes.includes(pr)) return; // a reload replaced it meanwhile
        const old = pr.keys;
        pr.keys = new Set();
        this.adopt(pr, found, this.servers);
        for (const k of old) {
          if (!pr.keys.has(k) && !this.routes.some((x) => x.keys.has(k))) this.servers.delete(k);
        }
      },
      (err) => {
        pr.resolving = false;
        this.o.log.debug("route-probe-unresolved", { route: r.name, host: r.host, err });
      },
    );
  }

  private record(s: ProbedServer, ok: boolean, what: string): void {
    s.last = what;
    const { downAfter, upAfter } = s.settings;
    if (s.state === "up") {
      s.streak = ok ? 0 : s.streak + 1;
      if (s.streak >= downAfter) this.change(s, "down");
    } else {
      s.streak = ok ? s.streak + 1 : 0;
      if (s.streak >= upAfter) this.change(s, "up");
    }
  }

  private change(s: ProbedServer, state: ServerState): void {
    s.state = state;
    s.streak = 0;
    s.since = this.o.clock.wallNow();
    const target = endpointText(s.dest);
    if (state === "down") {
      this.o.log.warn("route-server-down", { route: s.route, target, last: s.last });
    } else this.o.log.info("route-server-up", { route: s.route, target });
  }
}

// Several relays behind one MediaRelay: weighted choice for new sessions, a session stays on the
// relay that created it, periodic liveness probes (ng "ping" / rtpproxy "V") on injected timers,
// and the configured failure policy (reject → RelayUnavailableError, the B2BUA answers 503;
// pass → the SDP goes through unchanged and the call is not relayed).

import type { Random, TimerHandle, Timers } from "../util/clock.ts";
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import { RelayError, RelayTimeoutError, RelayUnavailableError } from "./errors.ts";
import type {
  AnswerOptions,
  DialogSession,
  MediaRelay,
  OfferOptions,
  RelayDriver,
  RelaySession,
  SessionStats,
} from "./relay.ts";

/** One relay and its share of new sessions. */
export interface PoolMember {
  driver: RelayDriver;
  weight: number;
}

/** Pool behaviour. */
export interface PoolOptions {
  onFailure: "reject" | "pass";
  /** Probe every relay this often (ms). Default 5000. */
  healthInterval?: number;
  timers: Timers;
  /** In [0, 1); picks among live relays by weight. */
  random?: Random;
  log?: Logger;
}

interface Member extends PoolMember {
  alive: boolean;
}

const PASSED = Symbol("passed");

/** {@link MediaRelay} over weighted, health-checked relays. */
export class RelayPool implements MediaRelay {
  private members: Member[];
  /** Session key → the member holding it, or PASSED when it goes unrelayed. */
  private sessions = new Map<string, Member | typeof PASSED>();
  private timer: TimerHandle | undefined;
  private log: Logger;
  private random: Random;

  constructor(members: PoolMember[], private opts: PoolOptions) {
    this.members = members.map((m) => ({ ...m, alive: true }));
    this.log = opts.log ?? silentLogger;
    this.random = opts.random ?? Math.random;
  }

  /** Start periodic health checks. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.timer = this.opts.timers.set(this.opts.healthInterval ?? 5000, () => {
        void this.checkHealth().finally(() => {
          if (this.timer) tick();
        });
      });
    };
    tick();
  }

  /** Stop health checks and close every relay's control socket. */
  async close(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    await Promise.all(this.members.map((m) => m.driver.close()));
  }

  /** Probe every relay once and update which are alive. */
  async checkHealth(): Promise<void> {
    await Promise.all(this.members.map(async (m) => {
      try {
        await m.driver.ping();
        if (!m.alive) this.log.info("media.relay_up", { relay: m.driver.name });
        m.alive = true;
      } catch (err) {
        this.markDead(m, err);
      }
    }));
  }

  /** Relay names and liveness (for /status). */
  status(): { relay: string; alive: boolean; weight: number }[] {
    return this.members.map((m) => ({ relay: m.driver.name, alive: m.alive, weight: m.weight }));
  }

  /** Number of sessions being tracked (relayed or passed). */
  get size(): number {
    return this.sessions.size;
  }

  private markDead(m: Member, err: unknown): void {
    if (m.alive) this.log.warn("media.relay_down", { relay: m.driver.name, err });
    m.alive = false;
  }

  private key(s: RelaySession): string {
    return `${s.callId}\u0000${s.fromTag}`;
  }

  /** Weighted random choice among live members not yet tried. */
  private pick(tried: Set<Member>): Member | undefined {
    const live = this.members.filter((m) => m.alive && m.weight > 0 && !tried.has(m));
    const total = live.reduce((n, m) => n + m.weight, 0);
    let r = this.random() * total;
    for (const m of live) {
      if ((r -= m.weight) < 0) return m;
    }
    return live[live.length - 1];
  }

  private fail(session: RelaySession, sdp: string, err: Error | undefined): string {
    if (this.opts.onFailure === "pass") {
      this.log.warn("media.relay_pass", { callId: session.callId, err });
      this.sessions.set(this.key(session), PASSED);
      return sdp;
    }
    this.sessions.delete(this.key(session));
    throw new RelayUnavailableError(
      `no media relay for call ${session.callId}${err ? `: ${err.message}` : ""}`,
      err,
    );
  }

  /** Run `fn` on the session's relay, or on a newly picked one (failing over while none held). */
  private async run(
    session: RelaySession,
    sdp: string,
    fn: (d: RelayDriver) => Promise<string>,
  ): Promise<string> {
    const k = this.key(session);
    const held = this.sessions.get(k);
    if (held === PASSED) return sdp;
    if (held) {
      try {
        return await fn(held.driver);
      } catch (err) {
        if (err instanceof RelayTimeoutError) this.markDead(held, err);
        return this.fail(session, sdp, err as Error);
      }
    }
    const tried = new Set<Member>();
    let last: Error | undefined;
    for (let m = this.pick(tried); m; m = this.pick(tried)) {
      tried.add(m);
      try {
        const out = await fn(m.driver);
        this.sessions.set(k, m);
        return out;
      } catch (err) {
        last = err as Error;
        // An error reply (bad SDP...) would fail on any relay; only silence means "try another".
        if (!(err instanceof RelayTimeoutError)) break;
        this.markDead(m, err);
      }
    }
    return this.fail(session, sdp, last);
  }

  offer(session: RelaySession, sdp: string, opts?: OfferOptions): Promise<string> {
    return this.run(session, sdp, (d) => d.offer(session, sdp, opts));
  }

  answer(session: DialogSession, sdp: string, opts?: AnswerOptions): Promise<string> {
    return this.run(session, sdp, (d) => d.answer(session, sdp, opts));
  }

  /** Forget the session and release it on its relay; failures are logged, never thrown. */
  async delete(session: RelaySession): Promise<void> {
    const k = this.key(session);
    const held = this.sessions.get(k);
    this.sessions.delete(k);
    if (!held || held === PASSED) return;
    try {
      await held.driver.delete(session);
    } catch (err) {
      if (err instanceof RelayTimeoutError) this.markDead(held, err);
      this.log.warn("media.relay_delete_failed", { callId: session.callId, err });
    }
  }

  async stats(session: RelaySession): Promise<SessionStats | undefined> {
    const held = this.sessions.get(this.key(session));
    if (!held || held === PASSED) return undefined;
    try {
      return await held.driver.stats(session);
    } catch (err) {
      if (err instanceof RelayError) return undefined;
      throw err;
    }
  }
}

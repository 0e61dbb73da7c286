// A fake ControlPlane for unit tests of the HTTP surface only: it records what the API asked
// and answers from plain data. Behaviour of the real control plane is tested with the B2BUA.

import type {
  BannedSource,
  CallFilter,
  CallSummary,
  ControlPlane,
  DrainResult,
  EffectiveConfig,
  GcResult,
  HealthReport,
  OutboundRegistrationStatus,
  ReadyReport,
  RegistrationStatus,
  ReloadResult,
  RouteStatus,
} from "../../src/http/mod.ts";

/** A call summary with every field set; `over` replaces fields. */
export function sampleCall(over: Partial<CallSummary> = {}): CallSummary {
  return {
    id: "c1",
    state: "answered",
    startedAt: "2026-01-02T03:04:05.000Z",
    answeredAt: "2026-01-02T03:04:07.000Z",
    endedAt: null,
    rule: "default",
    route: "carrier-a",
    attempt: 1,
    caller: {
      callId: "a-leg@10.0.0.1",
      from: "sip:alice@10.0.0.1",
      to: "sip:100@tandem",
      ruri: "sip:100@tandem",
      source: "10.0.0.1:5060",
      state: "confirmed",
    },
    callee: {
      callId: "b-leg@tandem",
      ruri: "sip:100@carrier-a",
      target: "udp:192.0.2.10:5060",
      state: "confirmed",
    },
    durationSeconds: 12.5,
    ...over,
  };
}

/** Fake control plane; fields are public so tests can set answers and read calls made. */
export class FakeControlPlane implements ControlPlane {
  healthReport: HealthReport = {
    ok: true,
    transports: [{ name: "udp 127.0.0.1:5060", ok: true }],
    eventLoopLagMs: 1.5,
  };
  readyReport: ReadyReport = { ready: true };
  calls: CallSummary[] = [sampleCall(), sampleCall({ id: "c2", state: "ringing", route: "b" })];
  reloadResult: ReloadResult = { ok: true, rules: 3, restartNeeded: [] };
  statsValue: Record<string, number> = { activeCalls: 2, totalCalls: 10 };
  /** Undefined: a runtime without a collector hook. */
  gcResult: GcResult | undefined = {
    heapBeforeBytes: 9_000_000,
    heapAfterBytes: 4_000_000,
    ms: 12.5,
    heaps: 1,
  };
  collections = 0;
  banned: BannedSource[] = [{ address: "192.0.2.66", until: "2026-01-02T03:05:00.000Z" }];
  registrationList: RegistrationStatus[] = [{
    aor: "sip:alice@example.test",
    contact: "sip:xyz@abc.invalid;transport=ws",
    via: "ws:192.0.2.7:50312",
    token: "abcdefghij0123456789",
    expires: "2026-01-02T03:10:00.000Z",
  }];
  outboundList: OutboundRegistrationStatus[] = [{
    name: "carrier-a",
    aor: "sip:+15551230000@carrier.example",
    state: "registered",
    contact: "sip:+15551230000@192.0.2.1:5060",
    server: "udp:192.0.2.10:5060",
    expires: "2026-01-02T04:04:05.000Z",
    next: "2026-01-02T03:59:05.000Z",
    last: "200",
    failures: 0,
    since: "2026-01-02T03:04:05.000Z",
  }];
  routeList: RouteStatus[] = [{
    name: "carrier-a",
    target: "udp:192.0.2.10:5060",
    rules: ["all"],
    calls: 3,
    attempts: 40,
    answered: 22,
    talkSeconds: 3310,
    maxCalls: 300,
    servers: [{
      target: "udp:192.0.2.10:5060",
      state: "down",
      since: "2026-01-02T03:04:00.000Z",
      last: "timeout",
    }],
  }];
  readonly unbanned: string[] = [];
  /** Set to make every method throw (for the 500 path). */
  explode: Error | undefined;

  readonly listed: CallFilter[] = [];
  readonly dropped: { id: string; reason?: string }[] = [];
  readonly drains: (number | undefined)[] = [];
  reloads = 0;

  private check(): void {
    if (this.explode) throw this.explode;
  }
  health(): HealthReport {
    this.check();
    return this.healthReport;
  }
  ready(): ReadyReport {
    this.check();
    return this.readyReport;
  }
  listCalls(filter: CallFilter): CallSummary[] {
    this.check();
    this.listed.push(filter);
    return this.calls.filter((c) =>
      (filter.state === undefined || c.state === filter.state) &&
      (filter.route === undefined || c.route === filter.route)
    );
  }
  getCall(id: string): CallSummary | undefined {
    this.check();
    return this.calls.find((c) => c.id === id);
  }
  dropCall(id: string, reason?: string): boolean {
    this.check();
    const i = this.calls.findIndex((c) => c.id === id);
    if (i < 0) return false;
    this.calls.splice(i, 1);
    this.dropped.push({ id, reason });
    return true;
  }
  reload(): Promise<ReloadResult> {
    this.check();
    this.reloads++;
    return Promise.resolve(this.reloadResult);
  }
  drain(deadlineMs?: number): DrainResult {
    this.check();
    this.drains.push(deadlineMs);
    return { activeCalls: this.calls.length, deadline: "2026-01-02T03:05:00.000Z" };
  }
  stats(): Record<string, number> {
    this.check();
    return this.statsValue;
  }
  registrations(): RegistrationStatus[] {
    this.check();
    return this.registrationList;
  }
  configValue: EffectiveConfig = {
    source: "/etc/tandem/tandem.yaml",
    config: { sip: { listen: [] }, rules: [], http: { token: "********" } },
  };
  effectiveConfig(): EffectiveConfig {
    this.check();
    return this.configValue;
  }
  outboundRegistrations(): OutboundRegistrationStatus[] {
    this.check();
    return this.outboundList;
  }
  routes(): RouteStatus[] {
    this.check();
    return this.routeList;
  }
  bannedSources(): BannedSource[] {
    this.check();
    return this.banned;
  }
  unbanSource(address: string): boolean {
    this.check();
    const i = this.banned.findIndex((b) => b.address === address);
    if (i < 0) return false;
    this.banned.splice(i, 1);
    this.unbanned.push(address);
    return true;
  }
  collectGarbage(): GcResult | undefined {
    this.check();
    this.collections++;
    return this.gcResult;
  }
}

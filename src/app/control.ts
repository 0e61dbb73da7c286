// The HTTP API's view of the running Tandem: call listing and drop, reload, drain, health. It
// adapts the B2BUA's internal call state to the plain JSON shapes of src/http/control.ts.

import type { Call } from "../b2bua/mod.ts";
import type { Config } from "../config/types.ts";
import { effectiveDocument } from "../config/print.ts";
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
} from "../http/mod.ts";
import { endpointText } from "../transport/address.ts";
import { collectGarbage } from "../util/gc.ts";
import { metrics } from "../util/metrics.ts";
import { restartOnlyChanges } from "../config/restart-keys.ts";
import { OUTBOUND_UNREGISTER_WAIT_MS, type SipServer } from "./server.ts";

/** How the control plane reloads configuration and ends the process. */
export interface ControlHooks {
  /** Load and validate the config file again; throw ConfigError (with `.errors`) when invalid. */
  loadConfig(): Config;
  /** Called once a drain has finished (all calls ended or dropped). */
  onDrained(): void;
  /** Latest event-loop lag sample, ms. */
  eventLoopLagMs(): number;
  /** Called after a reload put `cfg` in force (the HTTP API's certificate may have changed). */
  onReloaded?(cfg: Config): void;
}

const STATE_NAMES: Record<Call["state"], string> = {
  Routing: "routing",
  Proceeding: "trying",
  Early: "ringing",
  Confirmed: "answered",
  Ended: "ended",
};

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/** Summarize a call for the API. */
export function summarize(call: Call, nowMs: number): CallSummary {
  const r = call.record;
  const b = call.b;
  const a = call.a;
  return {
    id: call.id,
    state: STATE_NAMES[call.state],
    startedAt: iso(r.inviteAt)!,
    answeredAt: iso(r.answerAt),
    endedAt: iso(r.endAt),
    rule: r.rule,
    route: b?.route.name ?? null,
    attempt: b ? b.index + 1 : 0,
    caller: {
      callId: r.callerCallId,
      from: a.invite.from.uri.toString(),
      to: a.invite.to.uri.toString(),
      ruri: r.callerRuri,
      source: r.source.replace(/^(udp|tcp):/, ""),
      state: (a.dialog?.state ?? "Trying").toLowerCase(),
    },
    callee: b
      ? {
        callId: b.invite.callId,
        ruri: b.invite.uri,
        target: b.record.target,
        state: b.state.toLowerCase(),
      }
      : null,
    durationSeconds: r.answerAt ? Math.max(0, ((r.endAt ?? nowMs) - r.answerAt) / 1000) : 0,
    ...(r.user !== undefined ? { user: r.user } : {}),
    ...(r.identity
      ? {
        identity: {
          ...(r.identity.verstat ? { verstat: r.identity.verstat } : {}),
          ...(r.identity.attest ? { attest: r.identity.attest } : {}),
          ...(r.identity.signed ? { signed: r.identity.signed } : {}),
        },
      }
      : {}),
  };
}

/** The ControlPlane over a SipServer. */
export class TandemControl implements ControlPlane {
  private draining = false;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private drainPoll: ReturnType<typeof setInterval> | undefined;

  constructor(private server: SipServer, private hooks: ControlHooks) {}

  health(): HealthReport {
    const transports = this.server.transport.listeners.map((l) => ({
      name: `${l.local.protocol} ${
        l.local.host.includes(":") ? `[${l.local.host}]` : l.local.host
      }:${l.local.port}`,
      ok: this.server.listening,
    }));
    return {
      ok: this.server.listening && transports.length > 0,
      transports,
      eventLoopLagMs: this.hooks.eventLoopLagMs(),
    };
  }

  ready(): ReadyReport {
    if (!this.server.listening) return { ready: false, reason: "SIP listeners are not up" };
    if (this.draining) return { ready: false, reason: "draining" };
    return { ready: true };
  }

  listCalls(f: CallFilter): CallSummary[] {
    const now = Date.now();
    const out: CallSummary[] = [];
    const limit = f.limit ?? 1000;
    for (const call of this.server.b2bua.calls.values()) {
      const s = summarize(call, now);
      if (f.state && s.state !== f.state) continue;
      if (f.route && s.route !== f.route) continue;
      if (f.caller && !s.caller.from.includes(f.caller)) continue;
      if (f.callee && !(s.callee?.ruri ?? s.caller.ruri).includes(f.callee)) continue;
      out.push(s);
      if (out.length >= limit) break;
    }
    return out;
  }

  getCall(id: string): CallSummary | undefined {
    const c = this.server.b2bua.calls.get(id);
    return c ? summarize(c, Date.now()) : undefined;
  }

  routes(): RouteStatus[] {
    const b2bua = this.server.b2bua;
    const byName = new Map<string, RouteStatus>();
    const cfg = this.server.config;
    // Top-level routes too (under no rule): the trunks route tables name.
    for (const rule of [...cfg.rules, { name: "", routes: cfg.routes ?? [] }]) {
      for (const r of rule.routes) {
        let st = byName.get(r.name);
        if (!st) {
          const host = r.host.includes(":") ? `[${r.host}]` : r.host;
          st = {
            name: r.name,
            target: r.enum
              ? `enum:${r.enum}`
              : r.dns && r.dns !== "a"
              ? `dns:${r.dns}:${r.transport}:${host}`
              : `${r.dns ? "dns:a:" : ""}${r.transport}:${host}:${r.port}`,
            rules: [],
            calls: b2bua.limits.route(r.name)?.live ?? 0,
            attempts: b2bua.routeTotals.get(r.name)?.attempts ?? 0,
            answered: b2bua.routeTotals.get(r.name)?.answered ?? 0,
            talkSeconds: Math.round(b2bua.routeTotals.get(r.name)?.talkSeconds ?? 0),
            ...(r.limits?.maxCalls !== undefined ? { maxCalls: r.limits.maxCalls } : {}),
            ...(r.limits?.maxCps !== undefined ? { maxCps: r.limits.maxCps } : {}),
            servers: [],
          };
          if (r.quality) {
            const q = b2bua.qualityOf(r.name);
            st.quality = {
              calls: q.calls,
              asr: Math.round(q.asr * 1000) / 1000,
              ...(q.pddMs !== undefined ? { pddMs: Math.round(q.pddMs) } : {}),
              degraded: q.degraded,
            };
          }
          byName.set(r.name, st);
        }
        if (rule.name && !st.rules.includes(rule.name)) st.rules.push(rule.name);
      }
    }
    for (const sv of b2bua.health.list()) {
      byName.get(sv.route)?.servers.push({
        target: endpointText(sv.dest),
        state: sv.state,
        since: new Date(sv.since).toISOString(),
        last: sv.last,
      });
    }
    return [...byName.values()];
  }

  registrations(): RegistrationStatus[] {
    const mono = performance.now();
    const wall = Date.now();
    return this.server.b2bua.registrations.list(mono).map((b) => ({
      aor: b.aor,
      contact: b.contact,
      via: endpointText(b.flow),
      token: b.token,
      expires: new Date(wall + (b.expiresAt - mono)).toISOString(),
    }));
  }

  outboundRegistrations(): OutboundRegistrationStatus[] {
    const mono = performance.now();
    const wall = Date.now();
    const iso = (at: number | undefined) =>
      at === undefined ? null : new Date(wall + (at - mono)).toISOString();
    return this.server.b2bua.outbound.list().map((a) => ({
      name: a.name,
      aor: a.aor,
      state: a.state,
      contact: a.contact ?? null,
      server: a.server ? endpointText(a.server) : null,
      expires: iso(a.expiresAt),
      next: iso(a.nextAt),
      last: a.last,
      failures: a.failures,
      since: new Date(a.since).toISOString(),
    }));
  }

  effectiveConfig(): EffectiveConfig {
    const cfg = this.server.config;
    return { source: cfg.source, config: effectiveDocument(cfg) };
  }

  bannedSources(): BannedSource[] {
    const now = Date.now();
    return (this.server.guard?.banned() ?? []).map((b) => ({
      address: b.host,
      until: new Date(now + b.remainingMs).toISOString(),
    }));
  }

  unbanSource(address: string): boolean {
    return this.server.guard?.unban(address) ?? false;
  }

  dropCall(id: string, reason?: string): boolean {
    const text = reason ? `SIP;cause=200;text="${reason.replace(/["\\\r\n\0]/g, "")}"` : undefined;
    return this.server.b2bua.drop(id, text);
  }

  reload(): Promise<ReloadResult> {
    try {
      const cfg = this.hooks.loadConfig();
      const restartNeeded = restartOnlyChanges(this.server.config, cfg);
      this.server.setConfig(cfg);
      this.hooks.onReloaded?.(cfg);
      return Promise.resolve({ ok: true, rules: cfg.rules.length, restartNeeded });
    } catch (e) {
      const errs = (e as { errors?: unknown[] }).errors;
      const list = Array.isArray(errs) && errs.length
        ? String((e as Error).message).split("\n").filter(Boolean)
        : [String((e as Error).message ?? e)];
      return Promise.resolve({ ok: false, errors: list });
    }
  }

  drain(deadlineMs?: number): DrainResult {
    const b2b = this.server.b2bua;
    const deadline = deadlineMs ?? this.server.config.limits.drainTimeout;
    const active = b2b.calls.size;
    const at = new Date(Date.now() + deadline).toISOString();
    if (this.draining) return { activeCalls: active, deadline: at };
    this.draining = true;
    b2b.draining = true;
    // Carriers stop sending new calls here at once rather than have them refused.
    void b2b.outbound.stop(OUTBOUND_UNREGISTER_WAIT_MS);
    const done = () => {
      clearInterval(this.drainPoll);
      clearTimeout(this.drainTimer);
      // Let the final BYE/200 exchanges leave the sockets before exiting.
      setTimeout(() => this.hooks.onDrained(), 500);
    };
    this.drainPoll = setInterval(() => {
      if (b2b.calls.size === 0) done();
    }, 100);
    this.drainTimer = setTimeout(() => {
      for (const id of [...b2b.calls.keys()]) {
        b2b.drop(id, 'SIP;cause=503;text="Service draining"');
      }
      done();
    }, deadline);
    return { activeCalls: active, deadline: at };
  }

  get isDraining(): boolean {
    return this.draining;
  }

  stats(): Record<string, number> {
    const tx = this.server.transactions.size;
    const calls = metrics.counter("tandem_calls_total", "Calls by outcome.");
    const out: Record<string, number> = {
      active_calls: this.server.b2bua.calls.size,
      client_transactions: tx.client,
      server_transactions: tx.server,
    };
    for (const [k, v] of calls.values) {
      const m = /outcome="([^"]+)"/.exec(k);
      if (m) out[`calls_${m[1].replace(/-/g, "_")}`] = v;
    }
    return out;
  }

  async collectGarbage(): Promise<GcResult | undefined> {
    const r = await collectGarbage();
    return r && { ...r, heaps: 1 };
  }
}

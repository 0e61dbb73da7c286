// The HTTP API's view of a cluster of SIP workers: worker 0 answers for itself and asks the
// others over IPC (supervisor.ts), then merges. A worker that does not answer makes health fail
// and is left out of lists and sums (its calls are not lost to the caller: they are its own).

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
import { metrics } from "../util/metrics.ts";
import { mergeExpositions } from "../util/metrics-merge.ts";
import type { TandemControl } from "./control.ts";
import type { Supervisor } from "./supervisor.ts";

/** Ask every worker; undefined for one that failed. */
type Answers<T> = (T | undefined)[];

export class ClusterControl implements ControlPlane {
  constructor(private readonly local: TandemControl, private readonly sup: Supervisor) {}

  private async ask<T>(op: string, args: unknown[] = []): Promise<Answers<T>> {
    const r = await this.sup.callAll<T>(op, args);
    return r.map((x) => x.status === "fulfilled" ? x.value : undefined);
  }

  async health(): Promise<HealthReport> {
    const own = this.local.health();
    const r = await this.sup.callAll<HealthReport>("health");
    const out: HealthReport = { ...own, transports: [...own.transports] };
    r.forEach((x, i) => {
      const w = i + 1;
      if (x.status === "rejected") {
        out.transports.push({ name: `worker ${w}`, ok: false, detail: String(x.reason?.message) });
        out.ok = false;
        return;
      }
      const h = x.value;
      out.ok &&= h.ok;
      out.eventLoopLagMs = Math.max(out.eventLoopLagMs, h.eventLoopLagMs);
      for (const t of h.transports) out.transports.push({ ...t, name: `worker ${w} ${t.name}` });
    });
    return out;
  }

  async ready(): Promise<ReadyReport> {
    const own = this.local.ready();
    if (!own.ready) return own;
    const r = await this.sup.callAll<ReadyReport>("ready");
    for (const [i, x] of r.entries()) {
      if (x.status === "rejected") return { ready: false, reason: `worker ${i + 1} is not up` };
      if (!x.value.ready) return { ready: false, reason: `worker ${i + 1}: ${x.value.reason}` };
    }
    return own;
  }

  async listCalls(filter: CallFilter): Promise<CallSummary[]> {
    const out = this.local.listCalls(filter).map((c) => ({ ...c, worker: 0 }));
    (await this.ask<CallSummary[]>("listCalls", [filter])).forEach((list, i) => {
      for (const c of list ?? []) out.push({ ...c, worker: i + 1 });
    });
    return out;
  }

  async getCall(id: string): Promise<CallSummary | undefined> {
    const own = this.local.getCall(id);
    if (own) return { ...own, worker: 0 };
    const found = await this.ask<CallSummary | null>("getCall", [id]);
    const i = found.findIndex((c) => c);
    return i < 0 ? undefined : { ...found[i]!, worker: i + 1 };
  }

  /**
   * Each worker counts its own calls and probes on its own: calls are summed, and a server is
   * down when any worker found it down (that worker skips it), with that worker's view of it.
   */
  async routes(): Promise<RouteStatus[]> {
    const own = this.local.routes();
    const byName = new Map(own.map((r) => [r.name, { ...r, servers: [...r.servers] }]));
    for (const list of await this.ask<RouteStatus[]>("routes")) {
      for (const r of list ?? []) {
        const mine = byName.get(r.name);
        if (!mine) continue; // a worker between reloads
        mine.calls += r.calls;
        mine.attempts += r.attempts;
        mine.answered += r.answered;
        mine.talkSeconds += r.talkSeconds;
        for (const sv of r.servers) {
          const i = mine.servers.findIndex((x) => x.target === sv.target);
          if (i < 0) mine.servers.push(sv);
          else if (sv.state === "down" && mine.servers[i].state === "up") mine.servers[i] = sv;
        }
        if (mine.quality && r.quality) mine.quality = mergeQuality(mine.quality, r.quality);
      }
    }
    return [...byName.values()];
  }

  async registrations(): Promise<RegistrationStatus[]> {
    // A registrar needs one worker; the others, should there be any, hold none.
    const out = [...this.local.registrations()];
    for (const list of await this.ask<RegistrationStatus[]>("registrations")) {
      out.push(...list ?? []);
    }
    return out;
  }

  outboundRegistrations(): OutboundRegistrationStatus[] {
    // Only the first worker (this process) registers.
    return this.local.outboundRegistrations();
  }

  effectiveConfig(): EffectiveConfig {
    // Reloads reach every worker from this one: its configuration is theirs.
    return this.local.effectiveConfig();
  }

  async bannedSources(): Promise<BannedSource[]> {
    // A source's requests spread over the workers, so each may have banned it: the latest end.
    const by = new Map<string, string>();
    for (
      const list of [this.local.bannedSources(), ...await this.ask<BannedSource[]>("bannedSources")]
    ) {
      for (const b of list ?? []) {
        const seen = by.get(b.address);
        if (!seen || b.until > seen) by.set(b.address, b.until);
      }
    }
    return [...by].map(([address, until]) => ({ address, until }));
  }

  async unbanSource(address: string): Promise<boolean> {
    const own = this.local.unbanSource(address);
    const others = await this.ask<boolean>("unbanSource", [address]);
    return own || others.some((d) => d === true);
  }

  async dropCall(id: string, reason?: string): Promise<boolean> {
    if (this.local.dropCall(id, reason)) return true;
    return (await this.ask<boolean>("dropCall", [id, reason])).some((d) => d === true);
  }

  async reload(): Promise<ReloadResult> {
    const own = await this.local.reload();
    const r = await this.sup.callAll<ReloadResult>("reload");
    const errors = own.ok ? [] : [...own.errors];
    r.forEach((x, i) => {
      if (x.status === "rejected") errors.push(`worker ${i + 1}: ${x.reason?.message}`);
      else if (!x.value.ok) errors.push(...x.value.errors.map((e) => `worker ${i + 1}: ${e}`));
    });
    return errors.length ? { ok: false, errors } : own;
  }

  async drain(deadlineMs?: number): Promise<DrainResult> {
    this.sup.beginStop(); // a worker that exits drained is not restarted
    const own = this.local.drain(deadlineMs);
    const r = await this.ask<DrainResult>("drain", [deadlineMs]);
    let active = own.activeCalls;
    for (const d of r) active += d?.activeCalls ?? 0;
    return { activeCalls: active, deadline: own.deadline };
  }

  async stats(): Promise<Record<string, number>> {
    const out = { ...this.local.stats() };
    for (const s of await this.ask<Record<string, number>>("stats")) {
      for (const [k, v] of Object.entries(s ?? {})) out[k] = (out[k] ?? 0) + v;
    }
    out.workers = 1 + this.sup.running;
    return out;
  }

  async collectGarbage(): Promise<GcResult | undefined> {
    const own = await this.local.collectGarbage();
    if (!own) return undefined;
    const out = { ...own };
    for (const r of await this.ask<GcResult | null>("collectGarbage")) {
      if (!r) continue;
      out.heapBeforeBytes += r.heapBeforeBytes;
      out.heapAfterBytes += r.heapAfterBytes;
      out.ms = Math.max(out.ms, r.ms);
      out.heaps += r.heaps;
      if (out.objects !== undefined) {
        out.objects = r.objects === undefined ? undefined : out.objects + r.objects;
      }
    }
    if (out.objects === undefined) delete out.objects;
    return out;
  }

  async metrics(): Promise<string> {
    const parts = [{ worker: "0", text: metrics.expose() }];
    (await this.ask<string>("metrics")).forEach((text, i) => {
      if (text) parts.push({ worker: String(i + 1), text });
    });
    return mergeExpositions(parts);
  }
}

type Quality = NonNullable<RouteStatus["quality"]>;

/**
 * Two workers' quality figures of a route as one: calls summed, ASR and PDD weighted by calls,
 * degraded when either worker has it so (each judges, and orders, its own calls).
 */
function mergeQuality(a: Quality, b: Quality): Quality {
  const calls = a.calls + b.calls;
  const w = (x: number, y: number) => calls ? (x * a.calls + y * b.calls) / calls : 0;
  const pdd = a.pddMs === undefined
    ? b.pddMs
    : b.pddMs === undefined
    ? a.pddMs
    : Math.round(w(a.pddMs, b.pddMs));
  return {
    calls,
    asr: Math.round(w(a.asr, b.asr) * 1000) / 1000,
    ...(pdd !== undefined ? { pddMs: pdd } : {}),
    degraded: a.degraded || b.degraded,
  };
}

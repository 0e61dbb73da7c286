// A worker's side of the cluster IPC (see cluster.ts, supervisor.ts): announce its link port,
// receive the link table, answer worker 0's requests, and notice worker 0 going away.

import process from "node:process";
import type { FromWorker, ToWorker } from "./cluster.ts";

/** Operations a worker answers, by name. */
export type WorkerOps = Record<string, (...args: never[]) => unknown>;

/** The IPC channel to worker 0, in a worker process. */
export class WorkerEndpoint {
  private peersWaiters: ((p: (number | undefined)[]) => void)[] = [];
  private ops: WorkerOps = {};
  private closing = false;
  /** Called with every new link table. */
  onPeers: (ports: (number | undefined)[]) => void = () => {};

  constructor(onParentGone: () => void) {
    if (typeof process.send !== "function") {
      throw new Error("a Tandem worker must be started by Tandem (no IPC channel)");
    }
    process.on("message", (m: ToWorker) => this.onMessage(m));
    process.on("disconnect", () => {
      if (!this.closing) onParentGone();
    });
  }

  private post(m: FromWorker): void {
    try {
      process.send!(m);
    } catch { /* worker 0 is gone; "disconnect" handles it */ }
  }

  private onMessage(m: ToWorker): void {
    if (m.t === "peers") {
      const ports = m.ports.map((p) => p ?? undefined);
      this.onPeers(ports);
      this.peersWaiters.splice(0).forEach((f) => f(ports));
      return;
    }
    if (m.t === "rpc") {
      const op = this.ops[m.op];
      if (!op) return this.post({ t: "reply", id: m.id, ok: false, error: `no op ${m.op}` });
      Promise.resolve()
        .then(() => (op as (...a: unknown[]) => unknown)(...m.args))
        .then(
          (value) => this.post({ t: "reply", id: m.id, ok: true, value: value ?? null }),
          (e) => this.post({ t: "reply", id: m.id, ok: false, error: String(e?.message ?? e) }),
        );
    }
  }

  /** Tell worker 0 this worker's link port; resolves with the first link table. */
  announceLink(port: number): Promise<(number | undefined)[]> {
    const p = new Promise<(number | undefined)[]>((r) => this.peersWaiters.push(r));
    this.post({ t: "link", port });
    return p;
  }

  /** Listening: worker 0 may count on this worker now; `ops` answers its requests. */
  started(ops: WorkerOps): void {
    this.ops = ops;
    this.post({ t: "started" });
  }

  failed(err: Error): void {
    this.post({ t: "failed", error: err.message });
  }

  /** Let the process exit once nothing else holds it (the IPC channel would keep it alive). */
  close(): void {
    this.closing = true;
    try {
      process.disconnect?.();
    } catch { /* already closed */ }
  }
}

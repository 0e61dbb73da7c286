// The listener's side of the UDP send thread (bun-udp-sender.ts): starts it, packs batches for
// it (udp-batch.ts) and turns its failure reports back into what a synchronous send would have
// reported. Bun only: the thread writes with sendmmsg through bun:ffi on the listener's socket.
//
// Why a thread: the kernel's work for a datagram (on loopback or a virtual NIC, the next hop's
// receive path too) runs inside the sender's system call, on the JavaScript thread that limits
// the call rate. Measured on the 2-core bench box (docs/benchmarks.md, twenty-first session):
// at 4,000 calls/s the JavaScript thread spent 10 % less per call, the process up to 16 % more in
// all, and with no idle core (SIPp on the same two) it waited for a core more and shed calls at
// 3,500/s where sending on the JavaScript thread did not. Hence opt-in (sip.udp_send_thread),
// for hosts with a core to spare.

import type { Address, Endpoint, SendFailure } from "./types.ts";
import { reportSendFailure, TransportError } from "./errors.ts";
import { BatchPacker, type SendFailureReport } from "./udp-batch.ts";

/** Batches remembered for the failure reports that may come back (about a second under load). */
const RING = 512;

/** Names of the errno values a UDP send reports on Linux, for TransportError codes. */
const ERRNO: Record<number, string> = {
  1: "EPERM",
  11: "EAGAIN",
  13: "EACCES",
  22: "EINVAL",
  90: "EMSGSIZE",
  97: "EAFNOSUPPORT",
  101: "ENETUNREACH",
  105: "ENOBUFS",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
};

/** A datagram as the listener queued it: where to, and whom to tell when it cannot go. */
export interface QueuedSend {
  dest: Address;
  fail?: SendFailure;
}

interface BatchRecord {
  meta: readonly QueuedSend[];
  /** Where the datagram before the batch went: the likely culprit of an ICMP error on its first. */
  before: Endpoint | undefined;
}

/** Where the listener hears of a send that failed: the same calls its own sends make. */
export interface SendThreadEvents {
  onError(culprit: Endpoint, err: TransportError): void;
}

/** Where the thread's code is: beside this file from source, the build's entry when compiled. */
function workerUrl(): string {
  const here = import.meta.url;
  // bun build --compile bundles this module into the executable and the thread's module as a
  // second entry point, found by its path from the repository root (scripts/build.ts).
  if (here.includes("/$bunfs/")) return "./src/transport/bun-udp-sender.ts";
  return new URL("./bun-udp-sender.ts", here).href;
}

/** Starting until the thread answers, Running while batches go to it; Failed and Closed stay. */
type ThreadState = "Starting" | "Running" | "Failed" | "Closed";

export class UdpSendThread {
  private state: ThreadState = "Starting";
  private worker: Worker | undefined;
  private readonly packer: BatchPacker;
  private seq = 0;
  private readonly recent: (BatchRecord | undefined)[] = new Array(RING);
  private closing: Promise<void> | undefined;
  /** Ends the wait in {@link close}: the thread said it has sent everything. */
  private closed: (() => void) | undefined;
  /** Resolves once the thread sends (true) or will not (false). */
  readonly started: Promise<boolean>;
  private settle: (ok: boolean) => void = () => {};

  constructor(fd: number, family: 4 | 6, private readonly events: SendThreadEvents) {
    this.packer = new BatchPacker(family);
    this.started = new Promise<boolean>((resolve) => this.settle = resolve);
    try {
      const w = new Worker(workerUrl(), { type: "module" });
      this.worker = w;
      w.onmessage = (e: MessageEvent) => this.onMessage(e.data);
      w.onerror = () => this.fail();
      w.postMessage({ init: { fd } });
      // The thread must not keep the process alive (Bun's Worker has unref).
      (w as unknown as { unref?: () => void }).unref?.();
    } catch {
      this.fail();
    }
  }

  /** Whether batches go to the thread (it started, and has not failed or closed since). */
  get usable(): boolean {
    return this.state === "Running";
  }

  /**
   * Hand a batch to the thread: [data, port, host] triples (as Bun's sendMany takes them) and
   * what was queued with each; false (nothing taken) when a destination cannot be packed, so
   * the caller sends the batch itself. `before`: where the datagram before this batch went.
   */
  post(
    triples: (Uint8Array | number | string)[],
    meta: readonly QueuedSend[],
    before: Endpoint | undefined,
  ): boolean {
    const w = this.worker;
    if (!w || !this.usable) return false;
    const buf = this.packer.pack(triples);
    if (!buf) return false;
    const batch = this.seq++;
    this.recent[batch % RING] = { meta, before };
    w.postMessage({ batch, buf, count: meta.length }, [buf]);
    return true;
  }

  /** Let the thread send what it was given, then end it (at most `waitMs`). */
  close(waitMs = 1000): Promise<void> {
    if (this.closing) return this.closing;
    const w = this.worker;
    this.state = "Closed";
    this.settle(false);
    if (!w) return this.closing = Promise.resolve();
    this.closing = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        try {
          w.terminate();
        } catch { /* already gone */ }
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      // Messages are handled in order: the thread answers after the batches before this.
      this.closed = done;
      try {
        w.postMessage({ close: true });
      } catch {
        done();
      }
    });
    return this.closing;
  }

  private fail(): void {
    if (this.state !== "Closed") this.state = "Failed";
    this.settle(false);
  }

  private onMessage(
    m: { ready?: boolean; closed?: boolean } & Partial<SendFailureReport>,
  ): void {
    if (m.closed) return this.closed?.();
    if (m.ready !== undefined) {
      if (m.ready && this.state === "Starting") {
        this.state = "Running";
        this.settle(true);
      } else this.fail();
      return;
    }
    if (m.batch !== undefined && m.failures) this.report(m.batch, m.failures);
  }

  /** What a synchronous send would have said: see BunUdpListener's sendOne. */
  private report(batch: number, failures: number[]): void {
    const rec = this.recent[batch % RING];
    // Too old (overwritten): the datagrams' owners are not known any more.
    if (!rec || batch + RING <= this.seq - 1) return;
    for (let k = 0; k + 2 < failures.length; k += 3) {
      const i = failures[k];
      const d = rec.meta[i]?.dest;
      if (!d) continue;
      const ep: Endpoint = { protocol: "udp", host: d.host, port: d.port };
      const prev = i > 0 ? rec.meta[i - 1].dest : rec.before;
      const culprit: Endpoint = prev ? { protocol: "udp", host: prev.host, port: prev.port } : ep;
      const err = errnoError(failures[k + 1], ep);
      const fail = rec.meta[i].fail;
      const sameDest = culprit.host === ep.host && culprit.port === ep.port;
      safe(() => this.events.onError(culprit, err));
      if (fail && sameDest) safe(() => reportSendFailure(fail, err));
      const again = failures[k + 2];
      if (again !== 0) {
        const err2 = errnoError(again, ep);
        safe(() => this.events.onError(ep, err2));
        if (fail && !sameDest) safe(() => reportSendFailure(fail, err2));
      }
    }
  }
}

function errnoError(errno: number, dest: Endpoint): TransportError {
  const code = ERRNO[errno] ?? `E${errno}`;
  return new TransportError(`udp send to ${dest.host}:${dest.port}: ${code}`, code);
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch { /* a handler bug must not reach the worker's message loop */ }
}

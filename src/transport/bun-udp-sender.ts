// The Bun UDP listener's send thread (a Worker): it writes the listener's outgoing datagrams
// with sendmmsg(2) on the listener's own socket descriptor, so that the kernel's work for them
// (on loopback or a virtual NIC that is most of a datagram's cost: the whole receive path of
// the next hop runs inside the sender's system call) is done beside the JavaScript thread
// instead of on it. Same socket, same source address and port: peers see no difference.
//
// Messages in: {init: {fd}} once, then BatchMessage (udp-batch.ts) in order, then {close: true}.
// Messages out: {ready: true} or {ready: false, reason}, then SendFailureReport when a datagram
// could not be sent, and {closed: true} last. Nothing here may throw into the worker: the
// listener falls back to sending itself when this thread fails.

import { type BatchMessage, RECORD_HEAD, type SendFailureReport } from "./udp-batch.ts";

interface Ffi {
  dlopen(
    lib: string,
    fns: Record<string, { args: unknown[]; returns: unknown }>,
  ): { symbols: Record<string, (...a: number[]) => number> };
  FFIType: Record<string, unknown>;
  ptr(v: ArrayBufferView | ArrayBuffer): number;
  read: { i32(p: number, off?: number): number };
}

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(m: unknown): void;
  close(): void;
}
const scope = globalThis as unknown as WorkerScope;

const EINTR = 4;
const EAGAIN = 11;
const ENOBUFS = 105;
/** struct mmsghdr and struct iovec on 64-bit Linux. */
const MMSG = 64;
const IOV = 16;

let ffi: Ffi;
let sendmmsg: (fd: number, vec: number, n: number, flags: number) => number;
let errnoAt: () => number;
let fd = -1;
let headers = new DataView(new ArrayBuffer(256 * MMSG));
let iovecs = new DataView(new ArrayBuffer(256 * IOV));
/** For a short blocking wait when the socket's send buffer is full. */
const pause = new Int32Array(new SharedArrayBuffer(4));

async function init(descriptor: number): Promise<void> {
  try {
    // A computed specifier: Deno type-checks this file and has no bun:ffi.
    const spec = "bun:ffi";
    ffi = await import(spec) as Ffi;
    const t = ffi.FFIType;
    const lib = ffi.dlopen("libc.so.6", {
      sendmmsg: { args: [t.i32, t.ptr, t.u32, t.i32], returns: t.i32 },
      __errno_location: { args: [], returns: t.ptr },
    });
    sendmmsg = lib.symbols.sendmmsg;
    const loc = lib.symbols.__errno_location;
    errnoAt = () => ffi.read.i32(loc(), 0);
    fd = descriptor;
    scope.postMessage({ ready: true });
  } catch (e) {
    scope.postMessage({ ready: false, reason: String(e) });
  }
}

/** A pointer as two 32-bit halves (pointers fit in 53 bits), little-endian. */
function setPointer(v: DataView, at: number, p: number): void {
  v.setUint32(at, p % 0x100000000, true);
  v.setUint32(at + 4, Math.floor(p / 0x100000000), true);
}

function send(m: BatchMessage): void {
  const count = m.count;
  if (headers.byteLength < count * MMSG) {
    headers = new DataView(new ArrayBuffer(count * MMSG * 2));
    iovecs = new DataView(new ArrayBuffer(count * IOV * 2));
  }
  const base = ffi.ptr(m.buf);
  const view = new DataView(m.buf);
  const hp = ffi.ptr(headers);
  const ip = ffi.ptr(iovecs);
  let off = 0;
  for (let i = 0; i < count; i++) {
    const len = view.getUint32(off, true);
    const family = view.getUint16(off + 4, true);
    const h = i * MMSG;
    setPointer(headers, h, base + off + 4); // msg_name
    headers.setUint32(h + 8, family === 2 ? 16 : 28, true); // msg_namelen
    setPointer(headers, h + 16, ip + i * IOV); // msg_iov
    setPointer(headers, h + 24, 1); // msg_iovlen
    setPointer(headers, h + 32, 0); // msg_control
    setPointer(headers, h + 40, 0); // msg_controllen
    headers.setUint32(h + 48, 0, true); // msg_flags
    setPointer(iovecs, i * IOV, base + off + RECORD_HEAD);
    setPointer(iovecs, i * IOV + 8, len);
    off += RECORD_HEAD + len;
  }
  let failures: number[] | undefined;
  let i = 0;
  let waits = 0;
  while (i < count) {
    const r = sendmmsg(fd, hp + i * MMSG, count - i, 0);
    if (r > 0) {
      i += r;
      waits = 0;
      continue;
    }
    const e = errnoAt();
    if (e === EINTR) continue;
    if ((e === EAGAIN || e === ENOBUFS) && waits < 20) {
      // The send buffer is full: let the kernel drain it (this thread only sends).
      waits++;
      Atomics.wait(pause, 0, 0, 1);
      continue;
    }
    // Linux reports an earlier datagram's ICMP error on this send (IP_RECVERR) and does not
    // send this one: the error is consumed, so try it once more, as the listener does itself.
    const again = sendmmsg(fd, hp + i * MMSG, 1, 0) === 1 ? 0 : errnoAt();
    (failures ??= []).push(i, e, again);
    i++;
    waits = 0;
  }
  if (failures) {
    const report: SendFailureReport = { batch: m.batch, failures };
    scope.postMessage(report);
  }
}

scope.onmessage = (e: MessageEvent) => {
  const m = e.data;
  try {
    if (m.init) return void init(m.init.fd);
    if (m.close) {
      // Everything posted before this is sent: say so, then end.
      scope.postMessage({ closed: true });
      return scope.close();
    }
    if (fd >= 0) send(m as BatchMessage);
  } catch (err) {
    scope.postMessage({ ready: false, reason: String(err) });
  }
};

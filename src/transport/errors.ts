// RFC 3261 §18: failures of the transport layer, one class per family so the transaction layer
// can tell "could not deliver" (§8.1.3.1: treat as a 503) from a programming error.

import type { SendFailure } from "./types.ts";

/** A message could not be delivered or a socket failed; `code` is the OS code when known. */
export class TransportError extends Error {
  override name = "TransportError";
  constructor(message: string, public readonly code = "", options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An outbound TCP connection did not complete within `connectTimeoutMs`. */
export class ConnectTimeoutError extends TransportError {
  override name = "ConnectTimeoutError";
}

/**
 * RFC 3261 §18.3: a stream lost its framing (missing or bad Content-Length, message over the
 * size limit). The connection is closed because the next message boundary is unknown.
 */
export class FramingError extends TransportError {
  override name = "FramingError";
}

/** No listener can send over this protocol and IP family (e.g. TCP to ::1 with no IPv6 TCP). */
export class NoListenerError extends TransportError {
  override name = "NoListenerError";
}

/** Wrap anything a runtime threw into a TransportError, keeping its `code` (ECONNREFUSED...). */
export function toTransportError(e: unknown, what: string): TransportError {
  if (e instanceof TransportError) return e;
  const err = e as { message?: string; code?: string; name?: string } | undefined;
  const code = typeof err?.code === "string" ? err.code : (err?.name ?? "");
  return new TransportError(`${what}: ${err?.message ?? String(e)}`, code, { cause: e });
}

/** Tell `fail` (if any) that a send failed. */
export function reportSendFailure(fail: SendFailure | undefined, err: Error): void {
  if (fail === undefined) return;
  if (typeof fail === "function") fail(err);
  else fail.sendFailed(err);
}

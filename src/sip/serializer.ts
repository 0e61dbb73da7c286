// RFC 3261 §7: one start line, header lines with long names, Content-Length always written
// (§20.14: mandatory over streams, harmless over datagrams), then the body as bytes.

import { type SipMessage, SipRequest, type SipResponse } from "./message.ts";

const encoder = new TextEncoder();

/** The start line and headers as text, with Content-Length set to the body length. */
export function serializeHead(msg: SipMessage): string {
  let s = msg instanceof SipRequest
    ? `${msg.method} ${msg.uri} SIP/2.0\r\n`
    : `SIP/2.0 ${(msg as SipResponse).status} ${(msg as SipResponse).reason}\r\n`;
  for (const h of msg.headers) {
    if (h.key === "content-length") continue;
    s += `${h.name}: ${h.value}\r\n`;
  }
  s += `Content-Length: ${msg.body.length}\r\n\r\n`;
  return s;
}

/** Serialize a message to bytes for the wire. */
export function serialize(msg: SipMessage): Uint8Array {
  const head = encoder.encode(serializeHead(msg));
  if (msg.body.length === 0) return head;
  const out = new Uint8Array(head.length + msg.body.length);
  out.set(head, 0);
  out.set(msg.body, head.length);
  return out;
}

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

// Scratch buffer for encodeInto: the head is encoded once into it and copied out with the body
// in one allocation, instead of encode() plus a second buffer for head + body.
let scratch = new Uint8Array(8192);

/** Serialize a message to bytes for the wire. */
export function serialize(msg: SipMessage): Uint8Array {
  const head = serializeHead(msg);
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  const need = head.length * 3 + msg.body.length;
  if (scratch.length < need) scratch = new Uint8Array(need);
  const { written } = encoder.encodeInto(head, scratch);
  scratch.set(msg.body, written);
  return scratch.slice(0, written + msg.body.length);
}

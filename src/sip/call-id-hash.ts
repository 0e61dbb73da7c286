// Call-ID affinity for several SIP worker processes: every message of a call must reach the
// worker holding that call, whichever worker's socket the kernel handed the datagram to. The
// owner is a hash of the Call-ID, read straight from the raw bytes: a worker that is not the
// owner forwards the datagram unparsed, so the scan must cost far less than a parse.
//
// The hash runs over the Call-ID's bytes exactly as they appear on the wire (RFC 3261 §20.8:
// Call-ID compares case-sensitively), so a message and its retransmissions always agree.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const CR = 13, LF = 10, SP = 32, HT = 9, COLON = 58;

/** Lowercase an ASCII letter byte (others unchanged). */
function lower(b: number): number {
  return b >= 65 && b <= 90 ? b | 0x20 : b;
}

const CALL_ID = [99, 97, 108, 108, 45, 105, 100]; // "call-id"

/**
 * Offset just past the ':' when the header line starting at `i` is Call-ID (long form "Call-ID"
 * or compact "i", any case, optional blanks before the colon); -1 otherwise.
 */
function callIdColon(data: Uint8Array, i: number): number {
  const n = data.length;
  let j = i;
  if (
    lower(data[j]) === 105 /* i */ && j + 1 < n && (data[j + 1] === COLON ||
      data[j + 1] === SP || data[j + 1] === HT)
  ) {
    j++;
  } else {
    for (let k = 0; k < CALL_ID.length; k++, j++) {
      if (j >= n || lower(data[j]) !== CALL_ID[k]) return -1;
    }
  }
  while (j < n && (data[j] === SP || data[j] === HT)) j++;
  return j < n && data[j] === COLON ? j + 1 : -1;
}

/**
 * Where the Call-ID value of a raw SIP message lies: its first and past-the-last byte, blanks
 * trimmed; -1 when the header part has no Call-ID line with a value (the message is malformed;
 * whoever received it answers or drops it). The start is returned, the end left in `span[1]`.
 */
function callIdSpan(data: Uint8Array, span: Int32Array): number {
  const n = data.length;
  let i = 0;
  // Header lines start after a LF; the start line never is a Call-ID line.
  while (i < n) {
    while (i < n && data[i] !== LF) i++;
    i++;
    if (i >= n) return -1;
    const b = data[i];
    if (b === CR || b === LF) return -1; // the blank line: end of the headers
    if (b !== 99 && b !== 67 && b !== 105 && b !== 73) continue; // not c/C/i/I
    let j = callIdColon(data, i);
    if (j < 0) continue;
    while (j < n && (data[j] === SP || data[j] === HT)) j++;
    let end = j;
    while (end < n && data[end] !== CR && data[end] !== LF) end++;
    while (end > j && (data[end - 1] === SP || data[end - 1] === HT)) end--;
    if (end === j) return -1;
    span[1] = end;
    return j;
  }
  return -1;
}

const span = new Int32Array(2);

/**
 * FNV-1a (32-bit, unsigned) of the Call-ID value in a raw SIP message: the bytes after the
 * colon, blanks trimmed, up to the end of the line. -1 when there is none (see callIdSpan).
 */
export function rawCallIdHash(data: Uint8Array): number {
  const j = callIdSpan(data, span);
  if (j < 0) return -1;
  const end = span[1];
  let h = FNV_OFFSET;
  for (let k = j; k < end; k++) h = Math.imul(h ^ data[k], FNV_PRIME);
  return h >>> 0;
}

const decoder = new TextDecoder();

/** The Call-ID of a raw SIP message, without parsing it; undefined when it has none. */
export function rawCallId(data: Uint8Array): string | undefined {
  const j = callIdSpan(data, span);
  return j < 0 ? undefined : decoder.decode(data.subarray(j, span[1]));
}

const encoder = new TextEncoder();

/** The same hash over a Call-ID string (its UTF-8 bytes), as {@link rawCallIdHash} reads it. */
export function callIdHash(callId: string): number {
  let h = FNV_OFFSET;
  for (let k = 0; k < callId.length; k++) {
    const c = callId.charCodeAt(k);
    if (c > 127) {
      h = FNV_OFFSET;
      for (const b of encoder.encode(callId)) h = Math.imul(h ^ b, FNV_PRIME);
      return h >>> 0;
    }
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  return h >>> 0;
}

/** The worker (0..count-1) that owns a Call-ID hash. */
export function ownerOfHash(hash: number, count: number): number {
  return hash % count;
}

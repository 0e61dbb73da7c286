// The SDP inside a multipart body (RFC 2046 §5.1, RFC 5621 for SIP): SIP-I and SIP-T carry ISUP
// beside the SDP (RFC 3204, multipart/mixed), emergency calls carry a location object. The relay
// rewrites only the application/sdp part; every other byte, binary ISUP included, stays as it was.

/** A byte range of a body: [start, end). */
export interface ByteRange {
  start: number;
  end: number;
}

// Bytes to chars one to one, so that offsets in the text are offsets in the bytes.
const latin1 = new TextDecoder("latin1");

/** The boundary of a multipart/* Content-Type value, or undefined for any other type. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  const b = m?.[1] ?? m?.[2];
  // RFC 2046 §5.1.1: 1 to 70 characters.
  return b && b.length <= 70 ? b : undefined;
}

/**
 * Where the body of the first application/sdp part of a multipart body lies, or undefined when
 * the body is not multipart, has no SDP part, or is not well formed (then nothing is rewritten).
 */
export function sdpPartRange(
  body: Uint8Array,
  contentType: string | undefined,
): ByteRange | undefined {
  const boundary = multipartBoundary(contentType);
  if (boundary === undefined) return undefined;
  const text = latin1.decode(body);
  const delimiter = `--${boundary}`;
  // The first delimiter opens the body or follows a preamble's CRLF.
  let at = text.startsWith(delimiter) ? 0 : text.indexOf(`\r\n${delimiter}`);
  if (at < 0) return undefined;
  if (at > 0) at += 2;
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at + delimiter.length);
    if (lineEnd < 0 || text.startsWith("--", at + delimiter.length)) return undefined; // the close
    const partStart = lineEnd + 2;
    const next = text.indexOf(`\r\n${delimiter}`, partStart - 2);
    if (next < 0) return undefined;
    // Part headers end at an empty line; a part that opens with one has none (text/plain).
    const headEnd = text.startsWith("\r\n", partStart)
      ? partStart
      : text.indexOf("\r\n\r\n", partStart);
    if (headEnd >= 0 && headEnd < next) {
      const head = text.slice(partStart, headEnd);
      const bodyStart = headEnd === partStart ? partStart + 2 : headEnd + 4;
      if (/(^|\r\n)content-type[ \t]*:[ \t]*application\/sdp[ \t]*(;|\r\n|$)/i.test(head)) {
        return { start: bodyStart, end: Math.max(bodyStart, next) };
      }
    }
    at = next + 2;
  }
}

/** `body` with the bytes of `range` replaced by `bytes`. */
export function spliceBytes(body: Uint8Array, range: ByteRange, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length - (range.end - range.start) + bytes.length);
  out.set(body.subarray(0, range.start), 0);
  out.set(bytes, range.start);
  out.set(body.subarray(range.end), range.start + bytes.length);
  return out;
}

// Tags, Call-IDs and call ids from the injected random source (RFC 3261 §19.3: tags and Call-IDs
// must be globally unique and cryptographically random enough not to be guessed).

import type { Random } from "./clock.ts";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";
const CODES = Array.from(ALPHABET, (c) => c.charCodeAt(0));
const codes: number[] = [];

/**
 * A random token of `len` base-36 characters (~5.2 bits each), then `suffix`. Built from char
 * codes in one go: appending a character at a time makes a rope of `len` nodes, and tags and
 * Call-IDs are kept for a call's whole life (0.5 KB per call as ropes).
 */
export function token(random: Random, len: number, suffix = ""): string {
  codes.length = len + suffix.length;
  for (let i = 0; i < len; i++) codes[i] = CODES[Math.floor(random() * 36)];
  for (let i = 0; i < suffix.length; i++) codes[len + i] = suffix.charCodeAt(i);
  return String.fromCharCode.apply(null, codes);
}

/** A random source backed by crypto.getRandomValues, refilled in blocks for speed. */
export function cryptoRandom(): Random {
  const buf = new Uint32Array(1024);
  let i = buf.length;
  return () => {
    if (i >= buf.length) {
      crypto.getRandomValues(buf);
      i = 0;
    }
    return buf[i++] / 4294967296;
  };
}

// Tags, Call-IDs and call ids from the injected random source (RFC 3261 §19.3: tags and Call-IDs
// must be globally unique and cryptographically random enough not to be guessed).

import type { Random } from "../util/clock.ts";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A random token of `len` base-36 characters (~5.2 bits each). */
export function token(random: Random, len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(random() * 36)];
  return s;
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

// Byte-level mutations of SIP messages for the fuzz tests (parser and B2BUA): seeded, so a
// failing run replays from its seed.

const enc = new TextEncoder();
const INJECT = [
  "\r\n",
  "\r\n\r\n",
  "\r\n ",
  "\r",
  "\n",
  " ",
  "\t",
  '"',
  "\\",
  "<",
  ">",
  "%",
  "%0",
  "%00",
  ";",
  ",",
  ":",
  "=",
  "@",
  "[",
  "]",
  "?",
  "\0",
  "\xff",
  ";;;",
  ",,",
  "sip:",
  "tel:",
  "<sip:a@[::1]:5060;lr>",
  "SIP/2.0",
  "Via: ",
  "Content-Length: 99\r\n",
  "l: 0\r\n",
].map((s) => s === "\xff" ? new Uint8Array([0xff]) : enc.encode(s));

/** One random mutation of `b`; returns a new array. */
export function mutate(b: Uint8Array, r: () => number): Uint8Array {
  const n = b.length;
  const at = Math.floor(r() * (n + 1));
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  switch (Math.floor(r() * 9)) {
    case 0: { // flip bits of one byte
      const c = b.slice();
      if (n) c[at % n] ^= 1 << Math.floor(r() * 8);
      return c;
    }
    case 1: { // insert a random byte
      const c = new Uint8Array(n + 1);
      c.set(b.subarray(0, at));
      c[at] = Math.floor(r() * 256);
      c.set(b.subarray(at), at + 1);
      return c;
    }
    case 2: { // delete a range
      const len = 1 + Math.floor(r() * 16);
      const c = new Uint8Array(Math.max(0, n - len));
      c.set(b.subarray(0, Math.min(at, c.length)));
      c.set(b.subarray(Math.min(n, at + len)), Math.min(at, c.length));
      return c.subarray(0, Math.min(c.length, at + (n - Math.min(n, at + len))));
    }
    case 3: // truncate
      return b.slice(0, at);
    case 4: { // duplicate a line
      const s = lines(b);
      const i = Math.floor(r() * s.length);
      s.splice(i, 0, s[i]);
      return enc.encode(s.join("\r\n"));
    }
    case 5: { // change the case of a header name
      const s = lines(b);
      const i = 1 + Math.floor(r() * Math.max(1, s.length - 1));
      if (i < s.length) {
        const colon = s[i].indexOf(":");
        if (colon > 0) {
          const name = s[i].slice(0, colon);
          s[i] = (r() < 0.5 ? name.toUpperCase() : name.toLowerCase()) + s[i].slice(colon);
        }
      }
      return enc.encode(s.join("\r\n"));
    }
    case 6:
    case 7: { // inject a syntax-significant string
      const x = pick(INJECT);
      const c = new Uint8Array(n + x.length);
      c.set(b.subarray(0, at));
      c.set(x, at);
      c.set(b.subarray(at), at + x.length);
      return c;
    }
    default: { // overwrite a run with random printable ASCII
      const c = b.slice();
      const len = 1 + Math.floor(r() * 8);
      for (let i = at; i < Math.min(n, at + len); i++) c[i] = 32 + Math.floor(r() * 95);
      return c;
    }
  }
}

// Latin-1 view so any byte sequence splits into lines without a decoding failure.
export const latin1 = new TextDecoder("latin1");
export function lines(b: Uint8Array): string[] {
  return latin1.decode(b).split("\r\n");
}

/** Values a field is swapped for: empty, extremes, other grammar, other calls' identifiers. */
const FIELD_VALUES = [
  "",
  "0",
  "1",
  "-1",
  "4294967296",
  "99999999999999999999",
  "INVITE",
  "ACK",
  "BYE",
  "CANCEL",
  "PRACK",
  "sip:x@10.0.0.66:5099",
  "<sip:x@10.0.0.66:5099;lr>",
  "10.0.0.66",
  "[::1]",
  "65536",
  "z9hG4bK-other",
  "tag=",
  ";tag=other",
  '"open',
  "a".repeat(3000),
  "%00",
  "*",
];

/**
 * One mutation at the level of lines and fields, which (unlike most byte mutations) leaves most
 * messages parseable, so the mutated message reaches the transaction layer and the B2BUA: drop
 * or repeat a header line, or swap one token of a line (a tag, a number, a method, a host, a
 * branch) for another value.
 */
export function mutateField(text: string, r: () => number): string {
  const head = text.indexOf("\r\n\r\n");
  const rows = (head < 0 ? text : text.slice(0, head)).split("\r\n");
  const rest = head < 0 ? "" : text.slice(head);
  const i = Math.floor(r() * rows.length);
  const op = Math.floor(r() * 4);
  if (op === 0 && i > 0) rows.splice(i, 1);
  else if (op === 1 && i > 0) rows.splice(i, 0, rows[i]);
  else {
    const tokens = [...rows[i].matchAll(/[A-Za-z0-9.\-]+/g)];
    if (tokens.length > 0) {
      const t = tokens[Math.floor(r() * tokens.length)];
      const value = FIELD_VALUES[Math.floor(r() * FIELD_VALUES.length)];
      rows[i] = rows[i].slice(0, t.index) + value + rows[i].slice(t.index! + t[0].length);
    }
  }
  return rows.join("\r\n") + rest;
}

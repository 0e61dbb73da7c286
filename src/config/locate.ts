// Where each key of a configuration file sits, so an error can name its line. YAML gives node
// ranges; smol-toml gives no positions, so TOML is scanned here with a small structural reader
// that runs only after smol-toml has accepted the text (so it can be lenient about syntax).

import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node } from "yaml";
import type { Document } from "yaml";

/** A path into the document: map keys and list indices. */
export type KeyPath = readonly (string | number)[];

/** Render a path as `rules[0].routes[1].target`. */
export function formatPath(path: KeyPath): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

/** Line lookup: the line of a path, or of its nearest ancestor present in the file. */
export type LineOf = (path: KeyPath) => number;

function lookup(lines: Map<string, number>): LineOf {
  return (path) => {
    for (let n = path.length; n > 0; n--) {
      const l = lines.get(JSON.stringify(path.slice(0, n)));
      if (l !== undefined) return l;
    }
    return 1;
  };
}

/** Line map of a parsed YAML document (keys map to the line of the key, items to their start). */
export function yamlLines(doc: Document, lc: LineCounter): LineOf {
  const lines = new Map<string, number>();
  const at = (n: { range?: [number, number, number] | null } | null | undefined) =>
    n?.range ? lc.linePos(n.range[0]).line : undefined;
  const walk = (node: unknown, path: (string | number)[]) => {
    if (isAlias(node)) return;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const p = [...path, key];
        const l = at(pair.key as Node) ?? at(pair.value as Node);
        if (l !== undefined) lines.set(JSON.stringify(p), l);
        walk(pair.value, p);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const p = [...path, i];
        const l = at(item as Node);
        if (l !== undefined) lines.set(JSON.stringify(p), l);
        walk(item, p);
      });
    }
  };
  walk(doc.contents, []);
  return lookup(lines);
}

/** Line map of TOML text that smol-toml has already parsed successfully. */
export function tomlLines(text: string): LineOf {
  const lines = new Map<string, number>();
  const aot = new Map<string, number>(); // array-of-tables path → element count
  let i = 0;
  let line = 1;
  const set = (p: (string | number)[], l: number) => {
    const k = JSON.stringify(p);
    if (!lines.has(k)) lines.set(k, l);
  };
  const peek = () => text[i];
  const skipWs = (newlines: boolean) => {
    while (i < text.length) {
      const c = text[i];
      if (c === " " || c === "\t" || c === "\r") i++;
      else if (c === "\n" && newlines) (i++, line++);
      else if (c === "#") { while (i < text.length && text[i] !== "\n") i++; }
      else break;
    }
  };
  const readString = (): string => {
    const q = text[i];
    const triple = text.startsWith(q.repeat(3), i);
    const close = triple ? q.repeat(3) : q;
    i += close.length;
    let out = "";
    while (i < text.length && !text.startsWith(close, i)) {
      if (text[i] === "\n") line++;
      if (q === '"' && text[i] === "\\") {
        const n = text[i + 1];
        const simple: Record<string, string> = { n: "\n", t: "\t", '"': '"', "\\": "\\" };
        if (n in simple) (out += simple[n], i += 2);
        else if (n === "u" || n === "U") {
          const len = n === "u" ? 4 : 8;
          out += String.fromCodePoint(parseInt(text.slice(i + 2, i + 2 + len), 16));
          i += 2 + len;
        } else (out += n ?? "", i += 2);
        continue;
      }
      out += text[i++];
    }
    i += close.length;
    return out;
  };
  const readKey = (): string[] => {
    const parts: string[] = [];
    for (;;) {
      skipWs(false);
      if (peek() === '"' || peek() === "'") parts.push(readString());
      else {
        const m = /^[A-Za-z0-9_-]+/.exec(text.slice(i, i + 256));
        if (!m) break;
        parts.push(m[0]);
        i += m[0].length;
      }
      skipWs(false);
      if (peek() !== ".") break;
      i++;
    }
    return parts;
  };
  const readValue = (path: (string | number)[]) => {
    skipWs(false);
    const c = peek();
    if (c === '"' || c === "'") return void readString();
    if (c === "[") {
      i++;
      for (let n = 0;; n++) {
        skipWs(true);
        if (peek() === "]" || i >= text.length) break;
        set([...path, n], line);
        readValue([...path, n]);
        skipWs(true);
        if (peek() === ",") i++;
      }
      i++;
      return;
    }
    if (c === "{") {
      i++;
      for (;;) {
        skipWs(true);
        if (peek() === "}" || i >= text.length) break;
        readPair(path);
        skipWs(true);
        if (peek() === ",") i++;
      }
      i++;
      return;
    }
    while (i < text.length && !/[,\]}\n#]/.test(text[i])) i++; // number, bool, date
  };
  const readPair = (table: (string | number)[]) => {
    const l = line;
    const key = readKey();
    for (let n = 1; n <= key.length; n++) set([...table, ...key.slice(0, n)], l);
    skipWs(false);
    if (peek() === "=") i++;
    readValue([...table, ...key]);
  };
  // Resolve a header's keys, stepping into the last element of each array of tables.
  const resolve = (key: string[], newElement: boolean): (string | number)[] => {
    const out: (string | number)[] = [];
    key.forEach((k, n) => {
      out.push(k);
      const id = JSON.stringify(out);
      if (newElement && n === key.length - 1) {
        const count = aot.get(id) ?? 0;
        aot.set(id, count + 1);
        out.push(count);
      } else if (aot.has(id)) out.push(aot.get(id)! - 1);
    });
    return out;
  };
  let table: (string | number)[] = [];
  while (i < text.length) {
    skipWs(true);
    if (i >= text.length) break;
    if (peek() === "[") {
      const l = line;
      const isAot = text[i + 1] === "[";
      i += isAot ? 2 : 1;
      const key = readKey();
      i += isAot ? 2 : 1;
      table = resolve(key, isAot);
      for (let n = 1; n <= table.length; n++) set(table.slice(0, n), l);
    } else readPair(table);
  }
  return lookup(lines);
}

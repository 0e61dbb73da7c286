// A bad config names the file, the key and what is wrong, and nothing else comes out of the
// loader: the shipped configurations, mutated structurally (keys dropped, values swapped for other
// types and out-of-range values, lists emptied or repeated, unknown keys added), must each load
// or throw one ConfigError whose every issue names the file and says what is wrong. Anything
// else (a TypeError from a value of an unexpected shape) would stop Tandem with a stack trace
// instead of a line an operator can act on. Seeded: FUZZ_SEED replays a run, FUZZ_COUNT sets
// the number of documents.

import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { ConfigError, parseConfig } from "../../src/config/mod.ts";
import { DEFAULT_CONFIG_YAML } from "../../src/config/default.ts";
import { prng } from "../util/prng.ts";

const ROOT = new URL("../../config/", import.meta.url);
const ENV = {
  TANDEM_TOKEN: "t",
  CARRIER_A_PASSWORD: "p",
  RADIUS_SECRET: "s",
  CDR_WEBHOOK_TOKEN: "w",
  ACME_PASSWORD: "a",
};

function corpus(): unknown[] {
  const texts = [DEFAULT_CONFIG_YAML];
  for (const dir of [ROOT, new URL("examples/", ROOT)]) {
    for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      if (e.name.endsWith(".yaml")) texts.push(Deno.readTextFileSync(new URL(e.name, dir)));
    }
  }
  return texts.map((t) => parse(t));
}

/** Values of other types, out of range, or hostile to whatever reads them. */
const VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  65536,
  1e21,
  "",
  " ",
  "x",
  "0.0.0.0",
  "::1",
  "300.1.1.1",
  "127.0.0.1:5060",
  "udp",
  "5s",
  "-5s",
  "1e9h",
  "${UNSET_IN_FUZZ}",
  "a\r\nb",
  "[",
  "(*",
  [],
  [null],
  ["x"],
  [{}],
  {},
  { x: 1 },
];

type Node = Record<string, unknown> | unknown[];

/** Every container in the document, with the document itself first. */
function containers(doc: unknown, out: Node[] = []): Node[] {
  if (doc !== null && typeof doc === "object") {
    out.push(doc as Node);
    for (const v of Object.values(doc as object)) containers(v, out);
  }
  return out;
}

/** One structural mutation of `doc`, in place. */
function mutate(doc: unknown, r: () => number): void {
  const all = containers(doc);
  if (all.length === 0) return;
  const node = all[Math.floor(r() * all.length)];
  const keys = Object.keys(node);
  const key = keys[Math.floor(r() * keys.length)];
  const value = structuredClone(VALUES[Math.floor(r() * VALUES.length)]);
  const op = Math.floor(r() * 5);
  if (Array.isArray(node)) {
    const i = Number(key ?? 0);
    if (op === 0) node.splice(i, 1);
    else if (op === 1 && node.length) node.push(structuredClone(node[i]));
    else if (op === 2) node.length = 0;
    else node[i] = value;
    return;
  }
  if (op === 0 && key !== undefined) delete node[key];
  else if (op === 1) node[`unknown_${Math.floor(r() * 3)}`] = value;
  else if (key !== undefined) node[key] = value;
}

Deno.test("config: mutated configurations load or give a ConfigError naming file and key", () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? (Date.now() % 0x7fffffff));
  const count = Number(Deno.env.get("FUZZ_COUNT") ?? 3000);
  console.log(`config fuzz: FUZZ_SEED=${seed} FUZZ_COUNT=${count}`);
  const r = prng(seed);
  const docs = corpus();
  let loaded = 0;
  let refused = 0;
  for (let i = 0; i < count; i++) {
    const doc = structuredClone(docs[Math.floor(r() * docs.length)]);
    const rounds = 1 + Math.floor(r() * 3);
    for (let k = 0; k < rounds; k++) mutate(doc, r);
    const text = stringify(doc);
    try {
      parseConfig(text, "fuzz.yaml", "yaml", { env: ENV });
      loaded++;
    } catch (e) {
      if (!(e instanceof ConfigError)) {
        throw new Error(`document ${i} (FUZZ_SEED=${seed}) threw ${(e as Error).stack}\n${text}`);
      }
      refused++;
      assert.ok(e.errors.length > 0, `an empty ConfigError for\n${text}`);
      for (const issue of e.errors) {
        assert.equal(issue.file, "fuzz.yaml");
        assert.ok(issue.message.length > 0, `an issue without a message for\n${text}`);
        assert.ok(!/undefined|\[object Object\]/.test(issue.message), `${issue.message}\n${text}`);
      }
    }
  }
  console.log(`config fuzz: ${count} documents, ${loaded} loaded, ${refused} refused`);
  // Both outcomes must be common, or the mutations test only one of them.
  assert.ok(loaded > count / 20 && refused > count / 20, `${loaded} loaded, ${refused} refused`);
});

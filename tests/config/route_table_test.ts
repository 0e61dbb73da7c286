// Least-cost routing tables: the CSV grammar (every bad line named with its number), the longest
// prefix lookup, and the configuration around them: top-level routes, names that must agree,
// and the effective configuration that loads back the same.

import assert from "node:assert/strict";
import {
  ConfigError,
  effectiveConfigText,
  formatIssue,
  parseConfig,
  parseRouteTable,
  tableRoutes,
} from "../../src/config/mod.ts";
import { prng } from "../util/prng.ts";

Deno.test("route table CSV: header, comments, costs ordering each prefix's routes, ties in file order", () => {
  const t = parseRouteTable(`prefix,route,cost
# UK
44,carrier-a,0.012
44,carrier-b,0.010   # cheaper
44,carrier-c,0.010
+4420,carrier-c
1,carrier-a,0.004
1,carrier-a,0.003
`);
  assert.deepEqual(t.issues, []);
  assert.deepEqual(t.prefixes.get("44"), ["carrier-b", "carrier-c", "carrier-a"]);
  assert.deepEqual(t.prefixes.get("4420"), ["carrier-c"], "the + is not part of a prefix");
  assert.deepEqual(t.prefixes.get("1"), ["carrier-a"], "a route twice for a prefix: once");
  assert.equal(t.longest, 4);
  assert.deepEqual([...t.routes].sort(), ["carrier-a", "carrier-b", "carrier-c"]);
});

Deno.test("route table CSV: each bad line named by number, at most 20", () => {
  const t = parseRouteTable(
    "44,carrier-a\n4x,carrier-a\n44\n44,bad route\n44,carrier-a,cheap\n44,carrier-a,-1\n" +
      "1234567890123456,carrier-a\n44,a,1,extra\n",
  );
  assert.deepEqual(t.issues.map((i) => `${i.line}: ${i.expected}`), [
    "2: a prefix of 1-15 digits",
    "3: prefix,route[,cost]",
    "4: a route name",
    "5: a cost of 0 or more",
    "6: a cost of 0 or more",
    "7: a prefix of 1-15 digits",
    "8: prefix,route[,cost]",
  ]);
  const bad = parseRouteTable("x,y\n".repeat(100));
  assert.equal(bad.issues.length, 20);
});

Deno.test("route table lookup: the longest prefix wins; +, separators and parameters ignored", () => {
  const t = parseRouteTable("44,uk\n4420,london\n442079,westminster\n1,nanp\n");
  assert.deepEqual(tableRoutes(t, "442079460148"), { prefix: "442079", routes: ["westminster"] });
  assert.deepEqual(tableRoutes(t, "+44-20-8000-0000"), { prefix: "4420", routes: ["london"] });
  assert.deepEqual(tableRoutes(t, "441234;npdi"), { prefix: "44", routes: ["uk"] });
  assert.equal(tableRoutes(t, "33123456"), undefined);
  assert.equal(tableRoutes(t, "alice"), undefined);
  assert.equal(tableRoutes(t, ""), undefined);
});

async function withFiles<T>(files: Record<string, string>, fn: (dir: string) => T): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tandem-lcr-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    return fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const CONFIG = `routes:
  - { name: carrier-a, target: "192.0.2.10", limits: { max_calls: 30 } }
  - { name: carrier-b, target: "192.0.2.11", transport: tcp }
route_tables:
  - { name: wholesale, file: lcr.csv }
rules:
  - name: customers
    route_table: wholesale
  - name: rest
    route_table: wholesale
    routes: [{ name: fallback, target: "192.0.2.12" }]
`;

Deno.test("route tables in the configuration: relative files, top-level routes, printed back the same", async () => {
  await withFiles({ "lcr.csv": "44,carrier-b,1\n44,carrier-a,2\n1,fallback\n" }, (dir) => {
    const cfg = parseConfig(CONFIG, `${dir}/tandem.yaml`, "yaml", { env: {} });
    assert.deepEqual(cfg.routes?.map((r) => r.name), ["carrier-a", "carrier-b"]);
    assert.equal(cfg.routes?.[0].limits?.maxCalls, 30);
    const t = cfg.routeTables![0];
    assert.equal(t.file, `${dir}/lcr.csv`);
    assert.deepEqual(t.prefixes.get("44"), ["carrier-b", "carrier-a"]);
    assert.equal(cfg.rules[0].routeTable, "wholesale");
    assert.deepEqual(cfg.rules[0].routes, [], "routes may be left out with a table");
    const back = parseConfig(effectiveConfigText(cfg, { mask: false }), `${dir}/p.yaml`, "yaml", {
      env: {},
    });
    assert.deepEqual(back.routes, cfg.routes);
    assert.deepEqual(back.routeTables, cfg.routeTables);
    assert.deepEqual(back.rules.map((r) => r.routeTable), ["wholesale", "wholesale"]);
  });
});

Deno.test("route tables in the configuration: unknown names and bad lines stop the load, named", async () => {
  await withFiles({ "lcr.csv": "44,carrier-z\n4x,carrier-a\n", "ok.csv": "44,nobody\n" }, (dir) => {
    const text = CONFIG.replace(
      "wholesale, file: lcr.csv",
      "wholesale, file: lcr.csv }\n  - { name: wholesale, file: gone.csv",
    ) +
      '  - { name: x, route_table: retail, routes: [{ target: "192.0.2.1" }] }\n' +
      '  - { name: y, routes: [{ target: "192.0.2.1" }] }\n' +
      "routes_typo: 1\n";
    let errs: string[] = [];
    try {
      parseConfig(text, `${dir}/tandem.yaml`, "yaml", { env: {} });
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      errs = e.errors.map(formatIssue).map((m) => m.replaceAll(dir, "D"));
    }
    const all = errs.join("\n");
    for (
      const want of [
        'route_tables[0].file: expected D/lcr.csv line 2: a prefix of 1-15 digits, got "4x"',
        "route_tables[1].name: expected a name no other route table has",
        "route_tables[1].file: expected a readable CSV file, got D/gone.csv",
        'rules[2].route_table: expected a route table\'s name (wholesale), got "retail"',
        "routes_typo",
      ]
    ) assert.ok(all.includes(want), `${want}\nin:\n${all}`);
    // Names checked once the lines are good.
    const names = (() => {
      try {
        parseConfig(
          CONFIG.replace("file: lcr.csv", "file: ok.csv"),
          `${dir}/tandem.yaml`,
          "yaml",
          { env: {} },
        );
      } catch (e) {
        return (e as ConfigError).errors.map(formatIssue).join("\n").replaceAll(dir, "D");
      }
      return "";
    })();
    assert.match(
      names,
      /route_tables\[0\]\.file: expected routes named in D\/ok\.csv to be routes of the configuration .*, got nobody/,
    );
    assert.throws(
      () => parseConfig('routes: [{ target: "192.0.2.1" }]\n', `${dir}/t.yaml`, "yaml"),
      /routes\[0\]\.name: expected a route name/,
    );
  });
});

Deno.test("fuzz: any text is a table or a list of numbered issues, never an exception", () => {
  const random = prng(0x1c8);
  const alphabet = "0123456789+,,,#\n\r \t.-abc_é\u0000";
  for (let n = 0; n < 2000; n++) {
    const len = Math.floor(random() * 200);
    let text = "";
    for (let i = 0; i < len; i++) text += alphabet[Math.floor(random() * alphabet.length)];
    const t = parseRouteTable(text);
    for (const issue of t.issues) {
      assert.ok(issue.line >= 1 && issue.line <= text.split("\n").length);
    }
    for (const [p, routes] of t.prefixes) {
      assert.match(p, /^[0-9]{1,15}$/);
      assert.ok(routes.length > 0);
      assert.ok(tableRoutes(t, p + "9")!.prefix.length >= p.length);
    }
  }
});

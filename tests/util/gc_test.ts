import assert from "node:assert/strict";
import { collectGarbage, fullCollector, objectCount } from "../../src/util/gc.ts";

Deno.test("fullCollector: Bun.gc(true) first, then V8's exposed gc, else none", () => {
  const calls: string[] = [];
  const bun = { gc: (force: boolean) => calls.push(`bun ${force}`) };
  fullCollector({ Bun: bun, gc: () => calls.push("v8") })!();
  fullCollector({ gc: () => calls.push("v8") })!();
  assert.deepEqual(calls, ["bun true", "v8"]);
  assert.equal(fullCollector({}), undefined);
});

Deno.test("collectGarbage runs the collector once and reports the heap around it", async () => {
  let runs = 0;
  const r = await collectGarbage(() => runs++, () => Promise.resolve(undefined));
  assert.equal(runs, 1);
  assert.ok(r && r.heapBeforeBytes > 0 && r.heapAfterBytes > 0 && r.ms >= 0, JSON.stringify(r));
  assert.equal("objects" in r, false, "no count where the runtime has none");
  const counted = await collectGarbage(() => {}, () => Promise.resolve(1234));
  assert.equal(counted?.objects, 1234);
  assert.equal(await collectGarbage(undefined), undefined);
});

Deno.test("objectCount: none outside Bun", async () => {
  assert.equal(await objectCount({}), undefined);
});

// What STIR/SHAKEN adds to a call, on the JavaScript thread: signing one PASSporT (an INVITE
// Tandem places for a rule with `attest`) and checking one (an INVITE from a rule that
// verifies, its certificate already cached), through the same code the engine calls.
//
//   deno run -A scripts/bench-stir.ts [count=5000]
//   bun scripts/bench-stir.ts [count]

import { generateKeyPairSync } from "node:crypto";
import process from "node:process";
import { es256Verify, parseIdentity, Shaken } from "../src/stir/mod.ts";

const count = Number(process.argv[2] ?? 5000);
const pair = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const shaken = new Shaken({
  now: () => Date.now(),
  signer: { key: pair.privateKey, x5u: "https://cert.example.net/sp.pem" },
});
const enc = new TextEncoder();

// Warm-up, so that the JIT and the crypto library are past their first calls.
for (let i = 0; i < 200; i++) await shaken.sign("12155551212", "12155551213", "A", "x");

const values: string[] = [];
let t0 = performance.now();
let c0 = process.cpuUsage();
for (let i = 0; i < count; i++) {
  values.push(
    (await shaken.sign("12155551212", `1215555${String(i).padStart(4, "0")}`, "A", "x"))!,
  );
}
let c1 = process.cpuUsage(c0);
const signUs = ((c1.user + c1.system) / count).toFixed(1);
const signWall = ((performance.now() - t0) * 1000 / count).toFixed(1);

t0 = performance.now();
c0 = process.cpuUsage();
let ok = 0;
for (const v of values) {
  // What a check costs once the certificate is cached: parse, then the signature.
  const p = parseIdentity(v);
  if (es256Verify(pair.publicKey, enc.encode(p.signingInput), p.signature)) ok++;
}
c1 = process.cpuUsage(c0);
const verifyUs = ((c1.user + c1.system) / count).toFixed(1);
const verifyWall = ((performance.now() - t0) * 1000 / count).toFixed(1);
if (ok !== count) throw new Error(`only ${ok} of ${count} verified`);
console.log(
  `${count} PASSporTs: sign ${signUs} µs CPU (${signWall} µs wall), ` +
    `parse + verify ${verifyUs} µs CPU (${verifyWall} µs wall) each`,
);

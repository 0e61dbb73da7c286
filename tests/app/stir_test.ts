// The STIR/SHAKEN service across reloads: built for the configuration in force, kept (with its
// certificate cache) when a reload leaves `stir_shaken` as it was, built again when it changes.

import assert from "node:assert/strict";
import { createIdentityService } from "../../src/app/stir.ts";
import type { Config, StirShakenConfig } from "../../src/config/types.ts";
import { parseMessage, type SipRequest } from "../../src/sip/mod.ts";
import { parseIdentity } from "../../src/stir/mod.ts";
import { Logger } from "../../src/util/log.ts";
import { config } from "../b2bua/loop.ts";
import { makePki, type Pki } from "../stir/pki.ts";

function withSection(pki: Pki, x5u: string): Config {
  const cfg = config([]);
  const section: StirShakenConfig = {
    sign: { keyFile: pki.keyFile, key: pki.keyPem, x5u, attest: "A" },
  };
  cfg.stirShaken = section;
  return cfg;
}

Deno.test("stir service: a reload that changes stir_shaken signs with the new key; one that does not keeps it", async () => {
  const [one, two] = [await makePki(), await makePki()];
  const lines: string[] = [];
  const log = new Logger("info", "json", (l) => lines.push(l));
  try {
    const svc = createIdentityService(log);
    const first = withSection(one, "https://one.example/sp.pem");
    await svc.ready(first);
    const a = await svc.hooks.sign("12155551212", "12155551213", "A", "o", first);
    assert.equal(parseIdentity(a!).x5u, "https://one.example/sp.pem");
    // The same section in a new configuration object (a reload that changed something else).
    const same = withSection(one, "https://one.example/sp.pem");
    await svc.hooks.sign("12155551212", "12155551213", "A", "o", same);
    assert.equal(lines.filter((l) => l.includes("stir-shaken-reloaded")).length, 0);
    const second = withSection(two, "https://two.example/sp.pem");
    const b = await svc.hooks.sign("12155551212", "12155551213", "A", "o", second);
    assert.equal(parseIdentity(b!).x5u, "https://two.example/sp.pem");
    assert.equal(lines.filter((l) => l.includes("stir-shaken-reloaded")).length, 1);
    // No section: nothing signs, nothing is checked.
    const none = config([]);
    assert.equal(await svc.hooks.sign("12155551212", "12155551213", "A", "o", none), undefined);
    assert.deepEqual(await svc.hooks.verify(invite(), none), { verstat: "No-TN-Validation" });
  } finally {
    await Deno.remove(one.dir, { recursive: true });
    await Deno.remove(two.dir, { recursive: true });
  }
});

Deno.test("stir service: a key the crypto library refuses stops ready()", async () => {
  const pki = await makePki();
  try {
    const svc = createIdentityService(new Logger("error", "json", () => {}));
    const cfg = withSection(pki, "https://x.example/sp.pem");
    cfg.stirShaken!.sign!.key = pki.caPem; // a certificate, no key
    await assert.rejects(svc.ready(cfg), /EC P-256 private key/);
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

function invite(): SipRequest {
  const text = "INVITE sip:1@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1\r\n" +
    "From: <sip:2@x>;tag=a\r\nTo: <sip:1@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n" +
    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  return parseMessage(new TextEncoder().encode(text)) as SipRequest;
}

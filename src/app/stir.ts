// STIR/SHAKEN for the engine: the signer and verifier the configuration in force describes,
// built again only when a reload changes the `stir_shaken` section (a new key, other CAs), so
// that fetched certificates stay cached across reloads that do not touch it.

import type { IdentityHooks } from "../b2bua/mod.ts";
import type { Config, StirShakenConfig } from "../config/mod.ts";
import {
  CertificateCache,
  loadSigningKey,
  parseCertificate,
  pemBlocks,
  Shaken,
} from "../stir/mod.ts";
import type { Logger } from "../util/log.ts";

export interface IdentityService {
  hooks: IdentityHooks;
  /** Build for `cfg` now, so that a key WebCrypto refuses stops Tandem at start. */
  ready(cfg: Config): Promise<void>;
}

export function createIdentityService(log: Logger): IdentityService {
  let built:
    | { section: StirShakenConfig | undefined; text: string; shaken: Promise<Shaken> }
    | undefined;
  const of = (cfg: Config): Promise<Shaken> => {
    const section = cfg.stirShaken;
    if (built && built.section === section) return built.shaken;
    const text = JSON.stringify(section ?? null);
    if (built?.text === text) {
      built.section = section;
      return built.shaken;
    }
    if (built) log.info("stir-shaken-reloaded", {});
    // A key the crypto library refuses is a rejection (ready() stops the start with it).
    const shaken = Promise.resolve().then(() => build(section));
    shaken.catch((err) => log.error("stir-shaken-failed", { err }));
    built = { section, text, shaken };
    return shaken;
  };
  return {
    hooks: {
      verify: (req, cfg) => of(cfg).then((s) => s.verify(req)),
      sign: (orig, dest, attest, origid, cfg) =>
        of(cfg).then((s) => s.sign(orig, dest, attest, origid)),
    },
    ready: async (cfg) => {
      await of(cfg);
    },
  };
}

function build(section: StirShakenConfig | undefined): Shaken {
  const now = () => Date.now();
  const sign = section?.sign;
  const verify = section?.verify;
  return new Shaken({
    now,
    ...(sign ? { signer: { key: loadSigningKey(sign.key).key, x5u: sign.x5u } } : {}),
    ...(verify
      ? {
        verifier: {
          maxAge: verify.maxAge,
          certificates: new CertificateCache({
            anchors: pemBlocks(verify.ca).map(parseCertificate),
            timeout: verify.fetchTimeout,
            ttl: verify.cacheTtl,
            allowHttp: verify.allowHttp,
            now,
          }),
        },
      }
      : {}),
  });
}

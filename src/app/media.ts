// Media anchoring for the B2BUA: MediaHooks over the relay pools of src/media (rtpengine ng,
// rtpproxy), one pool per relay kind that some route uses.

import type { MediaHooks } from "../b2bua/mod.ts";
import type { Config } from "../config/types.ts";
import type { Logger } from "../util/log.ts";

/** Relay hooks for the configuration, or undefined when no route anchors media. */
export function createMediaHooks(
  cfg: Config,
  _log: Logger,
): { hooks: MediaHooks; close(): Promise<void> } | undefined {
  const used = cfg.rules.some((r) => r.routes.some((rt) => rt.media !== "none"));
  if (!used) return undefined;
  throw new Error("media relays are configured but relay anchoring is not wired yet");
}

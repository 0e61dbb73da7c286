// What a reload cannot apply. Sockets, workers, the logger, the CDR journal and its sinks, the
// RADIUS client and the media relay pools are set up once at start; a reload that changes their
// settings puts the new file in force for everything else and must say that these wait for a
// restart, or the operator believes a change is live that is not.

import { effectiveDocument } from "./print.ts";
import type { Config } from "./types.ts";

/** Key paths (as the file writes them) that take effect at the next start only. */
export const RESTART_KEYS = [
  "sip.listen",
  "sip.advertise",
  "sip.timers",
  "sip.max_message_size",
  "sip.max_headers",
  "sip.udp_receive_buffer",
  "sip.udp_send_thread",
  "sip.tcp",
  "sip.workers",
  "http.listen",
  "http.token",
  "log",
  // cdr.sip_headers is read per call: not here.
  "cdr.dir",
  "cdr.fsync",
  "cdr.fsync_interval",
  "cdr.rotate_bytes",
  "cdr.file",
  "cdr.radius",
  "cdr.refused",
  "cdr.checkpoint",
  "cdr.webhook",
  "radius",
  "media",
] as const;

function at(doc: Record<string, unknown>, path: string): unknown {
  let v: unknown = doc;
  for (const k of path.split(".")) v = (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

/** The relay kinds some route anchors media on: their pools are made at start. */
function relayKinds(cfg: Config): Set<string> {
  const out = new Set<string>();
  for (const rule of [...cfg.rules, { routes: cfg.routes ?? [] }]) {
    for (const r of rule.routes) if (r.media !== "none") out.add(r.media);
  }
  return out;
}

/**
 * The keys of {@link RESTART_KEYS} whose values differ between `running` and `next`, and
 * `routes.media` when a route of `next` anchors media on a relay kind no route used at start.
 */
export function restartOnlyChanges(running: Config, next: Config): string[] {
  const a = effectiveDocument(running, false);
  const b = effectiveDocument(next, false);
  const out: string[] = RESTART_KEYS.filter((k) =>
    JSON.stringify(at(a, k)) !== JSON.stringify(at(b, k))
  );
  const had = relayKinds(running);
  if ([...relayKinds(next)].some((k) => !had.has(k))) out.push("routes.media");
  return out;
}

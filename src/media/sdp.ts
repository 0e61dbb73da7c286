// SDP (RFC 8866) helpers for the relay: codec masking on m= lines with their a=rtpmap, a=fmtp and
// a=rtcp-fb lines (RFC 8866 §6.6, RFC 4585 §4.2), ICE attribute removal (RFC 8839 §5), and the
// connection/port rewrite a relay without its own SDP engine (rtpproxy) needs. Pure, no I/O.

/** Static payload type names, RFC 3551 §6 table 4 and 5 (what an m= line means without rtpmap). */
const STATIC_PT: Record<number, string> = {
  0: "PCMU",
  3: "GSM",
  4: "G723",
  5: "DVI4",
  6: "DVI4",
  7: "LPC",
  8: "PCMA",
  9: "G722",
  10: "L16",
  11: "L16",
  12: "QCELP",
  13: "CN",
  14: "MPA",
  15: "G728",
  16: "DVI4",
  17: "DVI4",
  18: "G729",
  25: "CelB",
  26: "JPEG",
  28: "nv",
  31: "H261",
  32: "MPV",
  33: "MP2T",
  34: "H263",
};

const ICE_ATTRS = new Set([
  "candidate",
  "remote-candidates",
  "ice-ufrag",
  "ice-pwd",
  "ice-options",
  "ice-lite",
  "ice-mismatch",
  "end-of-candidates",
  "ice-pacing",
]);

/** One m= section: its media line and the lines under it. */
interface Section {
  lines: string[];
}

function split(sdp: string): { eol: string; session: string[]; media: Section[] } {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const lines = sdp.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  const session: string[] = [];
  const media: Section[] = [];
  for (const l of lines) {
    if (l.startsWith("m=")) media.push({ lines: [l] });
    else if (media.length) media[media.length - 1].lines.push(l);
    else session.push(l);
  }
  return { eol, session, media };
}

function join(eol: string, session: string[], media: Section[]): string {
  return [...session, ...media.flatMap((m) => m.lines)].join(eol) + eol;
}

/** The attribute name and payload type of "a=rtpmap:8 PCMA/8000"-like lines. */
function ptAttr(line: string): { attr: string; pt: string } | undefined {
  const m = /^a=(rtpmap|fmtp|rtcp-fb):(\S+)/.exec(line);
  return m ? { attr: m[1], pt: m[2] } : undefined;
}

/**
 * Remove payload types not in `allowed` from every RTP m= line, with their rtpmap, fmtp and
 * rtcp-fb lines. `allowed` holds encoding names ("PCMA", case-insensitive, optionally with
 * "/rate") or payload type numbers ("8"). An empty list allows everything. A media line left with
 * no format is rejected the RFC 3264 §6 way: port 0, keeping its first format.
 */
export function filterCodecs(sdp: string, allowed: readonly string[]): string {
  if (allowed.length === 0) return sdp;
  const names = new Set(allowed.map((a) => a.toLowerCase()));
  const { eol, session, media } = split(sdp);
  for (const sec of media) {
    const m = /^m=(\S+) (\d+)(\/\d+)? (\S+)((?: \S+)*)$/.exec(sec.lines[0]);
    if (!m || !m[4].includes("RTP")) continue; // not RTP (udptl, datachannel): formats aren't PTs
    const fmts = m[5].trim().split(/\s+/).filter((f) => f);
    const rtpmap = new Map<string, string>();
    for (const l of sec.lines) {
      const r = /^a=rtpmap:(\d+) ([^/\s]+)(\/\d+)?/.exec(l);
      if (r) rtpmap.set(r[1], `${r[2]}${r[3] ?? ""}`.toLowerCase());
    }
    const keep = fmts.filter((pt) => {
      const enc = rtpmap.get(pt) ?? STATIC_PT[Number(pt)]?.toLowerCase();
      if (names.has(pt)) return true;
      if (!enc) return false;
      return names.has(enc) || names.has(enc.split("/")[0]);
    });
    const dropped = new Set(fmts.filter((f) => !keep.includes(f)));
    if (dropped.size === 0) continue;
    const port = keep.length ? m[2] : "0";
    const formats = keep.length ? keep : fmts.slice(0, 1);
    sec.lines[0] = `m=${m[1]} ${port}${m[3] ?? ""} ${m[4]} ${formats.join(" ")}`;
    sec.lines = sec.lines.filter((l, i) => {
      if (i === 0) return true;
      const a = ptAttr(l);
      return !a || !dropped.has(a.pt) || !keep.length && a.pt === formats[0];
    });
  }
  return join(eol, session, media);
}

/** Remove ICE attributes (candidates, credentials, options) at session and media level. */
export function stripIce(sdp: string): string {
  const { eol, session, media } = split(sdp);
  const keep = (l: string) => {
    const a = /^a=([^:\s]+)/.exec(l);
    return !a || !ICE_ATTRS.has(a[1].toLowerCase());
  };
  return join(eol, session.filter(keep), media.map((s) => ({ lines: s.lines.filter(keep) })));
}

/** Where one m= section wants to receive media. */
export interface MediaEndpoint {
  /** 1-based position of the m= line (rtpproxy's media number). */
  index: number;
  type: string;
  port: number;
  /** Connection address (media-level c= or the session-level one). */
  address: string;
  family: "IP4" | "IP6";
}

/** The receive address and port of every m= section, in order. */
export function mediaEndpoints(sdp: string): MediaEndpoint[] {
  const { session, media } = split(sdp);
  const conn = (lines: string[]) => {
    for (const l of lines) {
      const c = /^c=IN (IP4|IP6) ([^/\s]+)/.exec(l);
      if (c) return { family: c[1] as "IP4" | "IP6", address: c[2] };
    }
    return undefined;
  };
  const sessionConn = conn(session);
  return media.map((sec, i) => {
    const m = /^m=(\S+) (\d+)/.exec(sec.lines[0]);
    const c = conn(sec.lines) ?? sessionConn ?? { family: "IP4" as const, address: "0.0.0.0" };
    return { index: i + 1, type: m?.[1] ?? "", port: Number(m?.[2] ?? 0), ...c };
  });
}

/**
 * Point the SDP at a relay: every c= line becomes `address`, each m= line with a port in `ports`
 * (by position) gets that port, and a=rtcp lines are dropped (RTCP then uses port + 1, RFC 3605
 * §2.1, which is what rtpproxy allocates). Ports of 0 (rejected streams) are left alone.
 */
export function rewriteEndpoints(
  sdp: string,
  address: string,
  family: "IP4" | "IP6",
  ports: readonly number[],
): string {
  const { eol, session, media } = split(sdp);
  const fixConn = (l: string) => l.startsWith("c=") ? `c=IN ${family} ${address}` : l;
  const out = media.map((sec, i) => {
    const lines = sec.lines.filter((l) => !l.startsWith("a=rtcp:")).map(fixConn);
    const m = /^m=(\S+) (\d+)(.*)$/.exec(lines[0]);
    if (m && m[2] !== "0" && ports[i] !== undefined) lines[0] = `m=${m[1]} ${ports[i]}${m[3]}`;
    return { lines };
  });
  return join(eol, session.map(fixConn), out);
}

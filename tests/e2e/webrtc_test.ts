// A browser (headless Chromium: its own WebSocket, ICE and DTLS-SRTP; the SIP from a page of
// ours, then from JsSIP, the browser SIP library, fetched from npm) calls a plain SIP phone
// (SIPp, RTP/AVP) through Tandem over RFC 7118 WebSocket, with rtpengine converting the media;
// the call itself is tests/e2e/webrtc/bed.ts. It runs in a network namespace of its own whose
// only interface is loopback (`unshare -rn`): Chromium offers ICE candidates on every
// interface it has, and this way the only one is 127.0.0.1, so no packet of the call can leave
// loopback.

import assert from "node:assert/strict";
import { repoRoot, which } from "./harness.ts";

Deno.test({
  name: "webrtc: Chromium calls a SIP phone through Tandem over ws and wss, with our page and " +
    "with JsSIP; rtpengine bridges DTLS-SRTP and RTP; audio both ways; the browser hangs up, or " +
    "closes its connection and Tandem ends the call for it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(which("unshare") && which("ip"), "unshare (util-linux) and ip (iproute2) are needed");
    const child = new Deno.Command("unshare", {
      args: [
        // A user namespace too, so that root is not needed (as root it changes nothing).
        "--map-root-user",
        "--net",
        "--",
        "sh",
        "-c",
        'ip link set lo up && exec "$0" run -A --unstable-net tests/e2e/webrtc/bed.ts',
        Deno.execPath(),
      ],
      cwd: repoRoot,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    const out = await child.output().finally(() => clearTimeout(timer));
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `the WebRTC call failed (exit ${out.code}):\n${text.slice(-8000)}`);
    assert.match(text, /webrtc bed: every check held/);
  },
});

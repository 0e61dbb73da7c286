// Test helper: a real rtpengine in userspace mode (--table=-1) on 127.0.0.1, with its ng port and
// classic rtpproxy-protocol UDP port (--listen-udp) on free ports. Not a test file.

import dgram from "node:dgram";
import { RtpengineClient } from "../../src/media/rtpengine.ts";

/** A running rtpengine and how to reach it. */
export interface RtpengineProcess {
  ngPort: number;
  udpPort: number;
  portMin: number;
  portMax: number;
  stop(): Promise<void>;
  /** Everything it logged (for failure messages). */
  log(): string;
}

/** A UDP port nothing is bound to right now (bind 0, read, close). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Start rtpengine and wait until it answers ng ping (5 s at most). */
export async function startRtpengine(
  opts: { deleteDelay?: number; ngPort?: number; recordingDir?: string } = { deleteDelay: 0 },
): Promise<RtpengineProcess> {
  const ngPort = opts.ngPort ?? await freeUdpPort();
  const udpPort = await freeUdpPort();
  // A 200-port media range picked at random above the usual ephemeral-free area.
  const portMin = 20000 + 200 * Math.floor(Math.random() * 100);
  const portMax = portMin + 199;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("rtpengine", {
      args: [
        "--config-file=none", // ignore /etc/rtpengine/rtpengine.conf (fixed CLI/HTTP ports)
        "--table=-1",
        "--foreground",
        "--interface=127.0.0.1",
        `--listen-ng=127.0.0.1:${ngPort}`,
        `--listen-udp=127.0.0.1:${udpPort}`,
        `--port-min=${portMin}`,
        `--port-max=${portMax}`,
        // 0 makes ng "delete" immediate; its rtpproxy "D" then never replies (rtpengine 10.5).
        ...(opts.deleteDelay !== undefined ? [`--delete-delay=${opts.deleteDelay}`] : []),
        // Call recording (ng "record call"): pcap files of the calls asked for, in userspace.
        ...(opts.recordingDir
          ? [`--recording-dir=${opts.recordingDir}`, "--recording-method=pcap"]
          : []),
        "--log-stderr",
        "--log-level=5",
        "--no-log-timestamps",
        "--num-threads=2",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error("rtpengine is not installed: apt-get install -y rtpengine-daemon");
    }
    throw err;
  }
  let logText = "";
  const reader = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) logText += dec.decode(chunk);
  })();
  // rtpengine sometimes lingers after SIGTERM while media is still flowing: SIGKILL after 1 s.
  const stop = async () => {
    const signal = (s: Deno.Signal) => {
      try {
        child.kill(s);
      } catch { /* already exited */ }
    };
    signal("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), 1000)),
    ]);
    clearTimeout(timer);
    if (!exited) signal("SIGKILL");
    await child.status;
    await reader;
  };
  const probe = new RtpengineClient("127.0.0.1", ngPort, { timeout: 100, retries: 0 });
  try {
    for (let i = 0;; i++) {
      try {
        await probe.ping();
        break;
      } catch (err) {
        if (i >= 50) {
          await stop();
          throw new Error(`rtpengine did not answer ping: ${err}\n${logText}`);
        }
      }
    }
  } finally {
    await probe.close();
  }
  return { ngPort, udpPort, portMin, portMax, stop, log: () => logText };
}

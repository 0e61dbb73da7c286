// Bun smoke check (not a Deno test): `bun tests/media/bun-smoke.ts <ngPort> <udpPort>` drives a
// running rtpengine through both clients, to show node:dgram I/O works under Bun as well.
import { RtpengineClient, RtpproxyClient } from "../../src/media/mod.ts";

const [ng, udp] = process.argv.slice(2).map(Number);
const e = new RtpengineClient("127.0.0.1", ng, { timeout: 500, retries: 1 });
const p = new RtpproxyClient({ host: "127.0.0.1", port: udp }, { timeout: 500, retries: 1 });
await e.ping();
const sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 40000 RTP/AVP 8\r\n";
const out = await e.offer("bun-smoke", "a", sdp);
await e.delete("bun-smoke", "a");
console.log("ng ok", /m=audio (\d+)/.exec(out)?.[1], "rtpproxy", await p.version());
await e.close();
await p.close();

// Test helper: RTP (RFC 3550 §5.1) endpoints playing caller and callee. Not a test file.

import dgram from "node:dgram";

/** A 12-byte RTP header (V=2, PT, seq, timestamp, SSRC) and 160 bytes of PCMA silence. */
export function rtpPacket(seq: number, ssrc: number, pt = 8): Uint8Array {
  const p = new Uint8Array(12 + 160).fill(0xd5, 12); // 0xd5: A-law silence
  const v = new DataView(p.buffer);
  v.setUint8(0, 0x80);
  v.setUint8(1, pt & 0x7f);
  v.setUint16(2, seq & 0xffff);
  v.setUint32(4, (seq * 160) >>> 0);
  v.setUint32(8, ssrc >>> 0);
  return p;
}

/** A UDP socket that records the RTP sequence numbers it receives. */
export class RtpPeer {
  readonly received: number[] = [];
  private constructor(private socket: dgram.Socket, readonly port: number) {
    socket.on("message", (m: Uint8Array) => {
      if (m.length >= 12 && (m[0] & 0xc0) === 0x80) this.received.push((m[2] << 8) | m[3]);
    });
  }

  /** Bind on 127.0.0.1 at an even port (RTP), best effort; `port` 0 lets the OS choose. */
  static async open(port = 0): Promise<RtpPeer> {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind(port, "127.0.0.1", () => resolve());
    });
    return new RtpPeer(s, s.address().port);
  }

  /** Send `count` packets to the relay port, 2 ms apart. */
  async send(port: number, count: number, ssrc: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.socket.send(rtpPacket(i, ssrc), port, "127.0.0.1");
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Wait until `count` packets arrived or `ms` passed. */
  async waitFor(count: number, ms = 2000): Promise<void> {
    const end = Date.now() + ms;
    while (this.received.length < count && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

// Headless baresip softphones for the end-to-end tests: a config directory per phone (tone WAV
// as microphone, what it sends and receives dumped), over UDP or TLS, and a runner that keeps
// the phone's output.

import { which } from "./harness.ts";

const dec = new TextDecoder();

/** A mono 16-bit PCM WAV (RIFF) of a 440 Hz tone, `seconds` long at 8 kHz. */
export function toneWav(seconds: number): Uint8Array {
  const rate = 8000, n = rate * seconds;
  const out = new Uint8Array(44 + 2 * n);
  const v = new DataView(out.buffer);
  const ascii = (at: number, s: string) =>
    [...s].forEach((c, i) => v.setUint8(at + i, c.charCodeAt(0)));
  ascii(0, "RIFF");
  v.setUint32(4, 36 + 2 * n, true);
  ascii(8, "WAVEfmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, "data");
  v.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) {
    v.setInt16(44 + 2 * i, Math.round(12000 * Math.sin(2 * Math.PI * 440 * i / rate)), true);
  }
  return out;
}

/** TLS for a baresip: its certificate and key in one PEM file, and the CA it trusts. */
export interface BaresipTls {
  /** Certificate followed by its private key (baresip's sip_certificate). */
  certificate: string;
  ca: string;
}

/**
 * A headless baresip: SIP on 127.0.0.1:`port`, the tone WAV as microphone, audio dumped. With
 * `tls`, SIP over TLS only; baresip then listens for TLS on `port` + 1.
 */
export async function baresipDir(
  root: string,
  name: string,
  port: number,
  rtp: number,
  wav: string,
  tls?: BaresipTls,
) {
  const dir = `${root}/${name}`;
  await Deno.mkdir(`${dir}/dump`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/config`,
    [
      "poll_method epoll",
      `sip_listen 127.0.0.1:${port}`,
      ...(tls
        ? ["sip_transports tls", `sip_certificate ${tls.certificate}`, `sip_cafile ${tls.ca}`]
        : ["sip_transports udp"]),
      "net_interface 127.0.0.1",
      `rtp_ports ${rtp}-${rtp + 39}`,
      // aufile reads the microphone from the WAV; its end of file hangs the call up (menu).
      `audio_source aufile,${wav}`,
      `audio_player aubridge,${name}-out`,
      `audio_alert aubridge,${name}-alert`,
      "audio_srate 8000",
      "audio_channels 1",
      "module_path /usr/lib/baresip/modules",
      "module g711.so",
      "module aufile.so",
      "module aubridge.so",
      // sndfile writes what was sent (-enc.wav) and what was received and decoded (-dec.wav).
      "module sndfile.so",
      `snd_path ${dir}/dump`,
      "module_app account.so",
      "module_app menu.so",
      "",
    ].join("\n"),
  );
  await Deno.writeTextFile(
    `${dir}/accounts`,
    `<sip:${name}@127.0.0.1:${tls ? port + 1 : port};transport=${tls ? "tls" : "udp"}>;` +
      "regint=0;answermode=auto;" +
      "audio_codecs=PCMA,PCMU\n",
  );
  return dir;
}

/** Run baresip on `dir` with extra args; output goes to `<dir>/out.log`. */
export function runBaresip(
  dir: string,
  args: string[],
): { child: Deno.ChildProcess; log(): string } {
  const child = new Deno.Command(which("baresip")!, {
    args: ["-f", dir, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) text += dec.decode(chunk);
  };
  void pump(child.stdout);
  void pump(child.stderr);
  return { child, log: () => text };
}

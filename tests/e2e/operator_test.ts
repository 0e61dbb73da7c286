// Issue "operator surface", end to end against the shipped binary dist/tandem (built with
// `deno task build` when missing): the default config with no arguments, config errors with
// FILE:LINE, the HTTP API driving live calls (list, drop, reload, drain), and /metrics checked by
// promtool and scraped by a real Prometheus.

import assert from "node:assert/strict";
import { promtoolCheckMetrics, startPrometheus } from "../http/prometheus-helper.ts";
import {
  baseConfig,
  binaryAvailable,
  fixedPorts,
  freePort,
  freeUdpPort,
  recvWithin,
  repoRoot,
  runSipp,
  sipOptions,
  type SippResult,
  sippUas,
  sleep,
  startTandem,
  tandemBinary,
  type TandemProcess,
  udpBound,
  waitFor,
  which,
} from "./harness.ts";

const SCENARIOS = `${repoRoot}/tests/e2e/scenarios`;
const dec = new TextDecoder();

/** Build dist/tandem when it is missing; false (skip with a reason) only when bun is missing. */
async function ensureBinary(): Promise<boolean> {
  if (binaryAvailable()) return true;
  if (!which("bun") && !Deno.env.get("BUN_BIN")) return false;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "build"],
    cwd: repoRoot,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, `deno task build failed:\n${dec.decode(out.stderr).slice(-3000)}`);
  return binaryAvailable();
}

const haveBinary = await ensureBinary();
const ignore = !haveBinary;
if (ignore) console.warn("operator tests skipped: no dist/tandem and no bun to build it");

function configText(sip: number, http: number, callee: number): string {
  return `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp, tcp] }
  timers: { t1: 100ms }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
limits: { retry_after: 7 }
rules:
  - name: callee
    match: {}
    routes:
      - { name: callee, target: "127.0.0.1:${callee}" }
`;
}

/** A callee SIPp on `port`; resolves with its result. */
function callee(xml: string, port: number, calls = 1, timeoutS = 30): Promise<SippResult> {
  return sippUas(port, calls, timeoutS, xml === "uas" ? "uas" : `${SCENARIOS}/${xml}`);
}

/** A caller SIPp through Tandem at `sip`. */
function caller(
  xml: string,
  sip: number,
  calls = 1,
  extra: string[] = [],
  timeoutS = 30,
): Promise<SippResult> {
  return runSipp([
    ...(xml === "uac" ? ["-sn", "uac"] : ["-sf", `${SCENARIOS}/${xml}`]),
    `127.0.0.1:${sip}`,
    "-i",
    "127.0.0.1",
    "-p",
    String(freeUdpPort()),
    "-s",
    "e2e-callee",
    "-m",
    String(calls),
    "-r",
    "10",
    "-timeout",
    `${timeoutS}s`,
    "-timeout_error",
    ...extra,
  ], { timeoutMs: (timeoutS + 10) * 1000 });
}

function okSipp(name: string, r: SippResult): void {
  assert.equal(r.code, 0, `${name}: sipp exit ${r.code}\n${r.stdout.slice(-1500)}\n${r.stderr}`);
}

async function udpBoundSoon(port: number): Promise<void> {
  await waitFor(
    () => udpBound(port),
    5000,
    { what: `SIPp bound on ${port}` },
  );
}

async function api(http: number, method: string, path: string): Promise<[number, unknown]> {
  const res = await fetch(`http://127.0.0.1:${http}${path}`, { method });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return [res.status, body];
}

async function liveCalls(http: number): Promise<{ id: string; state: string }[]> {
  const [status, body] = await api(http, "GET", "/calls");
  assert.equal(status, 200);
  return body as { id: string; state: string }[];
}

async function startBinary(config: string): Promise<TandemProcess> {
  return await startTandem({ config, binary: true });
}

Deno.test({
  name: "operator: no arguments — the embedded default serves /health on 127.0.0.1:8080 and " +
    "answers OPTIONS on 5060 (uses the reserved ports 5060 and 8080)",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using _ports = await fixedPorts();
    // This one needs the acceptance kit's ports: refuse to run on top of another user of them.
    const busy: string[] = [];
    const tryBind = (what: string, f: () => { close(): void }) => {
      try {
        f().close();
      } catch {
        busy.push(what);
      }
    };
    tryBind(
      "udp 0.0.0.0:5060",
      () => Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 5060 }),
    );
    tryBind("tcp 0.0.0.0:5060", () => Deno.listen({ hostname: "0.0.0.0", port: 5060 }));
    tryBind("tcp 127.0.0.1:8080", () => Deno.listen({ hostname: "127.0.0.1", port: 8080 }));
    assert.deepEqual(busy, [], `reserved port(s) busy, cannot test the default config: ${busy}`);

    const child = new Deno.Command(tandemBinary(), {
      args: [],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
    const output = child.output();
    try {
      await waitFor(
        async () => {
          const r = await fetch("http://127.0.0.1:8080/health", {
            signal: AbortSignal.timeout(500),
          });
          await r.body?.cancel();
          return r.status === 200;
        },
        15_000,
        { what: "GET /health on 127.0.0.1:8080" },
      );
      for (const t of ["udp", "tcp"] as const) {
        const r = await sipOptions("127.0.0.1", 5060, t, 3000);
        assert.equal(r.status, 200, `OPTIONS over ${t} to 5060`);
      }
    } finally {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // gone
      }
      await output;
    }
  },
});

Deno.test({
  name: "operator: tandem match names the rule and routes a number takes (exit 0), or says none " +
    "does (exit 1), from the configuration file alone; --at for a rule by the clock",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-match-" });
    try {
      const file = `${dir}/t.yaml`;
      await Deno.writeTextFile(
        file,
        `rules:
  - { name: premium, match: { ruri_user_prefix: ["1900"] }, reject: 403 }
  - name: uk
    match: { ruri_user_prefix: ["44"] }
    routes: [{ name: carrier-a, target: "192.0.2.10:5080" }]
  - name: sydney-office
    match:
      ruri_user_prefix: ["61"]
      time: { timezone: Australia/Sydney, days: [mon-fri], hours: ["09:00-17:00"] }
    routes: [{ name: desk, target: "192.0.2.11" }]
`,
      );
      const run = async (...args: string[]) => {
        const out = await new Deno.Command(tandemBinary(), {
          args: ["match", ...args, "--config", file],
          stdout: "piped",
          stderr: "piped",
        }).output();
        return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
      };
      const uk = await run("4412345");
      assert.equal(uk.code, 0, uk.text);
      assert.equal(
        uk.text,
        'rule "uk" (rule 2 of 3)\n  routes (listed): carrier-a -> udp:192.0.2.10:5080\n',
      );
      const blocked = await run("19005550000", "--json");
      assert.equal(blocked.code, 0);
      assert.deepEqual(JSON.parse(blocked.text), {
        rule: "premium",
        index: 0,
        reject: { status: 403 },
      });
      const none = await run("33123");
      assert.equal(none.code, 1);
      assert.match(none.text, /no rule matches \(of 3\): the call gets 404/);
      // The binary carries the zone data: 23:30 UTC on a Sunday is Monday 10:30 in Sydney
      // (UTC+11 in December), and 08:00 UTC on Monday is 19:00 there.
      const open = await run("6129", "--at", "2026-12-06T23:30:00Z");
      assert.equal(open.code, 0, open.text);
      assert.match(
        open.text,
        /^rule "sydney-office" \(rule 3 of 3\)\n {2}holds mon,tue,wed,thu,fri/,
      );
      const closed = await run("6129", "--at", "2026-12-07T08:00:00Z");
      assert.equal(closed.code, 1, closed.text);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "operator: a config with three mistakes exits 2 and names each as FILE:LINE:",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-badcfg-" });
    const file = `${dir}/bad.yaml`;
    const lines = [
      "sip:", // 1
      "  listen:", // 2
      "    - { address: 127.0.0.1, port: 26555, transports: [udp] }", // 3
      "  timers: { t1: soon }", // 4: not a duration
      "http:", // 5
      "  listen: 127.0.0.1:26556", // 6
      "  colour: blue", // 7: unknown key
      "rules:", // 8
      "  - name: r", // 9
      "    match: {}", // 10
      "    routes:", // 11
      '      - { name: x, target: "127.0.0.1:99999" }', // 12: port out of range
      "",
    ];
    await Deno.writeTextFile(file, lines.join("\n"));
    const out = await new Deno.Command(tandemBinary(), {
      args: ["--config", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = dec.decode(out.stdout) + dec.decode(out.stderr);
    assert.equal(out.code, 2, `exit status; output:\n${text}`);
    for (const line of [4, 7, 12]) {
      assert.ok(text.includes(`${file}:${line}:`), `line ${line} is named:\n${text}`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "operator: GET /calls lists a live call and DELETE /calls/:id ends it with BYE to both " +
    "sides; POST /reload sends the next call to the new route while the live call stays up",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sip = freePort();
    const http = freePort();
    const c1 = freeUdpPort();
    const c2 = freeUdpPort();
    await using tandem = await startBinary(configText(sip, http, c1));

    // A held call through route 1.
    const heldUas = callee("hold-uas.xml", c1);
    await udpBoundSoon(c1);
    const heldUac = caller("hold-uac.xml", sip);
    const [live] = await waitFor(
      async () => {
        const calls = await liveCalls(http);
        return calls.length === 1 && calls[0].state === "answered" ? calls : undefined;
      },
      10_000,
      { what: "one answered call in GET /calls" },
    );

    // Reload with the route moved to c2: the next call goes there.
    const text = await Deno.readTextFile(tandem.configPath);
    await Deno.writeTextFile(tandem.configPath, text.replace(`127.0.0.1:${c1}`, `127.0.0.1:${c2}`));
    const [rs, rb] = await api(http, "POST", "/reload");
    assert.equal(rs, 200, JSON.stringify(rb));
    // GET /config shows what runs now: the reloaded route, from the file it came from.
    const [cs, cb] = await api(http, "GET", "/config");
    assert.equal(cs, 200, JSON.stringify(cb));
    const running = cb as { source: string; config: { rules: { routes: { target: string }[] }[] } };
    assert.equal(running.source, tandem.configPath);
    assert.deepEqual(
      running.config.rules.flatMap((r) => r.routes.map((x) => x.target)),
      [`127.0.0.1:${c2}`],
    );
    const newUas = callee("uas", c2);
    await udpBoundSoon(c2);
    okSipp("caller on the reloaded route", await caller("uac", sip));
    okSipp("callee on the reloaded route", await newUas);
    const still = await liveCalls(http);
    assert.deepEqual(still.map((c) => [c.id, c.state]), [[live.id, "answered"]]);

    // Drop the held call: both sides get a BYE (their scenarios wait for it and answer 200).
    const [ds, db] = await api(http, "DELETE", `/calls/${live.id}`);
    assert.equal(ds, 200, JSON.stringify(db));
    okSipp("held caller (BYE from Tandem)", await heldUac);
    okSipp("held callee (BYE from Tandem)", await heldUas);
    await waitFor(async () => (await liveCalls(http)).length === 0, 3000, { what: "no calls" });

    // Leak hunting: the binary has a collector hook for POST /gc (a runtime without one answers
    // 501), and /metrics shows what still holds ended calls (their legs, 32 s) and the timers.
    // The heap may have been collected just before: after is at most a little above before.
    const [gs, gb] = await api(http, "POST", "/gc");
    assert.equal(gs, 200, JSON.stringify(gb));
    const gc = gb as {
      heapBeforeBytes: number;
      heapAfterBytes: number;
      heaps: number;
      objects: number;
    };
    assert.equal(gc.heaps, 1);
    assert.ok(gc.objects > 10_000, `JavaScriptCore's census: ${JSON.stringify(gc)}`);
    assert.ok(
      gc.heapAfterBytes > 0 && gc.heapAfterBytes < gc.heapBeforeBytes + 1_000_000,
      JSON.stringify(gc),
    );
    const [, exposition] = await api(http, "GET", "/metrics");
    // Two calls ended (held, reloaded), each two legs still indexed; timers wait for them.
    const gauge = (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, "m").exec(String(exposition))?.[1]);
    assert.equal(gauge("tandem_leg_index_entries"), 4, String(exposition));
    assert.ok(gauge("tandem_timers_pending") > 0, String(exposition));
  },
});

Deno.test({
  name: "operator: POST /drain — the live call finishes, a new INVITE gets 503 with " +
    "Retry-After, and the process exits 0",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sip = freePort();
    const http = freePort();
    const c1 = freeUdpPort();
    await using tandem = await startBinary(configText(sip, http, c1));
    const uas = callee("uas", c1);
    await udpBoundSoon(c1);
    const uac = caller("uac", sip, 1, ["-d", "3000"]);
    await waitFor(async () => (await liveCalls(http)).some((c) => c.state === "answered"), 10_000, {
      what: "an answered call",
    });
    const [status] = await api(http, "POST", "/drain");
    assert.equal(status, 202);

    // A new INVITE while draining.
    const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    try {
      const local = (sock.addr as Deno.NetAddr).port;
      const rnd = crypto.randomUUID().replaceAll("-", "");
      const invite = [
        `INVITE sip:e2e-late@127.0.0.1:${sip} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${rnd.slice(0, 12)}`,
        "Max-Forwards: 70",
        `From: <sip:e2e@127.0.0.1>;tag=${rnd.slice(12, 20)}`,
        `To: <sip:e2e-late@127.0.0.1:${sip}>`,
        `Call-ID: ${rnd}@e2e`,
        "CSeq: 1 INVITE",
        `Contact: <sip:e2e@127.0.0.1:${local}>`,
        "Content-Length: 0",
        "",
        "",
      ].join("\r\n");
      await sock.send(new TextEncoder().encode(invite), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: sip,
      });
      let final = "";
      const end = Date.now() + 3000;
      while (!final && Date.now() < end) {
        const got = await recvWithin(sock, end - Date.now());
        if (!got) break;
        const t = dec.decode(got[0]);
        if (!/^SIP\/2\.0 1\d\d/.test(t)) final = t;
      }
      assert.match(final, /^SIP\/2\.0 503 /, `answer while draining: ${final || "(none)"}`);
      assert.match(final, /^Retry-After: *7\r?$/m, "Retry-After from limits.retry_after");
    } finally {
      sock.close();
    }
    okSipp("caller of the live call (hangs up by itself after 3 s)", await uac);
    okSipp("callee of the live call", await uas);
    const exit = await Promise.race([tandem.exited, sleep(10_000).then(() => null)]);
    assert.ok(exit, "tandem did not exit within 10 s of the drain finishing");
    assert.equal(exit.code, 0, `exit status after drain`);
  },
});

Deno.test({
  name: "operator: /metrics passes promtool check metrics, and a real Prometheus scrapes " +
    "Tandem: up is 1 and tandem_calls_total counts the calls made",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sip = freePort();
    const http = freePort();
    const c1 = freeUdpPort();
    await using _t = await startBinary(configText(sip, http, c1));
    const calls = 3;
    const uas = callee("uas", c1, calls);
    await udpBoundSoon(c1);
    okSipp("caller", await caller("uac", sip, calls));
    okSipp("callee", await uas);

    const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    const lint = await promtoolCheckMetrics(text);
    assert.ok(lint.ok, `promtool check metrics:\n${lint.output}`);

    const prom = await startPrometheus({ targets: [`127.0.0.1:${http}`] });
    try {
      await prom.waitFor("up", (s) => s.length === 1 && s[0].value === 1, 20_000);
      const answered = await prom.waitFor(
        'sum(tandem_calls_total{outcome="answered"})',
        (s) => s.length === 1 && s[0].value === calls,
        20_000,
      );
      assert.equal(answered[0].value, calls);
    } finally {
      await prom.stop();
    }
  },
});

Deno.test({
  name: "operator: http.allow refuses the API to addresses outside its blocks (403), and a " +
    "SIGHUP reload that widens them lets them in",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sip = freeUdpPort(), http = freePort();
    const text = (allow: string) =>
      baseConfig(sip, http).replace(
        `listen: 127.0.0.1:${http}`,
        `listen: 127.0.0.1:${http}\n  allow: [${allow}]`,
      );
    const dir = await Deno.makeTempDir({ prefix: "tandem-e2e-allow-" });
    const file = `${dir}/tandem.yaml`;
    await Deno.writeTextFile(file, text("127.0.0.2/32"));
    const tandem = await startTandem({
      config: file,
      binary: binaryAvailable(),
      sip: { host: "127.0.0.1", port: sip, transport: "udp" },
    });
    try {
      const ready = () =>
        fetch(`http://127.0.0.1:${http}/ready`).then(async (r) => {
          await r.body?.cancel();
          return r.status;
        });
      assert.equal(await ready(), 403, "127.0.0.1 is not in 127.0.0.2/32");
      await Deno.writeTextFile(file, text("127.0.0.0/8"));
      Deno.kill(tandem.pid, "SIGHUP");
      await waitFor(async () => await ready() === 200, 5000, { what: "let in after the reload" });
      assert.match((await tandem.logs()).stderr, /"event":"http.forbidden_address"/);
    } finally {
      await tandem.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

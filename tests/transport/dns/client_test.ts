// The UDP stub resolver against a real dnsmasq on 127.0.0.1 (and ::1 when usable): record
// types, CNAME following, negative answers (RFC 2308), the cache, in-flight sharing, failover
// and timeouts. Fake servers (node:dgram sockets bound by the test) stand in where dnsmasq
// cannot misbehave on demand. Everything is sent to loopback only.

import assert from "node:assert/strict";
import dgram from "node:dgram";
import {
  type DnsAnswerSet,
  DnsClient,
  type DnsClientOptions,
  type DnsServer,
  serversFromResolvConf,
} from "../../../src/transport/dns/client.ts";
import { decodeResponse, DnsError } from "../../../src/transport/dns/wire.ts";
import { metrics } from "../../../src/util/metrics.ts";
import { ipv6Available } from "../helpers.ts";
import { type Dnsmasq, freeUdpPort, startDnsmasq } from "./dnsmasq.ts";

const v6 = await ipv6Available();

/** The carrier.test zone every dnsmasq here serves; TTL 30 s. */
const ZONE = [
  "--local-ttl=30",
  "--local=/carrier.test/",
  "--srv-host=_sip._udp.carrier.test,a.carrier.test,5081,10,60",
  "--host-record=a.carrier.test,127.0.0.1,::1",
  "--host-record=v4only.carrier.test,127.0.0.2",
  "--naptr-record=carrier.test,10,50,s,SIP+D2U,,_sip._udp.carrier.test",
  "--cname=alias.carrier.test,a.carrier.test",
];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A fake server: records each query and answers with whatever `reply` returns (or nothing). */
async function fakeServer(
  reply: (query: Uint8Array) => Uint8Array | undefined = () => undefined,
): Promise<{ server: DnsServer; got: Uint8Array[]; sock: dgram.Socket; close(): Promise<void> }> {
  const sock = dgram.createSocket("udp4");
  const got: Uint8Array[] = [];
  sock.on("message", (m: Uint8Array, rinfo: dgram.RemoteInfo) => {
    const q = new Uint8Array(m);
    got.push(q);
    const out = reply(q);
    if (out !== undefined) sock.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  return {
    server: { host: "127.0.0.1", port: sock.address().port },
    got,
    sock,
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

/**
 * A reply to `query` (our own encoding: question, then the 11-byte OPT) with `flags` OR'ed in
 * (RCODE, TC) and, if `address` is given, one A record for the question's name.
 */
function answerTo(query: Uint8Array, opts: { flags?: number; address?: number[] } = {}) {
  const q = query.subarray(12, query.length - 11);
  const flags = 0x8180 | (opts.flags ?? 0);
  const an = opts.address === undefined
    ? []
    : [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, ...opts.address];
  return new Uint8Array([
    query[0],
    query[1],
    flags >> 8,
    flags & 0xff,
    0,
    1,
    0,
    an.length > 0 ? 1 : 0,
    0,
    0,
    0,
    0,
    ...q,
    ...an,
  ]);
}

/** A client with short timeouts and a clock the test moves. */
function client(servers: DnsServer[], over: Partial<DnsClientOptions> = {}) {
  const clock = { ms: 1_000_000 };
  const c = new DnsClient({ servers, timeoutMs: 200, attempts: 1, now: () => clock.ms, ...over });
  return { c, clock };
}

/** tandem_dns_lookups_total{result} now (the process-wide registry). */
function lookups(result: string): number {
  const line = metrics.expose().split("\n").find((l) =>
    l.startsWith(`tandem_dns_lookups_total{result="${result}"} `)
  );
  return line ? Number(line.split(" ")[1]) : 0;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<DnsError> {
  let err: unknown;
  await p.then(() => assert.fail(`expected DnsError ${code}, got an answer`), (e) => err = e);
  assert.ok(err instanceof DnsError, `expected DnsError ${code}, got ${err}`);
  assert.equal(err.code, code, err.message);
  return err;
}

/** Run `fn` with a fresh dnsmasq, stopped afterwards whatever happens. */
async function withDnsmasq(
  fn: (d: Dnsmasq) => Promise<void>,
  host = "127.0.0.1",
  args: string[] = ZONE,
) {
  const d = await startDnsmasq(host, args);
  try {
    await fn(d);
  } finally {
    await d.stop();
  }
}

Deno.test("dns client: A, AAAA, SRV (RFC 2782) and NAPTR (RFC 3403) from dnsmasq", async () => {
  await withDnsmasq(async (d) => {
    const { c } = client([d.server]);
    try {
      assert.deepEqual(await c.query("a.carrier.test", "A"), {
        status: "ok",
        records: [{ name: "a.carrier.test", ttl: 30, type: "A", address: "127.0.0.1" }],
      });
      assert.deepEqual(await c.query("A.Carrier.TEST.", "AAAA"), {
        status: "ok",
        records: [{ name: "a.carrier.test", ttl: 30, type: "AAAA", address: "::1" }],
      });
      assert.deepEqual(await c.query("_sip._udp.carrier.test", "SRV"), {
        status: "ok",
        records: [{
          name: "_sip._udp.carrier.test",
          ttl: 30,
          type: "SRV",
          priority: 10,
          weight: 60,
          port: 5081,
          target: "a.carrier.test",
        }],
      });
      assert.deepEqual(await c.query("carrier.test", "NAPTR"), {
        status: "ok",
        records: [{
          name: "carrier.test",
          ttl: 30,
          type: "NAPTR",
          order: 10,
          preference: 50,
          flags: "s",
          service: "SIP+D2U",
          regexp: "",
          replacement: "_sip._udp.carrier.test",
        }],
      });
      assert.equal(c.cachedSize, 4);
    } finally {
      await c.close();
    }
  });
});

Deno.test("dns client: a CNAME in the answer is followed; records keep their own names", async () => {
  await withDnsmasq(async (d) => {
    const { c } = client([d.server]);
    try {
      assert.deepEqual(await c.query("alias.carrier.test", "A"), {
        status: "ok",
        records: [{ name: "a.carrier.test", ttl: 30, type: "A", address: "127.0.0.1" }],
      });
      assert.deepEqual(await c.query("alias.carrier.test", "CNAME"), {
        status: "ok",
        records: [{ name: "alias.carrier.test", ttl: 30, type: "CNAME", target: "a.carrier.test" }],
      });
    } finally {
      await c.close();
    }
  });
});

Deno.test("dns client: NXDOMAIN and NODATA, cached for negativeTtlMs when no SOA comes", async () => {
  await withDnsmasq(async (d) => {
    const { c, clock } = client([d.server], { negativeTtlMs: 10_000 });
    try {
      const nx: DnsAnswerSet = { status: "nxdomain", records: [] };
      const nodata: DnsAnswerSet = { status: "nodata", records: [] };
      assert.deepEqual(await c.query("nope.carrier.test", "A"), nx);
      assert.deepEqual(await c.query("v4only.carrier.test", "AAAA"), nodata);
      assert.deepEqual(await c.query("carrier.test", "A"), nodata, "a name with only NAPTR");
      // dnsmasq's --local answers carry no SOA, so the default applies.
      clock.ms += 9_999;
      assert.deepEqual(c.peek("nope.carrier.test", "A"), nx);
      assert.deepEqual(c.peek("v4only.carrier.test", "AAAA"), nodata);
      clock.ms += 2;
      assert.equal(c.peek("nope.carrier.test", "A"), undefined);
      assert.deepEqual(await c.query("nope.carrier.test", "A"), nx);
      assert.equal(d.queries("nope.carrier.test", "A"), 2, "asked again once stale");
    } finally {
      await c.close();
    }
  });
});

Deno.test("dns client: RFC 2308 negative answers are cached for the SOA's TTL", async () => {
  // Authoritative mode puts an SOA (TTL and MINIMUM = auth-ttl) in negative answers.
  const auth = [
    "--auth-server=ns.carrier.test,127.0.0.1",
    "--auth-zone=carrier.test",
    "--auth-ttl=5",
    "--auth-soa=1,hostmaster.carrier.test",
    "--host-record=a.carrier.test,127.0.0.1",
  ];
  await withDnsmasq(
    async (d) => {
      const { c, clock } = client([d.server], { negativeTtlMs: 60_000 });
      try {
        assert.equal((await c.query("nope.carrier.test", "A")).status, "nxdomain");
        assert.equal((await c.query("a.carrier.test", "AAAA")).status, "nodata");
        clock.ms += 4_999;
        assert.equal(c.peek("nope.carrier.test", "A")?.status, "nxdomain");
        assert.equal(c.peek("a.carrier.test", "AAAA")?.status, "nodata");
        clock.ms += 2;
        assert.equal(c.peek("nope.carrier.test", "A"), undefined);
        assert.equal(c.peek("a.carrier.test", "AAAA"), undefined);
      } finally {
        await c.close();
      }
    },
    "127.0.0.1",
    auth,
  );
});

Deno.test("dns client: a fresh answer comes from the cache; a stale one is asked again", async () => {
  const d = await startDnsmasq("127.0.0.1", ZONE);
  const { c, clock } = client([d.server]);
  try {
    const first = await c.query("a.carrier.test", "A");
    await d.stop();
    const second = c.query("A.CARRIER.TEST", "A");
    assert.equal(second, c.query("a.carrier.test", "A"), "a hit hands out one resolved promise");
    assert.equal(await second, first);
    assert.equal(c.peek("a.carrier.test", "A"), first);
    clock.ms += 29_999;
    assert.equal(await c.query("a.carrier.test", "A"), first, "still within the 30 s TTL");
    clock.ms += 2;
    assert.equal(c.peek("a.carrier.test", "A"), undefined);
    // Expired, and no server answers: the stale answer stands in (RFC 8767)...
    const stale = () => lookups("stale");
    const before = stale();
    assert.equal(await c.query("a.carrier.test", "A"), first, "served stale");
    assert.equal(stale(), before + 1, "counted in tandem_dns_lookups_total");
    assert.equal(c.peek("a.carrier.test", "A"), first, "for the next 30 s without asking");
    // ...until staleMs (1 day by default) past its TTL.
    clock.ms += 86_400_000;
    await rejectsWith(c.query("a.carrier.test", "A"), "ETIMEOUT");
  } finally {
    await c.close();
    await d.stop();
  }
});

Deno.test("dns client: with staleMs 0 an expired answer is never served", async () => {
  const d = await startDnsmasq("127.0.0.1", ZONE);
  const { c, clock } = client([d.server], { staleMs: 0 });
  try {
    await c.query("a.carrier.test", "A");
    await d.stop();
    clock.ms += 30_001;
    await rejectsWith(c.query("a.carrier.test", "A"), "ETIMEOUT");
  } finally {
    await c.close();
    await d.stop();
  }
});

Deno.test("dns client: a name in use is asked again in its TTL's last tenth, in the background", async () => {
  await withDnsmasq(async (d) => {
    const { c, clock } = client([d.server]);
    const asked = async (n: number) => {
      // dnsmasq may write its log after it has answered.
      for (let i = 0; i < 40 && d.queries("a.carrier.test", "A") < n; i++) await sleep(25);
      return d.queries("a.carrier.test", "A");
    };
    try {
      const first = await c.query("a.carrier.test", "A");
      assert.equal(await asked(1), 1);
      clock.ms += 26_000; // TTL 30 s: not yet in its last tenth
      assert.equal(await c.query("a.carrier.test", "A"), first);
      clock.ms += 1_500; // 27.5 s: the hit answers at once and asks again behind it
      assert.equal(await c.query("a.carrier.test", "A"), first);
      assert.equal(await asked(2), 2);
      clock.ms += 3_000; // past the first answer's 30 s: the refreshed one serves, no query
      const later = await c.query("a.carrier.test", "A");
      assert.deepEqual(later.records.map((r) => r.type), ["A"]);
      await sleep(100);
      assert.equal(d.queries("a.carrier.test", "A"), 2);
    } finally {
      await c.close();
    }
  });
});

Deno.test("dns client: concurrent identical queries share one request", async () => {
  await withDnsmasq(async (d) => {
    const { c } = client([d.server]);
    try {
      const a = c.query("_sip._udp.carrier.test", "SRV");
      const b = c.query("_SIP._udp.carrier.test.", "SRV");
      const other = c.query("_sip._udp.carrier.test", "A");
      // Should an assertion fail, close() rejects these: keep that from hiding the message.
      for (const p of [a, b, other]) p.catch(() => {});
      assert.equal(a, b);
      assert.notEqual(a, other, "another type is another request");
      const [ra, rb] = await Promise.all([a, b, other]);
      assert.equal(ra, rb);
      // dnsmasq may write its log after it has answered.
      for (let i = 0; i < 40 && d.queries("_sip._udp.carrier.test", "SRV") === 0; i++) {
        await sleep(25);
      }
      await sleep(100);
      assert.equal(d.queries("_sip._udp.carrier.test", "SRV"), 1);
    } finally {
      await c.close();
    }
  });
});

Deno.test("dns client: a closed port or a silent server is skipped for the next one", async () => {
  // A socket bound by the test that never answers stands in for a server that is down but
  // drops packets; a port nobody holds is one whose host answers with ICMP unreachable.
  const silent = await fakeServer();
  const closed = { host: "127.0.0.1", port: await freeUdpPort("127.0.0.1") };
  try {
    await withDnsmasq(async (d) => {
      const { c } = client([closed, silent.server, d.server], { timeoutMs: 150 });
      try {
        const t0 = performance.now();
        const res = await c.query("a.carrier.test", "A");
        const took = performance.now() - t0;
        assert.equal(res.records[0].type === "A" && res.records[0].address, "127.0.0.1");
        assert.equal(silent.got.length, 1, "the silent server was asked once");
        // Unconnected UDP sockets do not hear ICMP errors, so the closed port costs a timeout.
        assert.ok(took >= 290, `answered after ${took} ms, before two 150 ms timeouts`);
        assert.equal(d.queries("a.carrier.test", "A"), 1);
      } finally {
        await c.close();
      }
    });
  } finally {
    await silent.close();
  }
});

Deno.test("dns client: no answer anywhere is ETIMEOUT after attempts rounds", async () => {
  const silent = [await fakeServer(), await fakeServer()];
  const { c } = client(silent.map((s) => s.server), { timeoutMs: 100, attempts: 2 });
  try {
    const t0 = performance.now();
    await rejectsWith(c.query("a.carrier.test", "A"), "ETIMEOUT");
    const took = performance.now() - t0;
    assert.deepEqual(silent.map((s) => s.got.length), [2, 2]);
    assert.ok(took >= 390 && took < 2000, `gave up after ${took} ms, 4 tries of 100 ms`);
    // Each try had its own id.
    const ids = silent.flatMap((s) => s.got.map((q) => decodeResponse(q).id));
    assert.equal(new Set(ids).size, 4);
  } finally {
    await c.close();
    for (const s of silent) await s.close();
  }
});

Deno.test("dns client: SERVFAIL, REFUSED, TC and malformed replies move on to the next server", async () => {
  const servfail = await fakeServer((q) => answerTo(q, { flags: 2 }));
  const refused = await fakeServer((q) => answerTo(q, { flags: 5 }));
  const truncated = await fakeServer((q) => answerTo(q, { flags: 0x0200 }));
  const garbage = await fakeServer((q) => new Uint8Array([q[0], q[1], 0x81, 0x80, 0, 1]));
  const good = await fakeServer((q) => answerTo(q, { address: [192, 0, 2, 1] }));
  const fakes = [servfail, refused, truncated, garbage, good];
  try {
    const { c } = client(fakes.map((f) => f.server));
    try {
      const res = await c.query("x.carrier.test", "A");
      assert.deepEqual(res.records, [
        { name: "x.carrier.test", ttl: 30, type: "A", address: "192.0.2.1" },
      ]);
      assert.deepEqual(fakes.map((f) => f.got.length), [1, 1, 1, 1, 1]);
    } finally {
      await c.close();
    }
    // With the good one gone, the last error is what the caller sees.
    for (
      const [fake, code] of [[servfail, "ESERVFAIL"], [refused, "EREFUSED"], [
        truncated,
        "ETRUNCATED",
      ], [garbage, "EMALFORMED"]] as const
    ) {
      const { c } = client([fake.server]);
      try {
        await rejectsWith(c.query("x.carrier.test", "A"), code);
      } finally {
        await c.close();
      }
    }
  } finally {
    for (const f of fakes) await f.close();
  }
});

Deno.test("dns client: an answer too big for a datagram is asked again over TCP (RFC 7766)", async () => {
  // 40 SRV records with long targets: well past the 1232 bytes offered over UDP.
  const targets = Array.from(
    { length: 40 },
    (_, i) => `sip-server-number-${i}-with-a-rather-long-name.carrier.test`,
  );
  const d = await startDnsmasq("127.0.0.1", [
    ...ZONE,
    ...targets.map((t, i) => `--srv-host=_sip._tcp.big.carrier.test,${t},${5000 + i},10,1`),
  ]);
  const { c } = client([d.server], { timeoutMs: 1000 });
  try {
    const res = await c.query("_sip._tcp.big.carrier.test", "SRV");
    assert.equal(res.status, "ok");
    assert.equal(res.records.length, 40, "every record, not a truncated subset");
  } finally {
    await c.close();
    await d.stop();
  }
});

Deno.test("dns client: replies with another id, source or question are ignored", async () => {
  // RFC 5452 §9.1. Spoofers answer first: one from the server's address but another port, one
  // from the server's port on another loopback address. Then the server answers with a wrong
  // id, then for another name; only its last datagram is accepted.
  const server = await fakeServer();
  const bind = async (host: string, port: number) => {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(port, host, () => r()));
    return s;
  };
  const spoofers = [await bind("127.0.0.1", 0), await bind("127.0.0.2", server.server.port)];
  const timers: ReturnType<typeof setTimeout>[] = [];
  server.sock.removeAllListeners("message");
  server.sock.on("message", (m: Uint8Array, rinfo: dgram.RemoteInfo) => {
    const q = new Uint8Array(m);
    server.got.push(q);
    for (const s of spoofers) {
      s.send(answerTo(q, { address: [6, 6, 6, 6] }), rinfo.port, rinfo.address);
    }
    const wrongId = answerTo(q, { address: [7, 7, 7, 7] });
    wrongId[1] ^= 1;
    const otherName = q.slice();
    otherName[13] = 0x79; // x.carrier.test -> y.carrier.test
    const replies = [wrongId, answerTo(otherName, { address: [8, 8, 8, 8] })];
    replies.push(answerTo(q, { address: [192, 0, 2, 9] }));
    replies.forEach((r, i) => {
      timers.push(setTimeout(() => server.sock.send(r, rinfo.port, rinfo.address), 20 * (i + 1)));
    });
  });
  const { c } = client([server.server], { timeoutMs: 500 });
  try {
    const res = await c.query("x.carrier.test", "A");
    assert.deepEqual(res.records.map((r) => r.type === "A" && r.address), ["192.0.2.9"]);
  } finally {
    timers.forEach(clearTimeout);
    await c.close();
    await server.close();
    for (const s of spoofers) await new Promise<void>((r) => s.close(() => r()));
  }
});

Deno.test("dns client: an IPv6 server (udp6 socket)", { ignore: !v6 }, async () => {
  await withDnsmasq(async (d) => {
    const { c } = client([d.server]);
    try {
      assert.deepEqual((await c.query("a.carrier.test", "AAAA")).records, [
        { name: "a.carrier.test", ttl: 30, type: "AAAA", address: "::1" },
      ]);
    } finally {
      await c.close();
    }
  }, "::1");
});

Deno.test("dns client: close() rejects pending queries with ECLOSED", async () => {
  const silent = await fakeServer();
  const { c } = client([silent.server], { timeoutMs: 5000 });
  try {
    const p = c.query("a.carrier.test", "A");
    const rejected = rejectsWith(p, "ECLOSED");
    while (silent.got.length === 0) await sleep(5);
    await c.close();
    await rejected;
    await rejectsWith(c.query("a.carrier.test", "A"), "ECLOSED");
  } finally {
    await c.close();
    await silent.close();
  }
});

Deno.test("dns client: a name that cannot be asked is EBADNAME and sends nothing", async () => {
  const silent = await fakeServer();
  const { c } = client([silent.server]);
  try {
    await rejectsWith(c.query("a..carrier.test", "A"), "EBADNAME");
    await rejectsWith(c.query("a..carrier.test", "A"), "EBADNAME");
    await sleep(20);
    assert.equal(silent.got.length, 0);
  } finally {
    await c.close();
    await silent.close();
  }
});

Deno.test("dns client: the cache holds maxEntries, dropping the oldest", async () => {
  const good = await fakeServer((q) => answerTo(q, { address: [192, 0, 2, 1] }));
  const { c } = client([good.server], { maxEntries: 2 });
  try {
    for (const n of ["a", "b", "c"]) await c.query(`${n}.carrier.test`, "A");
    assert.equal(c.cachedSize, 2);
    assert.equal(c.peek("a.carrier.test", "A"), undefined);
    assert.equal(c.peek("c.carrier.test", "A")?.status, "ok");
    assert.equal(good.got.length, 3);
  } finally {
    await c.close();
    await good.close();
  }
});

Deno.test("dns client: serversFromResolvConf reads nameserver lines in order, on port 53", () => {
  const conf = [
    "# generated by resolvconf",
    "search example.com",
    "nameserver 192.0.2.53",
    "  nameserver\t2001:db8::35  # second",
    "; nameserver 198.51.100.1",
    "nameserver 203.0.113.9 ; trailing comment",
    "nameserver",
    "nameserver dns.example.com",
    "nameserver 1.2",
    "options ndots:2\r",
    "nameserver fe80::1%eth0\r",
  ].join("\n");
  assert.deepEqual(serversFromResolvConf(conf), [
    { host: "192.0.2.53", port: 53 },
    { host: "2001:db8::35", port: 53 },
    { host: "203.0.113.9", port: 53 },
    { host: "fe80::1%eth0", port: 53 },
  ]);
});

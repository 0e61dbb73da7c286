// Routes by host name end to end, through the binary, with dnsmasq as the DNS server:
// - carrier.test has no NAPTR; its UDP SRV set names two servers. The better one answers 503
//   (and fails the call unless the Request-URI names carrier.test without a port), so Tandem
//   moves to the other, which answers (RFC 3263 §4.3).
// - naptr.test has a NAPTR record for SIP over TCP only, whose SRV names a TCP callee.
// - ENUM (RFC 6116): e164.test maps one number to a SIP URI (E2U+sip); a call to it reaches
//   that callee, a call to a number it lacks takes the route after the ENUM one.

import assert from "node:assert/strict";
import {
  binaryAvailable,
  freePort,
  freeTcpPort,
  freeUdpPort,
  repoRoot,
  runSipp,
  sippAvailable,
  type SippResult,
  sippUac,
  startTandem,
  udpBound,
  waitFor,
} from "./harness.ts";
import { startDnsmasq } from "../transport/dns/dnsmasq.ts";

/** The value of one /metrics sample (0 when absent). */
async function metric(http: number, sample: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(sample + " "));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

function uas(args: string[]): Promise<SippResult> {
  return runSipp([...args, "-i", "127.0.0.1", "-m", "1", "-timeout", "20s"], {
    timeoutMs: 30_000,
  });
}

Deno.test({
  name:
    "dns: a route by name follows SRV to its best server, and past its 503 to the next; a NAPTR record picks TCP",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [first, second, tcp] = [freeUdpPort(), freeUdpPort(), freeTcpPort()];
    await using dns = await startDnsmasq("127.0.0.1", [
      "--local=/carrier.test/",
      "--local=/naptr.test/",
      `--srv-host=_sip._udp.carrier.test,a.carrier.test,${first},10,0`,
      `--srv-host=_sip._udp.carrier.test,b.carrier.test,${second},20,0`,
      "--host-record=a.carrier.test,127.0.0.1",
      "--host-record=b.carrier.test,127.0.0.1",
      "--naptr-record=naptr.test,10,50,s,SIP+D2T,,_sip._tcp.naptr.test",
      `--srv-host=_sip._tcp.naptr.test,t.naptr.test,${tcp},10,0`,
      "--host-record=t.naptr.test,127.0.0.1",
    ]);
    const [sip, http] = [freePort(), freePort()];
    await using tandem = await startTandem({
      binary: binaryAvailable(),
      config: `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp, tcp] }
  dns: { servers: ["127.0.0.1:${dns.server.port}"], timeout: 500ms }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
rules:
  - name: tcp
    match: { ruri_user_prefix: tcp }
    routes: [{ name: naptr, target: naptr.test }]
  - name: udp
    routes: [{ name: carrier, target: carrier.test }]
`,
    });
    const refuser = uas([
      "-sf",
      `${repoRoot}/tests/e2e/scenarios/dns-503-uas.xml`,
      "-p",
      String(first),
    ]);
    const answerer = uas(["-sn", "uas", "-p", String(second)]);
    const tcpCallee = uas(["-sn", "uas", "-p", String(tcp), "-t", "t1"]);
    await waitFor(() => udpBound(first) && udpBound(second), 5000, { what: "callee SIPps" });
    const call = (service: string) => sippUac(`127.0.0.1:${sip}`, { service });
    const logs = async () => (await tandem.logs()).stderr.slice(-3000);
    const udp = await call("service");
    assert.equal(udp.code, 0, `UDP caller: ${udp.stdout.slice(-1500)}\n${await logs()}`);
    const [r, a] = await Promise.all([refuser, answerer]);
    assert.equal(r.code, 0, `the 503 server (checks the Request-URI): ${r.stdout.slice(-1500)}`);
    assert.equal(a.code, 0, `the answering server: ${a.stdout.slice(-1500)}`);
    const overTcp = await call("tcp-service");
    assert.equal(overTcp.code, 0, `TCP caller: ${overTcp.stdout.slice(-1500)}\n${await logs()}`);
    const t = await tcpCallee;
    assert.equal(t.code, 0, `the TCP callee: ${t.stdout.slice(-1500)}`);
    assert.equal(await metric(http, 'tandem_calls_total{outcome="answered"}'), 2);
    assert.equal(await metric(http, 'tandem_route_lookups_total{outcome="resolved"}'), 2);
  },
});

Deno.test({
  name: "dns: an ENUM route sends a number to the SIP URI its NAPTR record gives, and a number " +
    "without one to the next route",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(sippAvailable(), "sipp is missing: apt-get install sip-tester");
    const [peer, pstn] = [freeUdpPort(), freeUdpPort()];
    await using dns = await startDnsmasq("127.0.0.1", [
      "--local=/e164.test/",
      // +1 215 555 1213 is served by a peer, reached at the URI the record's regexp builds.
      `--naptr-record=3.1.2.1.5.5.5.5.1.2.1.e164.test,10,10,u,E2U+sip,!^\\+(.*)$!sip:\\1@127.0.0.1:${peer}!`,
    ]);
    const [sip, http] = [freePort(), freePort()];
    await using tandem = await startTandem({
      binary: binaryAvailable(),
      config: `sip:
  listen:
    - { address: 127.0.0.1, port: ${sip}, transports: [udp] }
  dns: { servers: ["127.0.0.1:${dns.server.port}"], timeout: 500ms }
http:
  listen: 127.0.0.1:${http}
log: { level: info, format: json }
rules:
  - name: all
    routes:
      - { name: peering, enum: e164.test, ruri_user: { prefix: "+" } }
      - { name: pstn, target: "127.0.0.1:${pstn}" }
`,
    });
    const peerUas = uas(["-sn", "uas", "-p", String(peer)]);
    const pstnUas = uas(["-sn", "uas", "-p", String(pstn)]);
    await waitFor(() => udpBound(peer) && udpBound(pstn), 5000, { what: "callee SIPps" });
    const logs = async () => (await tandem.logs()).stderr.slice(-3000);
    const ported = await sippUac(`127.0.0.1:${sip}`, { service: "12155551213" });
    assert.equal(
      ported.code,
      0,
      `call to the ENUM number: ${ported.stdout.slice(-1500)}\n${await logs()}`,
    );
    const p = await peerUas;
    assert.equal(p.code, 0, `the peer the ENUM record names: ${p.stdout.slice(-1500)}`);
    const other = await sippUac(`127.0.0.1:${sip}`, { service: "12155550000" });
    assert.equal(
      other.code,
      0,
      `call to a number ENUM lacks: ${other.stdout.slice(-1500)}\n${await logs()}`,
    );
    const q = await pstnUas;
    assert.equal(q.code, 0, `the next route: ${q.stdout.slice(-1500)}`);
    assert.equal(await metric(http, 'tandem_enum_lookups_total{outcome="found"}'), 1);
    assert.equal(await metric(http, 'tandem_enum_lookups_total{outcome="none"}'), 1);
    assert.equal(dns.queries("3.1.2.1.5.5.5.5.1.2.1.e164.test", "NAPTR"), 1);
  },
});

// RFC 1035 §7 / RFC 1123 §6.1.3 stub resolver over UDP for RFC 3263 (locating SIP servers): asks
// the configured recursive servers in order, caches answers for their TTL and negative answers
// for the SOA's (RFC 2308). Over node:dgram, which behaves alike under Deno, Bun and Node.

import dgram from "node:dgram";
import net from "node:net";
import { familyOf, normalizeHost } from "../address.ts";
import type { Random } from "../../util/clock.ts";
import { cryptoRandom } from "../../util/random.ts";
import { metrics } from "../../util/metrics.ts";
import {
  decodeResponse,
  DnsError,
  type DnsRecord,
  type DnsResponse,
  encodeQuery,
  RCODE,
  type RecordType,
  TYPE_CODE,
} from "./wire.ts";

/** A recursive DNS server. */
export interface DnsServer {
  host: string;
  port: number;
}

/** The `nameserver` lines of a resolv.conf(5) text, in order, on port 53. */
export function serversFromResolvConf(text: string): DnsServer[] {
  const out: DnsServer[] = [];
  for (const line of text.split("\n")) {
    const [key, host] = line.replace(/[#;].*/, "").trim().split(/\s+/);
    if (key !== "nameserver" || host === undefined) continue;
    const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
    if (v4 || (host.includes(":") && /^[0-9a-fA-F:.]+(%\S+)?$/.test(host))) {
      out.push({ host, port: 53 });
    }
  }
  return out;
}

/** An answer: the records of the asked type (after CNAMEs in the answer), or why there are none. */
export interface DnsAnswerSet {
  records: readonly DnsRecord[];
  status: "ok" | "nxdomain" | "nodata";
}

/** Settings of a {@link DnsClient}. */
export interface DnsClientOptions {
  servers: DnsServer[];
  /** Wait for one reply, per try. Default 1000. */
  timeoutMs?: number;
  /** Rounds over the server list. Default 2. */
  attempts?: number;
  /** Monotonic milliseconds, for cache expiry. Default performance.now(). */
  now?: () => number;
  /** [0, 1), for query ids: they must not be guessable (RFC 5452). Default crypto. */
  random?: Random;
  /** Cache entries held at most; the oldest goes first. Default 10000. */
  maxEntries?: number;
  /** Longest time anything is cached. Default 3600000 (1 h). */
  maxTtlMs?: number;
  /** How long a negative answer without an SOA is cached. Default 30000. */
  negativeTtlMs?: number;
  /**
   * How long past its TTL an answer is still served when no server answers (RFC 8767), so a
   * DNS outage does not take routes by name down with it. Default 86400000 (1 day); 0: never.
   */
  staleMs?: number;
}

interface Server {
  host: string;
  port: number;
  family: 4 | 6;
}

interface Entry {
  answer: DnsAnswerSet;
  expires: number;
  /** From this monotonic ms a hit also asks again in the background (the last tenth of the TTL). */
  refreshAt: number;
  /** Until when it may stand in for a lookup that failed. */
  staleUntil: number;
  /** Made on the first hit and handed to every later one, so a hit allocates nothing. */
  promise?: Promise<DnsAnswerSet>;
}

/** One try: a query sent to one server, waiting for its reply. */
interface Exchange {
  server: Server;
  name: string;
  code: number;
  timer: ReturnType<typeof setTimeout>;
  done(r: DnsResponse | DnsError): void;
}

interface Sock {
  sock: dgram.Socket;
  ready: Promise<void>;
}

const mLookups = metrics.counter(
  "tandem_dns_lookups_total",
  "DNS lookups sent to the servers (cache hits aside), by result: ok, nxdomain, nodata; stale " +
    "(no server answered, an expired answer served); failed.",
);

const MIN_TTL_MS = 1000;
/** RFC 8767 §4: a stale answer served is good for this long before the servers are tried again. */
const STALE_ANSWER_MS = 30_000;
const MAX_CNAME_HOPS = 8;

/** A caching UDP stub resolver; see the file comment. */
export class DnsClient {
  readonly #servers: Server[];
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #now: () => number;
  readonly #random: Random;
  readonly #maxEntries: number;
  readonly #maxTtlMs: number;
  readonly #negativeTtlMs: number;
  readonly #staleMs: number;
  readonly #cache = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<DnsAnswerSet>>();
  readonly #pending = new Map<number, Exchange>();
  readonly #socks: { 4?: Sock; 6?: Sock } = {};
  /** Connections of TCP retries in progress (truncated answers), closed by close(). */
  readonly #tcp = new Set<net.Socket>();
  #closed = false;

  constructor(opts: DnsClientOptions) {
    if (opts.servers.length === 0) throw new RangeError("DnsClient: no servers");
    this.#servers = opts.servers.map((s) => {
      const host = canonicalHost(s.host);
      return { host, port: s.port, family: familyOf(host) };
    });
    this.#timeoutMs = opts.timeoutMs ?? 1000;
    this.#attempts = Math.max(1, opts.attempts ?? 2);
    this.#now = opts.now ?? (() => performance.now());
    this.#random = opts.random ?? cryptoRandom();
    this.#maxEntries = Math.max(1, opts.maxEntries ?? 10_000);
    this.#maxTtlMs = Math.max(MIN_TTL_MS, opts.maxTtlMs ?? 3_600_000);
    this.#negativeTtlMs = opts.negativeTtlMs ?? 30_000;
    this.#staleMs = Math.max(0, opts.staleMs ?? 86_400_000);
  }

  /** Cache entries held (stale ones included until touched or pushed out). */
  get cachedSize(): number {
    return this.#cache.size;
  }

  /** A fresh cached answer, synchronously; undefined on a miss or a stale entry. */
  peek(name: string, type: RecordType): DnsAnswerSet | undefined {
    return this.#fresh(cacheKey(name, type))?.answer;
  }

  /** The records of `type` for `name` (case-insensitive), from the cache or the servers. */
  query(name: string, type: RecordType): Promise<DnsAnswerSet> {
    if (this.#closed) return Promise.reject(closedError());
    const key = cacheKey(name, type);
    const hit = this.#fresh(key);
    if (hit !== undefined) {
      // Names in use are asked again shortly before they expire, so that no call waits for DNS.
      if (hit.refreshAt <= this.#now() && !this.#inflight.has(key)) {
        hit.refreshAt = Infinity;
        this.#start(key, type).catch(() => {}); // a failure keeps the answer until it expires
      }
      return hit.promise ??= Promise.resolve(hit.answer);
    }
    return this.#inflight.get(key) ?? this.#start(key, type);
  }

  /** Ask the servers for `key`; concurrent askers share the one lookup. */
  #start(key: string, type: RecordType): Promise<DnsAnswerSet> {
    const qname = key.slice(type.length + 1);
    // Removed once settled, not inside #lookup: that may settle before this line has run.
    const p = this.#lookup(qname, type, key)
      .catch((err) => this.#stale(key, err))
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  /** Close the sockets; pending queries reject with ECLOSED. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const c of this.#tcp) c.destroy();
    this.#tcp.clear();
    for (const x of [...this.#pending.values()]) x.done(closedError());
    this.#cache.clear();
    const socks = [this.#socks[4], this.#socks[6]];
    delete this.#socks[4];
    delete this.#socks[6];
    await Promise.all(socks.map((s) => s && closeSock(s.sock)));
  }

  #fresh(key: string): Entry | undefined {
    const e = this.#cache.get(key);
    if (e === undefined) return undefined;
    const now = this.#now();
    if (e.expires > now) return e;
    if (e.staleUntil <= now) this.#cache.delete(key);
    return undefined;
  }

  /** A failed lookup: the expired answer still held stands in (RFC 8767), else the error. */
  #stale(key: string, err: unknown): DnsAnswerSet {
    const e = this.#cache.get(key);
    const now = this.#now();
    const code = (err as DnsError).code;
    // (A fetch ahead that failed leaves its still fresh answer as it is.)
    if (
      e === undefined || e.expires > now || e.staleUntil <= now || code === "ECLOSED" ||
      code === "EBADNAME"
    ) {
      if (code !== "ECLOSED") mLookups.inc({ result: "failed" });
      throw err;
    }
    mLookups.inc({ result: "stale" });
    e.expires = now + STALE_ANSWER_MS;
    e.promise = undefined;
    return e.answer;
  }

  async #lookup(name: string, type: RecordType, key: string): Promise<DnsAnswerSet> {
    encodeQuery(0, name, type); // EBADNAME before anything is sent
    let last: DnsError | undefined;
    for (let round = 0; round < this.#attempts; round++) {
      for (const server of this.#servers) {
        if (this.#closed) throw closedError();
        let res = await this.#exchange(server, name, type);
        // RFC 7766 §5: an answer cut to fit a datagram is asked again over TCP.
        if (!(res instanceof DnsError) && res.truncated) {
          const tcp = await this.#exchangeTcp(server, name, type);
          res = tcp instanceof DnsError
            ? new DnsError(`answer truncated, and over TCP: ${tcp.message}`, "ETRUNCATED")
            : tcp;
        }
        const err = res instanceof DnsError ? res : replyError(res, server);
        if (err === undefined) return this.#store(key, name, type, res as DnsResponse);
        if (err.code === "ECLOSED") throw err;
        if (err.code !== "ETIMEOUT" || last === undefined) last = err;
      }
    }
    throw last ?? new DnsError(`no DNS server answered for ${name} ${type}`, "ETIMEOUT");
  }

  #store(key: string, name: string, type: RecordType, res: DnsResponse): DnsAnswerSet {
    let { records, minTtl } = follow(res.answers, name, type);
    let status: DnsAnswerSet["status"] = "ok";
    if (res.rcode === RCODE.NXDOMAIN) {
      status = "nxdomain";
      records = [];
    } else if (records.length === 0) status = "nodata";
    mLookups.inc({ result: status });
    // Every caller shares these objects until they expire: frozen so none can change them.
    for (const r of records) Object.freeze(r);
    const answer: DnsAnswerSet = Object.freeze({ records: Object.freeze(records), status });
    let ttlMs = status === "ok" ? minTtl * 1000 : (res.negativeTtl ?? -1) * 1000;
    if (ttlMs < 0) ttlMs = this.#negativeTtlMs;
    ttlMs = Math.min(this.#maxTtlMs, Math.max(MIN_TTL_MS, ttlMs));
    this.#cache.delete(key);
    if (this.#cache.size >= this.#maxEntries) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    const now = this.#now();
    const expires = now + ttlMs;
    // Negative answers are not fetched ahead: nobody is waiting for a name that does not exist.
    const refreshAt = status === "ok" && ttlMs >= 10_000 ? expires - ttlMs / 10 : Infinity;
    this.#cache.set(key, { answer, expires, refreshAt, staleUntil: expires + this.#staleMs });
    return answer;
  }

  /** Send one query to `server`; resolves with its reply or the DnsError that ended the try. */
  #exchange(server: Server, name: string, type: RecordType): Promise<DnsResponse | DnsError> {
    return new Promise((resolve) => {
      if (this.#pending.size >= 65536) {
        return resolve(new DnsError("65536 DNS queries outstanding", "ESOCKET"));
      }
      let id = Math.floor(this.#random() * 65536) & 0xffff;
      while (this.#pending.has(id)) id = (id + 1) & 0xffff;
      const packet = encodeQuery(id, name, type);
      const x: Exchange = {
        server,
        name,
        code: TYPE_CODE[type],
        // Not unref'd: the sockets are, and this timer is what keeps an awaited query alive.
        timer: setTimeout(() => {
          x.done(new DnsError(`${server.host}:${server.port} did not answer`, "ETIMEOUT"));
        }, this.#timeoutMs),
        done: (r) => {
          if (this.#pending.get(id) !== x) return;
          this.#pending.delete(id);
          clearTimeout(x.timer);
          resolve(r);
        },
      };
      this.#pending.set(id, x);
      let s: Sock;
      try {
        s = this.#socket(server.family);
      } catch (e) {
        return x.done(socketError(e, server));
      }
      s.ready.then(() => {
        if (this.#pending.get(id) !== x) return;
        s.sock.send(packet, server.port, server.host, (e) => {
          if (e) x.done(socketError(e, server));
        });
      }, (e) => x.done(socketError(e, server)));
    });
  }

  /** One query over TCP (RFC 1035 §4.2.2: each message after a two-byte length). */
  #exchangeTcp(server: Server, name: string, type: RecordType): Promise<DnsResponse | DnsError> {
    return new Promise((resolve) => {
      const id = Math.floor(this.#random() * 65536) & 0xffff;
      const query = encodeQuery(id, name, type);
      const framed = new Uint8Array(2 + query.length);
      framed[0] = query.length >>> 8;
      framed[1] = query.length & 0xff;
      framed.set(query, 2);
      const conn = net.createConnection({ host: server.host, port: server.port });
      this.#tcp.add(conn);
      let got = new Uint8Array(0);
      let settled = false;
      const finish = (r: DnsResponse | DnsError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#tcp.delete(conn);
        conn.destroy();
        resolve(r);
      };
      const timer = setTimeout(() => {
        finish(new DnsError(`${server.host}:${server.port} did not answer over TCP`, "ETIMEOUT"));
      }, this.#timeoutMs);
      conn.on("connect", () => conn.write(framed));
      conn.on("error", (e) => finish(socketError(e, server)));
      conn.on("close", () => finish(socketError(new Error("connection closed"), server)));
      conn.on("data", (chunk: Uint8Array) => {
        const next = new Uint8Array(got.length + chunk.length);
        next.set(got);
        next.set(chunk, got.length);
        got = next;
        if (got.length < 2) return;
        const len = (got[0] << 8) | got[1];
        if (got.length < 2 + len) return;
        let res: DnsResponse;
        try {
          res = decodeResponse(got.subarray(2, 2 + len));
        } catch (e) {
          return finish(e instanceof DnsError ? e : new DnsError(String(e), "EMALFORMED"));
        }
        const q = res.question;
        const ours = res.id === id && res.isResponse &&
          (q === undefined || (q.type === TYPE_CODE[type] && q.name === name.toLowerCase()));
        finish(
          ours ? res : new DnsError(`${server.host}:${server.port}: reply not ours`, "EMALFORMED"),
        );
      });
    });
  }

  #socket(family: 4 | 6): Sock {
    const have = this.#socks[family];
    if (have !== undefined) return have;
    const sock = dgram.createSocket(family === 4 ? "udp4" : "udp6");
    const s: Sock = {
      sock,
      ready: new Promise<void>((resolve, reject) => {
        sock.once("listening", () => resolve());
        sock.once("error", reject);
      }),
    };
    sock.on("error", (e) => {
      // A broken socket is dropped; the next try opens a new one.
      if (this.#socks[family] !== s) return;
      delete this.#socks[family];
      for (const x of [...this.#pending.values()]) {
        if (x.server.family === family) x.done(socketError(e, x.server));
      }
      closeSock(sock);
    });
    sock.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => this.#onMessage(msg, rinfo));
    sock.bind(0);
    sock.unref();
    this.#socks[family] = s;
    return s;
  }

  #onMessage(msg: Uint8Array, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 2) return;
    const x = this.#pending.get((msg[0] << 8) | msg[1]);
    // RFC 5452 §9.1: only the server asked may answer; anything else is dropped unseen.
    if (x === undefined || x.server.port !== rinfo.port) return;
    if (x.server.host !== normalizeHost(rinfo.address)) return;
    let res: DnsResponse;
    try {
      res = decodeResponse(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    } catch (e) {
      return x.done(e instanceof DnsError ? e : new DnsError(String(e), "EMALFORMED"));
    }
    if (!res.isResponse) return;
    const q = res.question;
    // A late reply to an earlier query that had the same id: keep waiting for ours.
    if (q !== undefined && (q.type !== x.code || q.name !== x.name)) return;
    x.done(res);
  }
}

/** "TYPE name": the name lowercase without a trailing dot, as decoded names are. */
function cacheKey(name: string, type: RecordType): string {
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  return type + " " + bare.toLowerCase();
}

/**
 * Records of `type` owned by `name`, or by the end of a CNAME chain inside the answer section
 * (RFC 1034 §3.6.2); minTtl covers the CNAMEs walked too, since the answer dies with them.
 */
function follow(
  answers: DnsRecord[],
  name: string,
  type: RecordType,
): { records: DnsRecord[]; minTtl: number } {
  let owner = name;
  let minTtl = Infinity;
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const records = answers.filter((r) => r.type === type && r.name === owner);
    if (records.length > 0) {
      for (const r of records) minTtl = Math.min(minTtl, r.ttl);
      return { records, minTtl };
    }
    const cname = answers.find((r) => r.type === "CNAME" && r.name === owner);
    if (cname?.type !== "CNAME") break;
    minTtl = Math.min(minTtl, cname.ttl);
    owner = cname.target;
  }
  return { records: [], minTtl };
}

/** Why a decoded reply cannot be used (try the next server), or undefined if it can. */
function replyError(res: DnsResponse, s: Server): DnsError | undefined {
  const from = `${s.host}:${s.port}`;
  if (res.truncated) return new DnsError(`${from}: answer truncated`, "ETRUNCATED");
  if (res.rcode === RCODE.NOERROR || res.rcode === RCODE.NXDOMAIN) return undefined;
  if (res.rcode === RCODE.SERVFAIL) return new DnsError(`${from}: SERVFAIL`, "ESERVFAIL");
  if (res.rcode === RCODE.REFUSED) return new DnsError(`${from}: REFUSED`, "EREFUSED");
  return new DnsError(`${from}: RCODE ${res.rcode}`, "ERCODE");
}

function socketError(e: unknown, s: Server): DnsError {
  const msg = (e as Error)?.message ?? String(e);
  return new DnsError(`UDP to ${s.host}:${s.port}: ${msg}`, "ESOCKET", { cause: e });
}

function closedError(): DnsError {
  return new DnsError("DNS client closed", "ECLOSED");
}

/**
 * The text the runtime reports as a datagram's source: bare, lowercase, IPv6 compressed
 * (WHATWG URL serializes as RFC 5952 does), IPv4-mapped unwrapped to IPv4.
 */
function canonicalHost(host: string): string {
  const h = normalizeHost(host);
  if (!h.includes(":") || h.includes("%")) return h;
  try {
    return new URL(`http://[${h}]/`).hostname.slice(1, -1);
  } catch {
    return h;
  }
}

function closeSock(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

// Registrations relayed for phones that cannot be reached by their own address (browsers over
// WebSocket: their Contact names a .invalid host). Tandem registers them at the registrar under
// a Contact of its own, `sip:<token>@<Tandem>`, and keeps which connection and which Contact of
// the phone each token stands for, so that a call the registrar sends to the token reaches the
// phone over its connection.

import { endpointKey } from "../transport/address.ts";
import type { Endpoint } from "../transport/types.ts";
import type { Random } from "../util/clock.ts";
import { token } from "../util/random.ts";

/** One registered Contact of a phone. */
export interface Binding {
  token: string;
  /** The connection it registered over, where calls to it go. */
  flow: Endpoint;
  /** Its Contact URI, as it sent it: the Request-URI of calls to it. */
  contact: string;
  /** The address of record (its REGISTER's To URI), for logs and the call list. */
  aor: string;
  /** Monotonic ms when the registrar's grant runs out; 0 until a 2xx grants it. */
  expiresAt: number;
}

/** Bindings held at once: phones choose their Contacts, so the table is bounded. */
export const MAX_BINDINGS = 100_000;

/** How long a forgotten token is still told apart from a wrong one: a registrar's longest grant. */
const GONE_MS = 3_600_000;

export class Registrations {
  private byToken = new Map<string, Binding>();
  /**
   * Tokens of phones gone with their connection, until the registrar's grant would have run out:
   * a call to one is for a phone that is away (480), not for nobody (404). Bounded like bindings.
   */
  private gone = new Map<string, number>();
  /** flow|contact → token: a phone's re-REGISTER keeps its token (one binding at the registrar). */
  private byContact = new Map<string, string>();
  /** flow → its bindings: a closing connection finds its own without a walk over them all. */
  private byFlow = new Map<string, Set<Binding>>();

  constructor(private random: Random) {}

  get size(): number {
    return this.byToken.size;
  }

  /**
   * The UDP flows phones are registered over now (a granted binding): each once, whatever its
   * Contacts. Over TCP, TLS or WebSocket the connection is the phone's own business to keep.
   */
  *udpFlows(now: number): Iterable<{ key: string; flow: Endpoint }> {
    for (const [key, set] of this.byFlow) {
      for (const b of set) {
        if (b.flow.protocol !== "udp") break;
        if (b.expiresAt > now) {
          yield { key, flow: b.flow };
          break;
        }
      }
    }
  }

  /**
   * The binding for `contact` registered over `flow`: the one it had, or a new one (not granted
   * until {@link grant}). Undefined when the table is full.
   */
  bind(flow: Endpoint, contact: string, aor: string, now: number): Binding | undefined {
    const key = contactKey(flow, contact);
    const had = this.byContact.get(key);
    const b = had === undefined ? undefined : this.byToken.get(had);
    if (b) return b;
    if (this.byToken.size >= MAX_BINDINGS) this.sweep(now);
    if (this.byToken.size >= MAX_BINDINGS) return undefined;
    let t = token(this.random, 20);
    while (this.byToken.has(t)) t = token(this.random, 20);
    const nb: Binding = { token: t, flow, contact, aor, expiresAt: 0 };
    this.byToken.set(t, nb);
    this.byContact.set(key, t);
    const fk = endpointKey(flow);
    const set = this.byFlow.get(fk) ?? new Set<Binding>();
    this.byFlow.set(fk, set.add(nb));
    return nb;
  }

  /** The registrar granted `b` for `seconds` (0: removed). */
  grant(b: Binding, seconds: number, now: number): void {
    if (seconds > 0) b.expiresAt = now + seconds * 1000;
    else this.remove(b);
  }

  /** The bindings the registrar granted and that have not run out. */
  list(now: number): Binding[] {
    return [...this.byToken.values()].filter((b) => b.expiresAt > now);
  }

  /** The binding of a token, granted or not. */
  get(t: string): Binding | undefined {
    return this.byToken.get(t);
  }

  /** The live binding of a token (a Request-URI user), or undefined. */
  lookup(t: string, now: number): Binding | undefined {
    const b = this.byToken.get(t);
    if (!b) return undefined;
    if (b.expiresAt > now) return b;
    if (b.expiresAt !== 0) this.remove(b); // expired; 0 is a REGISTER still on its way
    return undefined;
  }

  remove(b: Binding): void {
    if (this.byToken.get(b.token) !== b) return;
    this.byToken.delete(b.token);
    this.byContact.delete(contactKey(b.flow, b.contact));
    const fk = endpointKey(b.flow);
    const set = this.byFlow.get(fk);
    if (set?.delete(b) && set.size === 0) this.byFlow.delete(fk);
  }

  /** Forget every binding of a connection that closed: the phone is gone with it. */
  dropFlow(flow: Endpoint, now = 0): number {
    const set = this.byFlow.get(endpointKey(flow));
    if (!set) return 0;
    const bindings = [...set];
    for (const b of bindings) {
      this.remove(b);
      if (b.expiresAt > now) this.markGone(b.token, Math.min(b.expiresAt, now + GONE_MS), now);
    }
    return bindings.length;
  }

  /** Whether `t` was a phone's token whose connection closed while the registrar still had it. */
  wasGone(t: string, now: number): boolean {
    const until = this.gone.get(t);
    if (until === undefined) return false;
    if (until > now) return true;
    this.gone.delete(t);
    return false;
  }

  private markGone(t: string, until: number, now: number): void {
    if (this.gone.size >= MAX_BINDINGS) {
      for (const [k, u] of this.gone) if (u <= now) this.gone.delete(k);
      if (this.gone.size >= MAX_BINDINGS) return;
    }
    this.gone.set(t, until);
  }

  /** Forget expired bindings; pending ones (never granted) go with their connection. */
  private sweep(now: number): void {
    for (const b of [...this.byToken.values()]) {
      if (b.expiresAt !== 0 && b.expiresAt <= now) this.remove(b);
    }
  }
}

function contactKey(flow: Endpoint, contact: string): string {
  return `${endpointKey(flow)}|${contact}`;
}

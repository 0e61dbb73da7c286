// RFC 3261 §17 transaction layer (with RFC 6026): matches inbound messages to transactions
// (§17.1.3, §17.2.3), creates transactions, answers CANCEL (§9.2) and merged requests
// (§8.2.2.2) itself, and keeps the live transactions in one map per side.

import { parseNameAddr, type SipRequest, type SipResponse } from "../sip/mod.ts";
import type { Endpoint } from "../transport/types.ts";
import type { Clock, Random, Timers } from "../util/clock.ts";
import { type Metric, metrics as processMetrics } from "../util/metrics.ts";
import { clientKey, isMagicBranch, mergeKey, newBranch, randomToken, serverKey } from "./branch.ts";
import type { ClientBase } from "./client-base.ts";
import type { TxContext } from "./context.ts";
import { InviteClient } from "./invite-client.ts";
import { InviteServer } from "./invite-server.ts";
import { LingerIndex } from "./linger.ts";
import { LingerRecords, NONE, RecordKind } from "./linger-records.ts";
import { SharedEndpoints } from "./shared-endpoints.ts";
import { buildResponse } from "./messages.ts";
import { NonInviteClient } from "./non-invite-client.ts";
import { NonInviteServer } from "./non-invite-server.ts";
import type { ServerBase } from "./server-base.ts";
import type {
  ClientHandler,
  ClientTransaction,
  MessageSender,
  TransactionLayerOptions,
  TransactionUser,
} from "./types.ts";

/** Responses to a CANCEL are of no interest to anyone: §9.1 leaves the outcome to the INVITE. */
const ABSORB_CANCEL: ClientHandler = {
  onResponse() {},
  onTimeout() {},
  onTransportError() {},
};

/** The transaction layer. One per process; the transport calls it, it calls the TU. */
export class TransactionLayer implements TxContext {
  readonly t1: number;
  readonly t2: number;
  readonly t4: number;
  readonly tryingDelay: number;
  readonly timers: Timers;
  readonly sender: MessageSender;
  readonly user: TransactionUser;
  private readonly random: Random;
  /** §17.1.3: branch + CSeq method → client transaction. */
  private readonly clients = new Map<string, ClientBase>();
  /** §17.2.3: branch + sent-by + method (or the RFC 2543 tuple) → server transaction. */
  private readonly servers = new Map<string, ServerBase>();
  /**
   * §8.2.2.2 index: From tag + Call-ID + CSeq → server transaction, for requests without a To
   * tag. A second map because a merged request differs from the original by its branch, which
   * is the primary key.
   */
  private readonly merge = new Map<string, ServerBase>();
  /**
   * Finished transactions waiting out their last timer, out of the maps above: as records, most
   * (linger-records.ts), or as objects (linger.ts) when they still need the heap (a parsed
   * message to resend, a TU that asked for onTerminated).
   */
  private readonly records: LingerRecords;
  private readonly lingerClients: LingerIndex;
  private readonly lingerServers: LingerIndex;
  private readonly endpoints = new SharedEndpoints();
  private readonly clock: Clock;
  private readonly counts = {
    clientInvite: 0,
    clientNonInvite: 0,
    serverInvite: 0,
    serverNonInvite: 0,
  };
  private readonly retransmissions: Metric;

  constructor(opts: TransactionLayerOptions) {
    this.t1 = opts.t1;
    this.t2 = opts.t2;
    this.t4 = opts.t4;
    this.tryingDelay = opts.tryingDelay ?? 0;
    this.timers = opts.timers;
    this.sender = opts.sender;
    this.user = opts.user;
    this.random = opts.random;
    this.clock = opts.clock;
    const now = () => this.clock.now();
    this.lingerClients = new LingerIndex(opts.timers, now);
    this.lingerServers = new LingerIndex(opts.timers, now);
    this.records = new LingerRecords(opts.timers, now, (kind) => this.recordEnded(kind));
    const reg = opts.metrics ?? processMetrics;
    this.retransmissions = reg.counter(
      "tandem_sip_retransmissions_total",
      "SIP requests and responses retransmitted by transactions",
    );
    const active = reg.gauge("tandem_transactions_active", "Live SIP transactions");
    reg.onCollect(() => {
      const c = this.counts;
      active.set(c.clientInvite, { kind: "client_invite" });
      active.set(c.clientNonInvite, { kind: "client_non_invite" });
      active.set(c.serverInvite, { kind: "server_invite" });
      active.set(c.serverNonInvite, { kind: "server_non_invite" });
    });
  }

  /** Transaction counts, lingering ones included (for leak checks and metrics). */
  get size(): { client: number; server: number } {
    const c = this.counts;
    return {
      client: c.clientInvite + c.clientNonInvite,
      server: c.serverInvite + c.serverNonInvite,
    };
  }

  /** A client transaction by §17.1.3 key: live, else lingering. */
  private client(key: string): ClientBase | undefined {
    return this.clients.get(key) ?? (this.lingerClients.get(key) as ClientBase | undefined);
  }

  /** A server transaction by §17.2.3 key (or merge key): live, else lingering. */
  private server(key: string): ServerBase | undefined {
    return this.servers.get(key) ?? (this.lingerServers.get(key) as ServerBase | undefined);
  }

  /** A new RFC 3261 branch: `z9hG4bK` and 96 bits from the injected random. */
  newBranch(): string {
    return newBranch(this.random);
  }

  /**
   * Create and start a client transaction for `req` (top Via with a branch already in place).
   * ACK is not a transaction (§17.1.1.3): 2xx ACKs go straight to the sender.
   */
  sendRequest(req: SipRequest, dest: Endpoint, handler: ClientHandler): ClientTransaction {
    if (req.method === "ACK") {
      throw new TypeError("ACK is not sent through a client transaction; use the sender");
    }
    const branch = req.topVia?.branch;
    if (!isMagicBranch(branch)) {
      throw new TypeError(`request needs a top Via with a z9hG4bK branch, got "${branch ?? ""}"`);
    }
    const key = clientKey(branch, req.cseq.method);
    if (this.clients.has(key)) {
      throw new TypeError(`a client transaction with branch ${branch} already exists`);
    }
    let tx: ClientBase;
    if (req.method === "INVITE") {
      tx = new InviteClient(this, req, dest, handler, key);
      this.counts.clientInvite++;
    } else {
      tx = new NonInviteClient(this, req, dest, handler, key);
      this.counts.clientNonInvite++;
    }
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /**
   * A response from the transport: §17.1.3 matching, else the TU's stray handler. A malformed
   * CSeq surfaces as the parser's SipParseError.
   */
  receiveResponse(res: SipResponse, source: Endpoint): void {
    let tx: ClientBase | undefined;
    if (res.status >= 100 && res.status <= 699) {
      const branch = res.topVia?.branch;
      if (branch !== undefined) {
        const key = clientKey(branch, res.cseq.method);
        tx = this.client(key);
        if (tx === undefined) {
          const rec = this.records.find(key);
          if (rec !== NONE) return this.recordResponse(rec, res);
        }
      }
    }
    if (tx) tx.receive(res);
    else this.user.onStrayResponse(res, source);
  }

  /** A response matched a lingering client record (see the client machines' Completed, Accepted). */
  private recordResponse(rec: number, res: SipResponse): void {
    const r = this.records;
    const s = res.status;
    switch (r.kind(rec)) {
      case RecordKind.ClientInviteCompleted: // §17.1.1.2: ACK the retransmitted final again
        if (s >= 300) this.resendRecord(rec, "ACK");
        return;
      case RecordKind.ClientInviteAccepted: // RFC 6026 §7.2, the TU's ACK handed over
        if (s < 200 || s >= 300) return;
        if (res.to.tag === r.str(rec)) this.resendRecord(rec, "ACK");
        else this.user.onStrayResponse(res, r.peer(rec)!);
        return;
        // ClientNonInviteCompleted: Timer K absorbs retransmissions of the final.
    }
  }

  /** Resend what a record keeps (a final, an ACK), counted as a retransmission of `method`. */
  private resendRecord(rec: number, method: string): void {
    const data = this.records.data(rec);
    const to = this.records.to(rec);
    if (data === undefined || to === undefined || !this.sender.sendRaw) return;
    this.retransmitted(method);
    this.sender.sendRaw(data, to);
  }

  /** A request matched a lingering server record: resend the final, or absorb it. */
  private recordRequest(rec: number): void {
    if (this.records.kind(rec) === RecordKind.NonInviteCompleted) {
      this.resendRecord(rec, this.records.method(rec));
    }
    // InviteAccepted absorbs (RFC 6026 §8.7), InviteConfirmed absorbs.
  }

  /** The To tag of the final a lingering INVITE server record answered with, if any. */
  private recordToTag(rec: number): string | undefined {
    const to = this.records.str(rec);
    return to === undefined ? undefined : parseNameAddr(to, "To").tag;
  }

  /**
   * A request from the transport: §17.2.3 matching, CANCEL and merged requests, else the TU.
   * A malformed CSeq, From or To surfaces as the parser's SipParseError (the transport's 400).
   */
  receiveRequest(req: SipRequest, source: Endpoint): void {
    if (req.topVia === undefined) return; // nowhere to answer; the transport rejects these
    const method = req.method;
    if (method === "ACK") return this.receiveAck(req, source);
    if (method === "CANCEL") return this.receiveCancel(req, source);
    const key = serverKey(req, method);
    const existing = this.server(key);
    if (existing) return existing.receiveRequest(req);
    const rec = this.records.find(key);
    if (rec !== NONE) return this.recordRequest(rec);
    let mkey: string | undefined;
    if (req.to.tag === undefined) {
      mkey = mergeKey(req);
      if (
        this.merge.has(mkey) || this.records.find(mkey) !== NONE ||
        this.lingerServers.get(mkey) !== undefined
      ) {
        // §8.2.2.2: same request by another path. Answer inside a transaction (not indexed for
        // merging) so retransmissions and the ACK of the 482 are absorbed.
        const tx = this.createServer(req, source, key, undefined);
        tx.respond(buildResponse(req, 482, "Loop Detected", this.newTag()));
        return;
      }
    }
    const tx = this.createServer(req, source, key, mkey);
    if (tx.state === "Terminated") return; // the 100 Trying failed synchronously
    if (mkey !== undefined) this.merge.set(mkey, tx);
    this.user.onRequest(req, tx, source);
  }

  private createServer(
    req: SipRequest,
    source: Endpoint,
    key: string,
    mkey: string | undefined,
  ): ServerBase {
    if (req.method === "INVITE") {
      const tx = new InviteServer(this, req, source, key, mkey);
      this.servers.set(key, tx);
      this.counts.serverInvite++;
      tx.start();
      return tx;
    }
    const tx = new NonInviteServer(this, req, source, key, mkey);
    this.servers.set(key, tx);
    this.counts.serverNonInvite++;
    return tx;
  }

  /** §17.2.3: an ACK matches the INVITE transaction; otherwise it is a 2xx ACK for the TU. */
  private receiveAck(ack: SipRequest, source: Endpoint): void {
    const key = serverKey(ack, "INVITE");
    const tx = this.server(key);
    const checkToTag = !isMagicBranch(ack.topVia!.branch);
    if (tx instanceof InviteServer && tx.receiveAck(ack, checkToTag)) return;
    if (tx === undefined) {
      const rec = this.records.find(key);
      // Confirmed absorbs ACK retransmissions (unless an RFC 2543 ACK's To tag is not ours);
      // Accepted's ACK is for the 2xx and goes to the TU, as from the live machine.
      if (
        rec !== NONE && this.records.kind(rec) === RecordKind.InviteConfirmed &&
        (!checkToTag || ack.to.tag === this.recordToTag(rec))
      ) return;
    }
    this.user.onRequest(ack, undefined, source);
  }

  /** §9.2: answer a CANCEL 200 (or 481) in its own transaction and tell the INVITE's. */
  private receiveCancel(cancel: SipRequest, source: Endpoint): void {
    const key = serverKey(cancel, "CANCEL");
    const own = this.server(key);
    if (own) return own.receiveRequest(cancel);
    const ownRec = this.records.find(key);
    if (ownRec !== NONE) return this.recordRequest(ownRec);
    const inviteKey = serverKey(cancel, "INVITE");
    const invite = this.server(inviteKey);
    const tx = this.createServer(cancel, source, key, undefined);
    if (invite === undefined) {
      const rec = this.records.find(inviteKey);
      const k = rec === NONE ? 0 : this.records.kind(rec);
      if (k === RecordKind.InviteAccepted || k === RecordKind.InviteConfirmed) {
        // A final is out: the CANCEL is answered and changes nothing (§9.2).
        tx.respond(buildResponse(cancel, 200, "OK", this.recordToTag(rec) ?? this.newTag()));
        return;
      }
    }
    if (!(invite instanceof InviteServer)) {
      tx.respond(
        buildResponse(cancel, 481, "Call/Transaction Does Not Exist", this.newTag()),
      );
      return;
    }
    // §9.2: the CANCEL's To tag should be the one of the INVITE's responses.
    const toTag = invite.lastToTag ?? this.newTag();
    tx.respond(buildResponse(cancel, 200, "OK", toTag));
    if (invite.state === "Proceeding") invite.cancelled(cancel, toTag);
  }

  // TxContext, used by the transactions.

  /** @internal */
  now(): number {
    return this.clock.now();
  }

  /** @internal */
  removeClient(tx: ClientBase): void {
    if (tx.lingerRec !== NONE) {
      const kind = this.records.end(tx.lingerRec);
      tx.lingerRec = NONE;
      if (kind === 0) return; // its record had already ended
    } else if (!this.lingerClients.delete(tx)) {
      if (this.clients.get(tx.key) !== tx) return;
      this.clients.delete(tx.key);
    }
    if (tx instanceof InviteClient) this.counts.clientInvite--;
    else this.counts.clientNonInvite--;
  }

  /** @internal */
  removeServer(tx: ServerBase): void {
    if (tx.lingerRec !== NONE) {
      const kind = this.records.end(tx.lingerRec);
      tx.lingerRec = NONE;
      if (kind === 0) return;
    } else if (!this.lingerServers.delete(tx)) {
      if (this.servers.get(tx.key) !== tx) return;
      this.servers.delete(tx.key);
      const mkey = tx.mergeKey;
      if (mkey !== undefined && this.merge.get(mkey) === tx) this.merge.delete(mkey);
    }
    if (tx instanceof InviteServer) this.counts.serverInvite--;
    else this.counts.serverNonInvite--;
  }

  /** @internal */
  lingerClient(tx: ClientBase, ms: number): void {
    if (tx.lingerGen !== undefined) return;
    if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
    this.lingerClients.add(tx, ms);
  }

  /** @internal */
  lingerServer(tx: ServerBase, ms: number, until?: number): void {
    if (tx.lingerGen !== undefined) return;
    this.lingerServers.add(tx, ms, until, this.unlistServer(tx));
  }

  /**
   * Take a server transaction that starts to linger out of the live maps. Its merge key when it
   * was indexed by it: it is still found by it while it lingers, as when it was live.
   */
  private unlistServer(tx: ServerBase): string | undefined {
    if (this.servers.get(tx.key) === tx) this.servers.delete(tx.key);
    const mkey = tx.mergeKey;
    if (mkey === undefined || this.merge.get(mkey) !== tx) return undefined;
    this.merge.delete(mkey);
    return mkey;
  }

  /** @internal */
  recordServer(
    tx: ServerBase,
    kind: number,
    ms: number,
    until: number | undefined,
    str: string | undefined,
    data: Uint8Array | undefined,
    to: Endpoint | undefined,
  ): number {
    const mkey = this.unlistServer(tx);
    return this.records.add(kind, tx.method, ms, until, tx.key, mkey, str, data, to, tx.source);
  }

  /** @internal */
  recordClient(
    tx: ClientBase,
    kind: number,
    ms: number,
    until: number | undefined,
    str: string | undefined,
    data: Uint8Array | undefined,
    to: Endpoint | undefined,
  ): number {
    if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
    return this.records.add(kind, tx.method, ms, until, tx.key, undefined, str, data, to, tx.dest);
  }

  /** @internal */
  recordKind(rec: number): number {
    return this.records.kind(rec);
  }

  /** A record's last timer ran out: one transaction fewer. */
  private recordEnded(kind: number): void {
    const c = this.counts;
    switch (kind) {
      case RecordKind.InviteAccepted:
      case RecordKind.InviteConfirmed:
        c.serverInvite--;
        return;
      case RecordKind.NonInviteCompleted:
        c.serverNonInvite--;
        return;
      case RecordKind.ClientNonInviteCompleted:
        c.clientNonInvite--;
        return;
      default:
        c.clientInvite--;
    }
  }

  /** @internal */
  retransmitted(method: string): void {
    this.retransmissions.inc({ method });
  }

  /** @internal */
  sendCancel(cancel: SipRequest, dest: Endpoint): void {
    this.sendRequest(cancel, dest, ABSORB_CANCEL);
  }

  /** @internal */
  sharedEndpoint(ep: Endpoint): Endpoint {
    return this.endpoints.of(ep);
  }

  /** @internal */
  newTag(): string {
    return randomToken(this.random, 2);
  }
}

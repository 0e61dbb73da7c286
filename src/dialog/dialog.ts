// RFC 3261 §12 dialogs: identity, route set, remote target, CSeq spaces, and the construction of
// requests within a dialog (§12.2.1.1). Both UAC-side (§12.1.2) and UAS-side (§12.1.1) creation.

import {
  asRequestUri,
  detach,
  detachAll,
  type Header,
  headerList,
  NameAddr,
  parseNameAddr,
  parseUri,
  type SipRequest,
  SipRequest as Req,
  type SipResponse,
  type Uri,
} from "../sip/mod.ts";

/** Named dialog states (§12: early on 1xx with a To tag, confirmed on 2xx). */
export type DialogState = "Early" | "Confirmed" | "Terminated";

/** Which side of the dialog we are. */
export type DialogRole = "uac" | "uas";

/** Why an in-dialog request was refused by the dialog (§12.2.2). */
export class DialogRequestError extends Error {
  override name = "DialogRequestError";
  constructor(public readonly status: number, message: string) {
    super(message);
  }
}

/** A dialog as one leg of a call sees it. */
export class Dialog {
  state: DialogState = "Early";
  /** Our next CSeq number for requests we originate (the last one used). */
  localSeq: number;
  /** Highest CSeq number seen from the peer (-1 until the first request). */
  remoteSeq: number;

  constructor(
    public readonly role: DialogRole,
    public readonly callId: string,
    public readonly localTag: string,
    public remoteTag: string,
    /** Our identity: the From of our requests without its tag, as header text. */
    public readonly localUri: string,
    /** Peer identity: the To of our requests without its tag, as header text. */
    public readonly remoteUri: string,
    /** The peer's Contact: Request-URI of our in-dialog requests. */
    public remoteTarget: Uri,
    /** Route set, in the order our requests carry it. */
    public routeSet: NameAddr[],
    localSeq: number,
    remoteSeq: number,
  ) {
    this.localSeq = localSeq;
    this.remoteSeq = remoteSeq;
  }

  /** Dialog id key for tables: Call-ID, local tag, remote tag. */
  get id(): string {
    return dialogKey(this.callId, this.localTag);
  }

  /**
   * §12.1.2: the dialog a UAC creates from a 1xx (with To tag) or 2xx to its INVITE. The route
   * set is the Record-Route of the response, reversed; the remote target its Contact.
   */
  static asUac(invite: SipRequest, res: SipResponse, mine?: OwnSide): Dialog {
    const target = res.contacts[0]?.uri ?? invite.ruri;
    const routes = res.recordRoutes.slice().reverse();
    // With `mine`, our side is already text of our own: only what the response brought is copied.
    const o = mine
      ? Owned.of("", res.to.tag ?? "", undefined, undefined, target, routes)
      : Owned.of(
        invite.callId,
        res.to.tag ?? "",
        invite.from,
        invite.to,
        target,
        routes,
        invite.from.tag ?? "",
      );
    const d = new Dialog(
      "uac",
      mine?.callId ?? o.callId,
      mine?.localTag ?? o.localTag!,
      o.remoteTag,
      mine?.localUri ?? o.local,
      mine?.remoteUri ?? o.remote,
      o.target,
      o.routes,
      invite.cseq.seq,
      -1,
    );
    if (res.status >= 200) d.state = "Confirmed";
    return d;
  }

  /**
   * §12.1.1: the dialog a UAS creates when it answers an INVITE with a 1xx/2xx carrying `localTag`.
   * The route set is the request's Record-Route in order; the remote target its Contact.
   */
  static asUas(invite: SipRequest, localTag: string, localSeq: number): Dialog {
    const o = Owned.of(
      invite.callId,
      invite.from.tag ?? "",
      invite.to,
      invite.from,
      invite.contacts[0]?.uri ?? invite.from.uri,
      invite.recordRoutes,
    );
    return new Dialog(
      "uas",
      o.callId,
      localTag,
      o.remoteTag,
      o.local,
      o.remote,
      o.target,
      o.routes,
      localSeq,
      invite.cseq.seq,
    );
  }

  /** §12.2.1.2: a 2xx (or 1xx) to our request refreshes the target and, for early, the route set. */
  updateFromResponse(res: SipResponse, isInvite: boolean): void {
    if (res.status >= 200 && res.status < 300 && this.state === "Early" && isInvite) {
      this.state = "Confirmed";
      // §12.1.2: the route set is fixed by the 2xx that confirms the dialog.
      if (this.role === "uac") this.routeSet = ownRoutes(res.recordRoutes.slice().reverse());
      if (res.to.tag) this.remoteTag = detach(res.to.tag);
    }
    const c = res.contacts[0];
    if (c && (isInvite || res.cseq.method === "UPDATE")) this.remoteTarget = own(c.uri);
  }

  /**
   * §12.2.2: check an in-dialog request's CSeq and apply a target refresh. Throws
   * DialogRequestError(500) for an out-of-order CSeq.
   */
  receiveRequest(req: SipRequest): void {
    const seq = req.cseq.seq;
    if (req.method !== "ACK" && req.method !== "CANCEL") {
      if (this.remoteSeq >= 0 && seq <= this.remoteSeq) {
        throw new DialogRequestError(500, `CSeq ${seq} not above ${this.remoteSeq}`);
      }
      this.remoteSeq = seq;
    }
    if (req.method === "INVITE" || req.method === "UPDATE") {
      const c = req.contacts[0];
      if (c) this.remoteTarget = own(c.uri);
    }
  }

  /**
   * §12.2.1.1: a request within this dialog. `seq` overrides the CSeq number (ACK reuses the
   * INVITE's); otherwise the local CSeq is incremented. The caller adds Via, Contact and body.
   */
  createRequest(method: string, extra: Header[] = [], seq?: number): SipRequest {
    const cseq = seq ?? ++this.localSeq;
    const from = `${this.localUri};tag=${this.localTag}`;
    const to = this.remoteTag ? `${this.remoteUri};tag=${this.remoteTag}` : this.remoteUri;
    let ruri = this.remoteTarget;
    const routes = this.routeSet.map((r) => r.toString());
    if (this.routeSet.length && !this.routeSet[0].uri.params.has("lr")) {
      // §12.2.1.1 strict routing: the first route becomes the Request-URI, the target goes last.
      ruri = asRequestUri(this.routeSet[0].uri);
      routes.shift();
      routes.push(`<${this.remoteTarget}>`);
    }
    const pairs: [string, string][] = [];
    for (const r of routes) pairs.push(["Route", r]);
    pairs.push(
      ["From", from],
      ["To", to],
      ["Call-ID", this.callId],
      ["CSeq", `${cseq} ${method}`],
      ["Max-Forwards", "70"],
    );
    const req = new Req(method, ruri.toString(), headerList(pairs));
    for (const h of extra) req.headers.push(h);
    return req;
  }

  /** Where requests of this dialog go first: the first Route's URI, else the remote target. */
  get nextHop(): Uri {
    return this.routeSet.length ? this.routeSet[0].uri : this.remoteTarget;
  }
}

/**
 * A UAC's side of a dialog as it built its INVITE: strings of its own (made, not sliced from a
 * received message), so a dialog can keep them without a copy.
 */
export interface OwnSide {
  callId: string;
  localTag: string;
  /** Our From without its tag, as header text. */
  localUri: string;
  /** Our To, as header text. */
  remoteUri: string;
}

/** Dialog table key from Call-ID and our tag (our tags are unique, the remote one is implied). */
export function dialogKey(callId: string, localTag: string): string {
  return `${callId}\u0000${localTag}`;
}

// A dialog lives as long as its call. Parsed values are substrings of the message they came
// from and would keep its whole text alive, so the dialog re-parses detached copies.

/** A name-addr without its tag, as header text (dialogs keep text, not objects). */
function untagged(na: NameAddr): string {
  const c = na.clone();
  c.tag = undefined;
  return c.toString();
}

/**
 * What a new dialog keeps of the messages that made it, as copies of its own: the values go
 * through one detachAll() together, and the target and routes are parsed again from the copies.
 * `localTag` is copied when it comes from a received message (a UAC's, from its INVITE); a UAS
 * made its own and passes none.
 */
class Owned {
  private constructor(
    readonly callId: string,
    readonly remoteTag: string,
    readonly local: string,
    readonly remote: string,
    readonly target: Uri,
    readonly routes: NameAddr[],
    readonly localTag: string | undefined,
  ) {}

  /** `local` and `remote` undefined: the caller has its own (then callId is not copied either). */
  static of(
    callId: string,
    remoteTag: string,
    local: NameAddr | undefined,
    remote: NameAddr | undefined,
    target: Uri,
    routes: NameAddr[],
    localTag?: string,
  ): Owned {
    const values = [
      callId,
      remoteTag,
      local ? untagged(local) : "",
      remote ? untagged(remote) : "",
      asRequestUri(target).toString(),
    ];
    for (const r of routes) values.push(r.toString());
    if (localTag !== undefined) values.push(localTag);
    const v = detachAll(values);
    const own = new Array<NameAddr>(routes.length);
    for (let i = 0; i < own.length; i++) own[i] = parseNameAddr(v[5 + i], "Route");
    const tag = localTag === undefined ? undefined : v[5 + routes.length];
    return new Owned(v[0], v[1], v[2], v[3], parseUri(v[4], "dialog"), own, tag);
  }
}

/** The remote target, owned, as a Request-URI. */
function own(u: Uri): Uri {
  return parseUri(detach(asRequestUri(u).toString()), "dialog");
}

function ownRoutes(routes: NameAddr[]): NameAddr[] {
  return routes.map((r) => parseNameAddr(detach(r.toString()), "Route"));
}

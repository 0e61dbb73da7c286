// RFC 3261 §12 dialogs: creation on both sides, route sets, target refresh, CSeq rules.

import assert from "node:assert/strict";
import { Dialog, DialogRequestError } from "../../src/dialog/mod.ts";
import { parseMessage, serialize, SipRequest, type SipResponse } from "../../src/sip/mod.ts";

function msg(text: string) {
  return parseMessage(new TextEncoder().encode(text.replace(/\n/g, "\r\n")));
}

const INVITE = `INVITE sip:bob@b.example SIP/2.0
Via: SIP/2.0/UDP a.example;branch=z9hG4bK1
Max-Forwards: 70
From: "A" <sip:alice@a.example>;tag=ft
To: <sip:bob@b.example>
Call-ID: c1
CSeq: 10 INVITE
Contact: <sip:alice@10.0.0.1:5070>
Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>
Content-Length: 0

`;

const OK = `SIP/2.0 200 OK
Via: SIP/2.0/UDP a.example;branch=z9hG4bK1
From: "A" <sip:alice@a.example>;tag=ft
To: <sip:bob@b.example>;tag=tt
Call-ID: c1
CSeq: 10 INVITE
Contact: <sip:bob@10.0.0.2:5090>
Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>
Content-Length: 0

`;

Deno.test("§12.1.2 UAC dialog: route set is the 2xx Record-Route reversed, target its Contact", () => {
  const d = Dialog.asUac(msg(INVITE) as SipRequest, msg(OK) as SipResponse);
  assert.equal(d.state, "Confirmed");
  assert.equal(d.localTag, "ft");
  assert.equal(d.remoteTag, "tt");
  assert.deepEqual(d.routeSet.map((r) => r.uri.host), ["p1.example", "p2.example"]);
  assert.equal(d.remoteTarget.toString(), "sip:bob@10.0.0.2:5090");
  const bye = d.createRequest("BYE");
  assert.equal(bye.uri, "sip:bob@10.0.0.2:5090");
  assert.equal(bye.cseq.seq, 11, "§12.2.1.1 local CSeq incremented");
  assert.equal(bye.from.tag, "ft");
  assert.equal(bye.to.tag, "tt");
  assert.deepEqual(bye.routes.map((r) => r.uri.host), ["p1.example", "p2.example"]);
  assert.equal(d.createRequest("ACK", [], 10).cseq.seq, 10, "ACK reuses the INVITE's number");
});

Deno.test("§19.1.1: a Contact's URI headers and method parameter stay out of the Request-URI", () => {
  const ok = OK.replace(
    "Contact: <sip:bob@10.0.0.2:5090>",
    "Contact: <sip:bob@10.0.0.2:5090;method=INVITE;transport=udp?Subject=x&Priority=urgent>",
  );
  const d = Dialog.asUac(msg(INVITE) as SipRequest, msg(ok) as SipResponse);
  const bye = d.createRequest("BYE");
  assert.equal(bye.uri, "sip:bob@10.0.0.2:5090;transport=udp");
  // What goes out must parse again (a Request-URI with ?headers does not).
  bye.prepend("Via", "SIP/2.0/UDP a.example;branch=z9hG4bK2");
  assert.equal((parseMessage(serialize(bye)) as SipRequest).uri, bye.uri);
  const uas = Dialog.asUas(
    msg(INVITE.replace("<sip:alice@10.0.0.1:5070>", "<sip:alice@10.0.0.1:5070?X=1>")) as SipRequest,
    "lt",
    1,
  );
  assert.equal(uas.createRequest("BYE").uri, "sip:alice@10.0.0.1:5070");
  // §12.2.1.1: a strict router's URI becomes the Request-URI, stripped the same way.
  const strict = Dialog.asUac(
    msg(INVITE) as SipRequest,
    msg(OK.replace(/Record-Route: .*\n/, "Record-Route: <sip:p9.example?X=1>\n")) as SipResponse,
  );
  assert.equal(strict.createRequest("BYE").uri, "sip:p9.example");
});

Deno.test("§12.1.1 UAS dialog: route set is the request's Record-Route in order", () => {
  const d = Dialog.asUas(msg(INVITE) as SipRequest, "lt", 1);
  assert.equal(d.state, "Early");
  assert.equal(d.remoteTag, "ft");
  assert.deepEqual(d.routeSet.map((r) => r.uri.host), ["p1.example", "p2.example"]);
  assert.equal(d.remoteTarget.toString(), "sip:alice@10.0.0.1:5070");
  const bye = d.createRequest("BYE");
  assert.equal(bye.from.tag, "lt");
  assert.equal(bye.to.tag, "ft");
  assert.equal(bye.to.uri.user, "alice");
});

Deno.test("§12.2.1.1 strict routing: the first route becomes the Request-URI, the target goes last", () => {
  const d = Dialog.asUac(
    msg(INVITE) as SipRequest,
    msg(
      OK.replace(
        "Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>",
        "Record-Route: <sip:strict.example>",
      ),
    ) as SipResponse,
  );
  const r = d.createRequest("INFO");
  assert.equal(r.uri, "sip:strict.example");
  assert.deepEqual(r.getAll("route"), ["<sip:bob@10.0.0.2:5090>"]);
});

Deno.test("§12.2.2 CSeq: a lower or equal number is refused with 500; re-INVITE refreshes the target", () => {
  const d = Dialog.asUas(msg(INVITE) as SipRequest, "lt", 1);
  const inDialog = (method: string, seq: number, contact = "") =>
    msg(`${method} sip:x@10.0.0.9 SIP/2.0
Via: SIP/2.0/UDP a.example;branch=z9hG4bK${method}${seq}
From: <sip:alice@a.example>;tag=ft
To: <sip:bob@b.example>;tag=lt
Call-ID: c1
CSeq: ${seq} ${method}
${contact}Content-Length: 0

`) as SipRequest;
  d.receiveRequest(inDialog("INFO", 11));
  assert.throws(
    () => d.receiveRequest(inDialog("INFO", 11)),
    (e) => e instanceof DialogRequestError && e.status === 500,
  );
  assert.throws(() => d.receiveRequest(inDialog("INFO", 5)), DialogRequestError);
  d.receiveRequest(inDialog("INVITE", 12, "Contact: <sip:alice@10.9.9.9:6000>\n"));
  assert.equal(d.remoteTarget.toString(), "sip:alice@10.9.9.9:6000");
  d.receiveRequest(inDialog("ACK", 12));
  assert.equal(d.remoteSeq, 12, "ACK does not move the CSeq space");
});

Deno.test("§12.1.2 early dialog from a 1xx is confirmed by the 2xx, whose tag and routes win", () => {
  const inv = msg(INVITE) as SipRequest;
  const ringing = msg(
    OK.replace("200 OK", "180 Ringing").replace("tag=tt", "tag=early"),
  ) as SipResponse;
  const d = Dialog.asUac(inv, ringing);
  assert.equal(d.state, "Early");
  d.updateFromResponse(msg(OK) as SipResponse, true);
  assert.equal(d.state, "Confirmed");
  assert.equal(d.remoteTag, "tt");
});

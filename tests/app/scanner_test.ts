// Which requests limits.drop_user_agents drops: by a fragment of the User-Agent, any case.

import assert from "node:assert/strict";
import { fromScanner } from "../../src/app/server.ts";
import { parseMessage, type SipRequest } from "../../src/sip/mod.ts";

function options(ua?: string): SipRequest {
  const text = "OPTIONS sip:100@127.0.0.1 SIP/2.0\r\n" +
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r\n" +
    "From: <sip:100@1.1.1.1>;tag=1\r\nTo: <sip:100@1.1.1.1>\r\nCall-ID: c1\r\n" +
    "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n" + (ua === undefined ? "" : `User-Agent: ${ua}\r\n`) +
    "Content-Length: 0\r\n\r\n";
  return parseMessage(new TextEncoder().encode(text)) as SipRequest;
}

Deno.test("scanner: a User-Agent holding a listed fragment, in any case, is a scanner's", () => {
  const list = ["friendly-scanner", "sipvicious", "sipcli"];
  assert.equal(fromScanner(options("friendly-scanner"), list), true);
  assert.equal(fromScanner(options("SIPVicious 0.3.3"), list), true);
  assert.equal(fromScanner(options("sipcli/v1.8"), list), true);
  assert.equal(fromScanner(options("Linphone/5.2 (belle-sip/5.2)"), list), false);
  assert.equal(fromScanner(options(), list), false, "no User-Agent: not judged by it");
  assert.equal(fromScanner(options("friendly-scanner"), []), false);
});

// SDP helpers: codec mask (RFC 8866 §6.6 rtpmap/fmtp, RFC 4585 rtcp-fb), ICE strip (RFC 8839),
// endpoint rewrite for rtpproxy.
import assert from "node:assert/strict";
import { filterCodecs, mediaEndpoints, rewriteEndpoints, stripIce } from "../../src/media/sdp.ts";

const offer = [
  "v=0",
  "o=- 1 1 IN IP4 192.0.2.1",
  "s=-",
  "c=IN IP4 192.0.2.1",
  "t=0 0",
  "a=ice-ufrag:abcd",
  "m=audio 40000 RTP/AVP 0 8 18 101",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:18 G729/8000",
  "a=fmtp:18 annexb=no",
  "a=rtpmap:101 telephone-event/8000",
  "a=fmtp:101 0-15",
  "a=rtcp-fb:18 nack",
  "a=candidate:1 1 UDP 2130706431 192.0.2.1 40000 typ host",
  "a=rtcp:40001",
  "a=sendrecv",
  "m=video 0 RTP/AVP 31",
  "m=image 40010 udptl t38",
  "c=IN IP6 2001:db8::1",
  "",
].join("\r\n");

Deno.test("sdp: codec mask by name keeps PCMU/PCMA (static PT without rtpmap) and drops G729 lines", () => {
  const out = filterCodecs(offer, ["pcmu", "PCMA", "telephone-event"]);
  assert.match(out, /^m=audio 40000 RTP\/AVP 0 8 101\r$/m);
  assert.doesNotMatch(out, /G729|annexb|rtcp-fb:18/);
  assert.match(out, /a=fmtp:101 0-15/);
  assert.match(out, /m=image 40010 udptl t38/, "non-RTP m= lines untouched");
  assert.ok(out.endsWith("\r\n"));
});

Deno.test("sdp: codec mask by payload number; an empty mask allows everything", () => {
  assert.match(filterCodecs(offer, ["8"]), /^m=audio 40000 RTP\/AVP 8\r$/m);
  assert.equal(filterCodecs(offer, []), offer);
});

Deno.test("sdp: a stream with no allowed codec is rejected with port 0 (RFC 3264 §6)", () => {
  const out = filterCodecs(offer, ["G722"]);
  assert.match(out, /^m=audio 0 RTP\/AVP 0\r$/m);
  assert.match(out, /^m=video 0 RTP\/AVP 31\r$/m);
});

Deno.test("sdp: stripIce removes candidates and credentials at both levels", () => {
  const out = stripIce(offer);
  assert.doesNotMatch(out, /ice-ufrag|candidate/);
  assert.match(out, /a=sendrecv/);
});

Deno.test("sdp: endpoints and rewrite towards a relay", () => {
  assert.deepEqual(mediaEndpoints(offer).map((e) => [e.index, e.port, e.address, e.family]), [
    [1, 40000, "192.0.2.1", "IP4"],
    [2, 0, "192.0.2.1", "IP4"],
    [3, 40010, "2001:db8::1", "IP6"],
  ]);
  const out = rewriteEndpoints(offer, "203.0.113.5", "IP4", [30000, 30002, 30004]);
  assert.deepEqual(mediaEndpoints(out).map((e) => [e.port, e.address]), [
    [30000, "203.0.113.5"],
    [0, "203.0.113.5"],
    [30004, "203.0.113.5"],
  ]);
  assert.doesNotMatch(out, /a=rtcp:/);
  assert.match(out, /^o=- 1 1 IN IP4 192.0.2.1\r$/m, "origin untouched");
});

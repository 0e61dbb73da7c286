// SIP over WebSocket in the configuration (RFC 7118): ws and wss listeners with their RFC 6455
// default ports, one TCP-based transport per port, wss needing sip.tls, and ws routes.

import assert from "node:assert/strict";
import { errorsOf, load } from "./with-certs.ts";

const TLS = "  tls: { cert: server.pem, key: server-key.pem, ca: ca.pem }\n";

Deno.test("sip.listen: ws alone listens on 80, wss alone on 443, or on the port given", () => {
  const cfg = load(
    "sip:\n  listen:\n    - { address: 127.0.0.1, transports: [udp, tcp] }\n" +
      "    - { address: 127.0.0.1, transports: [ws] }\n" +
      "    - { address: 127.0.0.1, transports: [WSS] }\n" +
      "    - { address: 127.0.0.1, port: 8088, transports: [ws] }\n" + TLS,
  );
  assert.deepEqual(cfg.sip.listen.map((l) => [l.transports.join(","), l.port]), [
    ["udp,tcp", 5060],
    ["ws", 80],
    ["wss", 443],
    ["ws", 8088],
  ]);
});

Deno.test("sip.websocket.origins: web origins, nothing else", () => {
  const cfg = load(
    'sip:\n  websocket:\n    origins: ["https://app.example.com/", "http://127.0.0.1:8000"]\n',
  );
  assert.deepEqual(cfg.sip.wsOrigins, ["https://app.example.com", "http://127.0.0.1:8000"]);
  assert.deepEqual(load("sip: {}\n").sip.wsOrigins, []);
  assert.deepEqual(
    errorsOf(
      'sip:\n  websocket:\n    origins: ["https://app.example.com/phone", "wss://x.example", "x"]\n',
    ),
    [
      'F:3: sip.websocket.origins[0]: expected a web origin like "https://app.example.com", got ' +
      '"https://app.example.com/phone"',
      'F:3: sip.websocket.origins[1]: expected a web origin like "https://app.example.com", got ' +
      '"wss://x.example"',
      'F:3: sip.websocket.origins[2]: expected a web origin like "https://app.example.com", got "x"',
    ],
  );
});

Deno.test("sip.listen: tcp, tls, ws and wss cannot share a TCP port", () => {
  assert.deepEqual(
    errorsOf(
      "sip:\n  listen:\n    - { address: 127.0.0.1, port: 5060, transports: [udp, tcp, ws] }\n",
    ),
    [
      "F:3: sip.listen[0]: expected each TCP port once (tcp, tls, ws and wss need a port each), " +
      "got ws 127.0.0.1:5060 again",
    ],
  );
  assert.deepEqual(
    errorsOf(
      "sip:\n  listen:\n    - { address: 127.0.0.1, port: 8443, transports: [tls] }\n" +
        "    - { address: 127.0.0.1, port: 8443, transports: [wss] }\n" + TLS,
    ),
    [
      "F:4: sip.listen[1]: expected each TCP port once (tcp, tls, ws and wss need a port each), " +
      "got wss 127.0.0.1:8443 again",
    ],
  );
});

Deno.test("sip.tls: a wss listener or route needs it", () => {
  assert.deepEqual(
    errorsOf(
      "sip:\n  listen: [{ address: 127.0.0.1, port: 8443, transports: [wss] }]\n" +
        'rules:\n  - routes:\n      - { uri: "sips:192.0.2.9;transport=ws" }\n',
    ),
    [
      "F:2: sip.listen[0].transports: expected a sip.tls section with cert and key for " +
      "transport tls or wss, got wss",
      "F:5: rules[0].routes[0]: expected a sip.tls section with cert and key for transport " +
      "tls or wss, got none",
    ],
  );
});

Deno.test("routes: transport ws and wss, and RFC 7118 URIs (sips with transport=ws is wss)", () => {
  const cfg = load(
    "sip:\n" + TLS + "rules:\n  - routes:\n" +
      '      - { uri: "sip:192.0.2.1;transport=ws" }\n' +
      '      - { uri: "sips:192.0.2.2;transport=ws", tls_server_name: ws.example.net }\n' +
      '      - { host: 192.0.2.3, port: 8080, transport: WS, ws_path: "/ws?x=1" }\n' +
      "      - { target: 192.0.2.4, transport: wss }\n",
  );
  assert.deepEqual(
    cfg.rules[0].routes.map((r) => [r.host, r.port, r.transport, r.tlsServerName, r.wsPath]),
    [
      ["192.0.2.1", 80, "ws", undefined, undefined],
      ["192.0.2.2", 443, "wss", "ws.example.net", undefined],
      ["192.0.2.3", 8080, "ws", undefined, "/ws?x=1"],
      ["192.0.2.4", 443, "wss", undefined, undefined],
    ],
  );
  assert.match(
    errorsOf(
      "rules:\n  - routes:\n      - { host: 192.0.2.1, transport: ws, tls_server_name: a.example }\n",
    )[0],
    /tls_server_name: expected a route with transport tls or wss/,
  );
  assert.deepEqual(
    errorsOf(
      "rules:\n  - routes:\n      - { host: 192.0.2.1, transport: udp, ws_path: /ws }\n" +
        "      - { host: 192.0.2.1, transport: ws, ws_path: ws }\n",
    ),
    [
      "F:3: rules[0].routes[0].ws_path: expected a route with transport ws or wss, got " +
      "transport udp",
      'F:4: rules[0].routes[1].ws_path: expected an absolute path like "/ws", got "ws"',
    ],
  );
});

// The SIP methods Tandem knows by name (RFC 3261 and its extensions it meets).

/**
 * Each known method as its one constant string: the parser hands these out instead of a copy per
 * message, and metrics label by them (anything else is "other", so labels stay bounded).
 */
export const KNOWN_METHODS: ReadonlyMap<string, string> = new Map(
  [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "UPDATE",
    "INFO",
    "REFER",
    "NOTIFY",
    "SUBSCRIBE",
    "MESSAGE",
    "PUBLISH",
  ].map((m) => [m, m]),
);

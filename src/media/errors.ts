// Media relay failures (rtpengine ng protocol, rtpproxy command protocol): one class per family,
// each saying which relay, which command and what came back.

/** A relay answered with an error, or its reply could not be understood. */
export class RelayError extends Error {
  override name = "RelayError";
  constructor(
    /** The relay, as "address:port" or a socket path. */
    public readonly relay: string,
    /** The command sent (ng "offer", rtpproxy "U"...). */
    public readonly command: string,
    message: string,
  ) {
    super(`${relay} ${command}: ${message}`);
  }
}

/** No reply from a relay after every retry. */
export class RelayTimeoutError extends RelayError {
  override name = "RelayTimeoutError";
  constructor(relay: string, command: string, public readonly attempts: number, timeoutMs: number) {
    super(relay, command, `no reply after ${attempts} attempt(s) of ${timeoutMs} ms`);
  }
}

/**
 * No relay could handle the request and the policy is `onFailure: reject`: the B2BUA answers the
 * INVITE with 503.
 */
export class RelayUnavailableError extends Error {
  override name = "RelayUnavailableError";
  constructor(message: string, public override readonly cause?: Error) {
    super(message);
  }
}

/** Malformed bencode: what was expected at which byte offset. */
export class BencodeError extends Error {
  override name = "BencodeError";
  constructor(public readonly offset: number, expected: string, got: string) {
    super(`bencode: expected ${expected} at offset ${offset}, got ${got}`);
  }
}

// RFC 2865 §2.4 / RFC 5080 §2.2.1: failures of a RADIUS exchange, one class per family.

/** No server answered within timeout × (retries + 1), on every server tried. */
export class RadiusTimeoutError extends Error {
  override name = "RadiusTimeoutError";
  constructor(
    /** "auth" or "acct". */
    public readonly kind: "auth" | "acct",
    /** Servers tried, as "address:port". */
    public readonly servers: string[],
  ) {
    super(
      `RADIUS ${kind} request timed out on ${servers.join(", ") || "no server"}; ` +
        "check that the server runs, the port and the shared secret",
    );
  }
}

/** A packet could not be encoded or a reply could not be decoded. */
export class RadiusProtocolError extends Error {
  override name = "RadiusProtocolError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The client was used after close(). */
export class RadiusClosedError extends Error {
  override name = "RadiusClosedError";
  constructor() {
    super("RADIUS client is closed; create a new RadiusClient");
  }
}

/** An HTTP or file sink could not take a batch (the pipeline retries it). */
export class AccountingRejectedError extends Error {
  override name = "AccountingRejectedError";
  constructor(message: string) {
    super(message);
  }
}

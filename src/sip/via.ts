// RFC 3261 §20.42 Via, with RFC 3581 rport and §18.2.1 received.

import { SipParseError } from "./errors.ts";
import { Params } from "./params.ts";
import { parseParams } from "./uri.ts";

/** One Via value. `host` keeps IPv6 brackets as received. */
export class Via {
  constructor(
    public transport: string,
    public host: string,
    public port: number | undefined = undefined,
    public params: Params = new Params(),
    public protocol = "SIP/2.0",
  ) {}
  get branch(): string | undefined {
    const b = this.params.get("branch");
    return typeof b === "string" ? b : undefined;
  }
  get received(): string | undefined {
    const r = this.params.get("received");
    return typeof r === "string" ? r : undefined;
  }
  /** rport: undefined when absent, null when present without a value, else the number. */
  get rport(): number | null | undefined {
    const r = this.params.get("rport");
    if (r === undefined) return undefined;
    return r === null || r === "" ? null : Number(r);
  }
  /** "host:port" as a transaction key component (lowercased). */
  get sentBy(): string {
    return `${this.host.toLowerCase()}:${this.port ?? ""}`;
  }
  clone(): Via {
    return new Via(this.transport, this.host, this.port, this.params.clone(), this.protocol);
  }
  toString(): string {
    return `${this.protocol}/${this.transport} ${this.host}${
      this.port !== undefined ? ":" + this.port : ""
    }${this.params}`;
  }
}

/** Parse one Via value ("SIP/2.0/UDP host:port;branch=..."); split lists first. */
export function parseVia(text: string): Via {
  const m =
    /^\s*([^\s/]+)\s*\/\s*([^\s/]+)\s*\/\s*([^\s/;]+)\s+(\[[^\]]*\]|[^\s:;]+)\s*(?::\s*([0-9]+))?\s*(.*)$/s
      .exec(text);
  if (!m) throw new SipParseError("Via", `malformed Via "${text.slice(0, 60)}"`);
  const [, name, version, transport, host, port, rest] = m;
  const protocol = `${name}/${version}`;
  if (port !== undefined && (port.length > 5 || Number(port) > 65535)) {
    throw new SipParseError("Via", `bad port ${port}`);
  }
  const params = parseParams(rest.replace(/\s*;\s*/g, ";").replace(/\s*=\s*/g, "=").trim(), "Via");
  return new Via(
    transport.toUpperCase(),
    host,
    port === undefined ? undefined : Number(port),
    params,
    protocol.toUpperCase(),
  );
}

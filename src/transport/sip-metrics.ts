// RFC 3261 §18 observability: per-message counters for the transport layer. The hot path bumps a
// number in a cell found by two Map lookups; label objects are built once per cell and handed to
// the registry only at scrape time, so no label string is built per message.

import { KNOWN_METHODS } from "../sip/methods.ts";
import { type Metric, metrics } from "../util/metrics.ts";
import type { Protocol } from "./types.ts";

/** One labelled counter value. */
export interface Cell {
  n: number;
}

const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];

/** Counter cells of one metric family, published into the registry on scrape. */
class CellSet {
  private readonly cells: { labels: Record<string, string>; cell: Cell }[] = [];
  constructor(private readonly metric: Metric) {
    metrics.onCollect(() => {
      for (const c of this.cells) this.metric.set(c.cell.n, c.labels);
    });
  }
  make(labels: Record<string, string>): Cell {
    const cell = { n: 0 };
    this.cells.push({ labels, cell });
    return cell;
  }
}

const inSet = new CellSet(
  metrics.counter("tandem_sip_messages_in_total", "SIP messages received, by method or class."),
);
const outSet = new CellSet(
  metrics.counter("tandem_sip_messages_out_total", "SIP messages sent, by method or class."),
);
const parseSet = new CellSet(
  metrics.counter("tandem_sip_parse_errors_total", "Inbound messages that failed to parse."),
);
const dropSet = new CellSet(
  metrics.counter("tandem_sip_dropped_total", "Inbound messages dropped, by reason."),
);
const fwdSet = new CellSet(
  metrics.counter(
    "tandem_sip_forwarded_total",
    "Datagrams passed between SIP workers to the one owning their Call-ID.",
  ),
);
const errSet = new CellSet(
  metrics.counter("tandem_transport_errors_total", "Send, connect and socket errors."),
);

/** Why the layer dropped a message (label values of tandem_sip_dropped_total). */
export type DropReason =
  | "via-not-ours"
  | "no-listener"
  | "handler-error"
  | "worker-down"
  | "bad-link-frame"
  | "connection-limit";

type Direction = "in" | "out";
const requestCells = new Map<string, Cell>();
const responseCells = new Map<string, Cell>();

function requestCell(dir: Direction, method: string, transport: Protocol): Cell {
  const m = KNOWN_METHODS.has(method) ? method : "other"; // bounded label cardinality
  const k = `${dir}${transport}${m}`;
  let c = requestCells.get(k);
  if (!c) {
    const set = dir === "in" ? inSet : outSet;
    requestCells.set(k, c = set.make({ kind: "request", method: m, transport }));
  }
  return c;
}

/** Per-direction, per-transport cells looked up without building strings. */
function table(dir: Direction, transport: Protocol) {
  const methods = new Map<string, Cell>();
  const classes = CLASSES.map((cls) => {
    const k = `${dir}${transport}${cls}`;
    let c = responseCells.get(k);
    if (!c) {
      const set = dir === "in" ? inSet : outSet;
      responseCells.set(k, c = set.make({ kind: "response", class: cls, transport }));
    }
    return c;
  });
  return {
    request(method: string): Cell {
      let c = methods.get(method);
      if (!c) {
        c = requestCell(dir, method, transport);
        if (methods.size < 64) methods.set(method, c);
      }
      return c;
    },
    response(status: number): Cell {
      return classes[Math.min(5, Math.max(0, Math.floor(status / 100) - 1))];
    },
  };
}

function byProtocol(direction: "in" | "out"): Record<Protocol, ReturnType<typeof table>> {
  return {
    udp: table(direction, "udp"),
    tcp: table(direction, "tcp"),
    tls: table(direction, "tls"),
    ws: table(direction, "ws"),
    wss: table(direction, "wss"),
  };
}

/** Cells for the transport layer's counters, by direction and transport. */
export const sipCounters = {
  in: byProtocol("in"),
  out: byProtocol("out"),
  parseErrors: parseSet.make({}),
  transportErrors: errSet.make({}),
  dropped: {
    "via-not-ours": dropSet.make({ reason: "via-not-ours" }),
    "no-listener": dropSet.make({ reason: "no-listener" }),
    "handler-error": dropSet.make({ reason: "handler-error" }),
    "worker-down": dropSet.make({ reason: "worker-down" }),
    "bad-link-frame": dropSet.make({ reason: "bad-link-frame" }),
    // Inbound TCP/TLS connections closed at once: the listener held sip.tcp.max_connections.
    "connection-limit": dropSet.make({ reason: "connection-limit" }),
  } as Record<DropReason, Cell>,
  /** Datagrams handed to the worker owning their Call-ID, and received from another worker. */
  forwarded: {
    out: fwdSet.make({ direction: "out" }),
    in: fwdSet.make({ direction: "in" }),
  },
};

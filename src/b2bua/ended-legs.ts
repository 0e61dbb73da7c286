// What an ended call's legs leave in the leg index for 32 s (64*T1), so that late messages still
// match: the caller's ACK for a 2xx (stop resending it), a 2xx from another fork (ACK and BYE
// it), an in-dialog request (481), a Replaces naming the call (603).
//
// At thousands of calls a second that is a hundred thousand ended calls, and each object kept is
// one more for the collector to mark at every full collection, on the cores the traffic needs.
// So most ended legs are records in typed arrays (the transactions' lingering records): a key,
// whether the leg was answered and, if so, its INVITE's identity, the callee's tag and address.
// Only a leg whose 2xx still waits for the caller's ACK keeps an object: it holds the INVITE
// transaction that resends that 2xx.

import { LingerRecords, NONE } from "../transaction/mod.ts";
import type { ServerTransaction } from "../transaction/mod.ts";
import type { Endpoint } from "../transport/types.ts";
import type { Timers } from "../util/clock.ts";
import { Generations } from "../util/generations.ts";

/** What the leg index keeps of a leg after its call ended. */
export interface EndedLeg {
  ended: true;
  /** Caller side: the INVITE transaction whose 2xx still waits for the ACK, and its CSeq. */
  awaitingAck?: { stx: ServerTransaction; inviteSeq: number };
  /**
   * An answered attempt, enough to ACK and BYE a 2xx from another fork: its INVITE's identity as
   * identityValues keeps it (LF-joined), the callee's tag and where it went.
   */
  answered?: string;
  remoteTag?: string;
  dest?: Endpoint;
}

/** An ended leg with nothing left to do but answer 481: one object for them all. */
export const ENDED: EndedLeg = Object.freeze({ ended: true });

/** How long an ended leg is kept: 64*T1, as the transactions that may still bring its messages. */
const LIFETIME = 32_000;
/** Record kinds. */
const PLAIN = 1;
const ANSWERED = 2;
/** Two keys per call: 2 MiB of filter counters (see linger-records.ts). */
const FILTER_BITS = 21;

export class EndedLegs {
  private readonly records: LingerRecords;
  /** Legs that hold an object (awaitingAck): few, those ended between a 2xx and its ACK. */
  private readonly awaiting: Generations<EndedLeg>;

  constructor(timers: Timers, now: () => number) {
    this.records = new LingerRecords(timers, now, () => {}, FILTER_BITS);
    this.awaiting = new Generations(timers, LIFETIME);
  }

  set(key: string, leg: EndedLeg): void {
    if (leg.awaitingAck !== undefined) return this.awaiting.set(key, leg);
    const r = this.records;
    if (leg.answered !== undefined && leg.dest !== undefined) {
      // The tag first: an identity holds LFs, a tag none.
      const str = (leg.remoteTag ?? "") + "\n" + leg.answered;
      r.add(ANSWERED, "", LIFETIME, undefined, key, undefined, str, undefined, leg.dest, undefined);
    } else {
      r.add(
        PLAIN,
        "",
        LIFETIME,
        undefined,
        key,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
      );
    }
  }

  /** The ended leg with this dialog key, if kept; an answered one is made anew (rare). */
  get(key: string): EndedLeg | undefined {
    const w = this.awaiting.get(key);
    if (w !== undefined) return w;
    const r = this.records;
    const rec = r.find(key);
    if (rec === NONE) return undefined;
    if (r.kind(rec) !== ANSWERED) return ENDED;
    const str = r.str(rec)!;
    const nl = str.indexOf("\n");
    return {
      ended: true,
      remoteTag: nl > 0 ? str.slice(0, nl) : undefined,
      answered: str.slice(nl + 1),
      dest: r.to(rec),
    };
  }

  get size(): number {
    return this.records.size + this.awaiting.size;
  }
}

// A map whose entries are kept at least a lifetime and then dropped a generation at a time: for
// what only waits out a fixed time (an ended call's legs, 32 s), at thousands of entries a second.
//
// One map with an entry and a timer each would make that map large and written all the time,
// which costs more per insert and delete and likely has JavaScriptCore's collector revisit all of
// it at every young collection. Here only the newest generation is written; the others are only
// read, and a whole generation goes at once, by one timer per span.

import type { TimerHandle, Timers } from "./clock.ts";

export class Generations<V> {
  /** Oldest first; the last is the one written. */
  private readonly gens: Map<string, V>[] = [new Map()];
  /** Generations kept besides the newest: an entry lives `lifetime` to `lifetime + span` ms. */
  private readonly keep: number;
  private timer: TimerHandle | undefined;
  private readonly rotate = () => this.turn();

  /**
   * @param lifetime the least time an entry is kept (ms)
   * @param span how long one generation takes entries: how late an entry may go
   */
  constructor(private readonly timers: Timers, lifetime: number, private readonly span = 4000) {
    this.keep = Math.ceil(lifetime / span);
  }

  set(key: string, value: V): void {
    this.gens[this.gens.length - 1].set(key, value);
    this.timer ??= this.timers.set(this.span, this.rotate);
  }

  get(key: string): V | undefined {
    const gens = this.gens;
    for (let i = gens.length - 1; i >= 0; i--) {
      const v = gens[i].get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  delete(key: string): boolean {
    for (const g of this.gens) if (g.delete(key)) return true;
    return false;
  }

  get size(): number {
    let n = 0;
    for (const g of this.gens) n += g.size;
    return n;
  }

  /** One span is over: start a generation, drop the one past its lifetime. */
  private turn(): void {
    this.timer = undefined;
    this.gens.push(new Map());
    if (this.gens.length > this.keep + 1) this.gens.shift();
    // Turn on while anything is kept; an idle store has no timer.
    if (this.gens.some((g) => g.size > 0)) this.timer = this.timers.set(this.span, this.rotate);
    else this.gens.splice(0, this.gens.length - 1);
  }
}

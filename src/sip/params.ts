// RFC 3261 §25.1 generic-param lists (";name=value"), used by URIs, Via and name-addr headers.
// Names compare case-insensitively; output keeps the order and spelling received.

/** Ordered, case-insensitive parameter list. A value of null is a flag parameter (";lr"). */
export class Params {
  constructor(public list: [string, string | null][] = []) {}

  /** Value of `name` (null for a flag), or undefined when absent. */
  get(name: string): string | null | undefined {
    const n = name.toLowerCase();
    for (const [k, v] of this.list) if (k.toLowerCase() === n) return v;
    return undefined;
  }
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  /** Set (replace in place, or append) a parameter. */
  set(name: string, value: string | null): this {
    const n = name.toLowerCase();
    const i = this.list.findIndex(([k]) => k.toLowerCase() === n);
    if (i >= 0) this.list[i] = [this.list[i][0], value];
    else this.list.push([name, value]);
    return this;
  }
  delete(name: string): this {
    const n = name.toLowerCase();
    this.list = this.list.filter(([k]) => k.toLowerCase() !== n);
    return this;
  }
  clone(): Params {
    return new Params(this.list.map(([k, v]) => [k, v]));
  }
  get size(): number {
    return this.list.length;
  }
  /** ";a=b;c" form (empty string when there are none). */
  toString(): string {
    let s = "";
    for (const [k, v] of this.list) s += v === null ? `;${k}` : `;${k}=${v}`;
    return s;
  }
}

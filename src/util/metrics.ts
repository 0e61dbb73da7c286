// In-process metrics with Prometheus text exposition (format 0.0.4). Counters are plain numbers
// keyed by a label string, so an increment on the hot path is one Map lookup.

type Labels = Record<string, string>;

// Keys of single-label samples by label name and value: the hot increments (calls by outcome,
// messages by method) take one label from a small set of values, and building the key (sort,
// escape, join) cost more than the increment itself.
const ONE_LABEL = new Map<string, Map<string, string>>();
const MAX_CACHED_VALUES = 256;

// The same for two labels (a route and an outcome): keyed by the names and values joined (label
// names are the code's own; values may hold anything).
const TWO_LABELS = new Map<string, string>();
const MAX_CACHED_PAIRS = 4096;

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  let name: string | undefined;
  let second: string | undefined;
  let count = 0;
  for (const k in labels) {
    if (count === 0) name = k;
    else second = k;
    if (++count > 2) break;
  }
  if (count === 2) return pairKey(labels, name!, second!);
  if (count !== 1) return fullKey(labels);
  const value = String(labels[name!]);
  let byValue = ONE_LABEL.get(name!);
  if (byValue === undefined) ONE_LABEL.set(name!, byValue = new Map());
  let key = byValue.get(value);
  if (key === undefined) {
    key = fullKey(labels);
    // Bounded: an unbounded label (a bug elsewhere) falls back to building the key each time.
    if (byValue.size < MAX_CACHED_VALUES) byValue.set(value, key);
  }
  return key;
}

function pairKey(labels: Labels, a: string, b: string): string {
  const va = String(labels[a]);
  // The first value's length makes the joined text unambiguous whatever the values hold.
  const id = `${a}\u0001${va.length}\u0001${va}\u0001${b}\u0001${labels[b]}`;
  let key = TWO_LABELS.get(id);
  if (key === undefined) {
    key = fullKey(labels);
    if (TWO_LABELS.size < MAX_CACHED_PAIRS) TWO_LABELS.set(id, key);
  }
  return key;
}

function fullKey(labels: Labels): string {
  const parts = Object.keys(labels).sort().map((k) =>
    `${k}="${String(labels[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A metric family: counter or gauge, optionally with labels. */
export class Metric {
  readonly values = new Map<string, number>();
  constructor(
    public readonly name: string,
    public readonly help: string,
    public readonly type: "counter" | "gauge",
  ) {}
  inc(labels?: Labels, n = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + n);
  }
  dec(labels?: Labels, n = 1): void {
    this.inc(labels, -n);
  }
  set(value: number, labels?: Labels): void {
    this.values.set(labelKey(labels), value);
  }
  get(labels?: Labels): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
}

/** One label set's observations of a histogram. */
interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

/** Histogram with fixed buckets (seconds), optionally one series per label set. */
export class Histogram {
  /** Series by label key ("" for none), as counters key their samples. */
  readonly series = new Map<string, HistogramSeries>();
  constructor(
    public readonly name: string,
    public readonly help: string,
    public readonly buckets: number[],
  ) {}
  observe(v: number, labels?: Labels): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    s.sum += v;
    s.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) s.counts[i]++;
  }
  /** The series of `labels` (all zero when nothing was observed). */
  get(labels?: Labels): HistogramSeries {
    return this.series.get(labelKey(labels)) ??
      { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
}

/** A set of metrics; gauges may be computed at scrape time through `collect` hooks. */
export class Registry {
  private metrics = new Map<string, Metric | Histogram>();
  private collectors: (() => void)[] = [];

  counter(name: string, help: string): Metric {
    return this.getOrCreate(name, () => new Metric(name, help, "counter")) as Metric;
  }
  gauge(name: string, help: string): Metric {
    return this.getOrCreate(name, () => new Metric(name, help, "gauge")) as Metric;
  }
  histogram(name: string, help: string, buckets: number[]): Histogram {
    return this.getOrCreate(name, () => new Histogram(name, help, buckets)) as Histogram;
  }
  /** Run `fn` before each exposition (to refresh gauges such as active calls or memory). */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  private getOrCreate(name: string, make: () => Metric | Histogram): Metric | Histogram {
    let m = this.metrics.get(name);
    if (!m) this.metrics.set(name, m = make());
    return m;
  }

  /** Prometheus text format. */
  expose(): string {
    for (const c of this.collectors) c();
    let out = "";
    for (const m of this.metrics.values()) {
      out += `# HELP ${m.name} ${m.help}\n`;
      if (m instanceof Histogram) {
        out += `# TYPE ${m.name} histogram\n`;
        const series = m.series.size ? m.series : new Map([["", m.get()]]);
        for (const [k, s] of series) {
          // `{a="1"}` becomes `{a="1",le="..."}`; no labels, `{le="..."}`.
          const pre = k ? `${k.slice(0, -1)},` : "{";
          const labels = k || "";
          m.buckets.forEach((b, i) => out += `${m.name}_bucket${pre}le="${b}"} ${s.counts[i]}\n`);
          out += `${m.name}_bucket${pre}le="+Inf"} ${s.count}\n`;
          out += `${m.name}_sum${labels} ${s.sum}\n${m.name}_count${labels} ${s.count}\n`;
        }
        continue;
      }
      out += `# TYPE ${m.name} ${m.type}\n`;
      if (m.values.size === 0) out += `${m.name} 0\n`;
      for (const [k, v] of m.values) out += `${m.name}${k} ${v}\n`;
    }
    return out;
  }
}

/** The process-wide registry. */
export const metrics = new Registry();

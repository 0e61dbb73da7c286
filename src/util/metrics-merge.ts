// One Prometheus exposition out of several SIP worker processes' expositions: each family once
// (its HELP and TYPE from the first worker that has it), every sample labelled with its worker,
// so sum() by the other labels gives the whole box and nothing is counted twice.

/** One family's header lines and samples, in first-seen order. */
interface Family {
  head: string[];
  samples: string[];
}

/** Family name of a sample line: histogram parts belong to the histogram's family. */
function familyOf(metric: string, families: Map<string, Family>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (metric.endsWith(suffix)) {
      const base = metric.slice(0, -suffix.length);
      if (families.has(base)) return base;
    }
  }
  return metric;
}

/** Add `worker="<w>"` to one sample line (`name{labels} value` or `name value`). */
export function labelSample(line: string, worker: string): string {
  const brace = line.indexOf("{");
  const space = line.indexOf(" ");
  if (brace >= 0 && (space < 0 || brace < space)) {
    const close = line.indexOf("}", brace);
    const inner = line.slice(brace + 1, close);
    return `${line.slice(0, brace)}{worker="${worker}"${inner ? "," + inner : ""}${
      line.slice(close)
    }`;
  }
  return `${line.slice(0, space)}{worker="${worker}"}${line.slice(space)}`;
}

/** Merge expositions (worker label → text) into one valid exposition. */
export function mergeExpositions(parts: { worker: string; text: string }[]): string {
  const families = new Map<string, Family>();
  for (const { worker, text } of parts) {
    const seenHere = new Set<string>();
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const m = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (m) {
        let f = families.get(m[2]);
        if (!f) families.set(m[2], f = { head: [], samples: [] });
        // Header lines from the first worker that exposes the family only.
        if (f.head.length < 2 && !seenHere.has(`${m[1]} ${m[2]}`)) f.head.push(line);
        seenHere.add(`${m[1]} ${m[2]}`);
        continue;
      }
      if (line.startsWith("#")) continue;
      const name = line.slice(0, line.search(/[{ ]/));
      const fam = familyOf(name, families);
      let f = families.get(fam);
      if (!f) families.set(fam, f = { head: [], samples: [] });
      f.samples.push(labelSample(line, worker));
    }
  }
  let out = "";
  for (const f of families.values()) {
    for (const h of f.head) out += h + "\n";
    for (const s of f.samples) out += s + "\n";
  }
  return out;
}

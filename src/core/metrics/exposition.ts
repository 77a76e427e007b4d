// The Prometheus text exposition format (version 0.0.4): metric families in, text out. Pure.
// Label values come from hostile places (a network's name may hold any character but '/'),
// so every value is escaped as the format says: backslash, double quote and line feed.
// Metric and label names are vnat's own constants, checked here so a typo fails a unit test
// rather than a scrape.

export type MetricType = "gauge" | "counter" | "histogram";

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels: Labels;
  value: number;
}

export interface HistogramSample {
  labels: Labels;
  /** upper bounds (seconds), ascending, without +Inf */
  bounds: readonly number[];
  /** cumulative counts, one per bound */
  buckets: readonly number[];
  count: number;
  sum: number;
}

export type MetricFamily =
  | { name: string; help: string; type: "gauge" | "counter"; samples: Sample[] }
  | { name: string; help: string; type: "histogram"; samples: HistogramSample[] };

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value as the format quotes it: `\` → `\\`, `"` → `\"`, line feed → `\n`. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text: `\` → `\\`, line feed → `\n` (quotes stay). */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value: integers as such, NaN and infinities by the format's words. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  for (const k of keys) if (!LABEL_RE.test(k) || k.startsWith("__")) throw new Error(`bad label name "${k}"`);
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`).join(",")}}`;
}

function checkName(f: MetricFamily): void {
  if (!NAME_RE.test(f.name)) throw new Error(`bad metric name "${f.name}"`);
  if (f.type === "counter" && !f.name.endsWith("_total")) throw new Error(`counter "${f.name}" must end in _total`);
}

/** The families as exposition text; a family without samples is left out (promtool asks for none empty). */
export function renderExposition(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    checkName(f);
    if (seen.has(f.name)) throw new Error(`metric "${f.name}" twice`);
    seen.add(f.name);
    if (f.samples.length === 0) continue;
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type !== "histogram") {
      for (const s of f.samples) out.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
      continue;
    }
    for (const h of f.samples) {
      h.bounds.forEach((b, i) =>
        out.push(`${f.name}_bucket${labelText({ ...h.labels, le: formatValue(b) })} ${formatValue(h.buckets[i] ?? 0)}`),
      );
      out.push(`${f.name}_bucket${labelText({ ...h.labels, le: "+Inf" })} ${formatValue(h.count)}`);
      out.push(`${f.name}_sum${labelText(h.labels)} ${formatValue(h.sum)}`);
      out.push(`${f.name}_count${labelText(h.labels)} ${formatValue(h.count)}`);
    }
  }
  return out.length ? out.join("\n") + "\n" : "";
}

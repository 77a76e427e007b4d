// Counts of finished events, kept as small JSON files (one per network for hook events,
// one for reconcile) that the hook and reconcile update under the network's lock and the
// metrics read. Pure: the record, how one event is added, how a file is read back.
// A file is vnat's own, but it is read as untrusted all the same: anything that is not a
// count is dropped, never thrown (a metric is lost, never a hook event).

/** Upper bounds (seconds) of the hook duration histogram: a no-op takes ~5 ms, a start ~100-300 ms. */
export const EVENT_BOUNDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface EventStat {
  count: number;
  /** seconds, summed */
  sum: number;
  /** cumulative, one per EVENT_BOUNDS entry */
  buckets: number[];
}

/** event → result → stat */
export type EventTable = Record<string, Record<string, EventStat>>;

export interface EventStats {
  version: 1;
  events: EventTable;
}

export interface ReconcileStats {
  version: 1;
  /** epoch seconds of the last run that finished (0: never) */
  lastRun: number;
  runs: number;
  /** repair kind → result ("ok" | "failed") → count */
  repairs: Record<string, Record<string, number>>;
}

const WORD_RE = /^[a-z][a-z0-9-]{0,31}$/;

/** O[K], made by MAKE when O has no own K ("constructor" is a word too: never the prototype's). */
function slot<T>(o: Record<string, T>, k: string, make: () => T): T {
  if (!Object.hasOwn(o, k)) o[k] = make();
  return o[k]!;
}
const newStat = (): EventStat => ({ count: 0, sum: 0, buckets: EVENT_BOUNDS.map(() => 0) });

export const emptyEventStats = (): EventStats => ({ version: 1, events: {} });
export const emptyReconcileStats = (): ReconcileStats => ({ version: 1, lastRun: 0, runs: 0, repairs: {} });

/** STATS with one more EVENT that ended with RESULT after SECONDS (a new object). */
export function addEvent(stats: EventStats, event: string, result: string, seconds: number): EventStats {
  if (!WORD_RE.test(event) || !WORD_RE.test(result)) throw new Error(`event stats: bad key "${event}" "${result}"`);
  const events: EventTable = structuredClone(stats.events);
  const s = slot(
    slot(events, event, () => ({})),
    result,
    newStat,
  );
  s.count += 1;
  s.sum += seconds;
  EVENT_BOUNDS.forEach((b, i) => {
    if (seconds <= b) s.buckets[i] = (s.buckets[i] ?? 0) + 1;
  });
  return { version: 1, events };
}

const count = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** A stats file's text; what does not parse as counts is left out. */
export function parseEventStats(text: string | undefined): EventStats {
  const out = emptyEventStats();
  const doc = safeJson(text);
  const events = isObject(doc) && isObject(doc.events) ? doc.events : {};
  for (const [event, byResult] of Object.entries(events)) {
    if (!WORD_RE.test(event) || !isObject(byResult)) continue;
    for (const [result, s] of Object.entries(byResult)) {
      if (!WORD_RE.test(result) || !isObject(s) || !count(s.count) || !count(s.sum)) continue;
      const buckets = Array.isArray(s.buckets) ? s.buckets : [];
      if (buckets.length !== EVENT_BOUNDS.length || !buckets.every(count)) continue;
      slot(out.events, event, (): Record<string, EventStat> => ({}))[result] = {
        count: s.count,
        sum: s.sum,
        buckets: buckets as number[],
      };
    }
  }
  return out;
}

/** Several networks' stats summed (the metrics are per host: per-network series would be too many). */
export function mergeEventStats(all: readonly EventStats[]): EventStats {
  const out = emptyEventStats();
  for (const st of all)
    for (const [event, byResult] of Object.entries(st.events))
      for (const [result, s] of Object.entries(byResult)) {
        const t = slot(
          slot(out.events, event, () => ({})),
          result,
          newStat,
        );
        t.count += s.count;
        t.sum += s.sum;
        s.buckets.forEach((b, i) => (t.buckets[i] = (t.buckets[i] ?? 0) + b));
      }
  return out;
}

/** STATS after a reconcile run that finished at NOW (epoch s) with REPAIRS (kind, result). */
export function addReconcileRun(
  stats: ReconcileStats,
  now: number,
  repairs: ReadonlyArray<{ kind: string; result: string }>,
): ReconcileStats {
  const out: ReconcileStats = { ...structuredClone(stats), lastRun: now, runs: stats.runs + 1 };
  for (const r of repairs) {
    if (!WORD_RE.test(r.kind) || !WORD_RE.test(r.result)) continue;
    const byResult = slot(out.repairs, r.kind, (): Record<string, number> => ({}));
    byResult[r.result] = (Object.hasOwn(byResult, r.result) ? byResult[r.result]! : 0) + 1;
  }
  return out;
}

export function parseReconcileStats(text: string | undefined): ReconcileStats {
  const out = emptyReconcileStats();
  const doc = safeJson(text);
  if (!isObject(doc)) return out;
  if (count(doc.lastRun)) out.lastRun = doc.lastRun;
  if (count(doc.runs)) out.runs = doc.runs;
  const repairs = isObject(doc.repairs) ? doc.repairs : {};
  for (const [kind, byResult] of Object.entries(repairs)) {
    if (!WORD_RE.test(kind) || !isObject(byResult)) continue;
    for (const [result, n] of Object.entries(byResult))
      if (WORD_RE.test(result) && count(n)) slot(out.repairs, kind, (): Record<string, number> => ({}))[result] = n;
  }
  return out;
}

function safeJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// The hook's log as people read it (`vnat log`): pino writes one JSON object a line, with
// epoch-millisecond times and numeric levels; this turns each into
//   2026-12-04 21:04:05  NETWORK           EVENT         OUTCOME  message: details
// Pure: the local time zone comes in as a function (the adapter asks the process's clock).
import { invalid, oneLine } from "../errors.ts";
import { printable } from "../names.ts";

export interface LogEntry {
  /** epoch ms; undefined when the record has none */
  time: number | undefined;
  network: string | undefined;
  /** the libvirt event (start, started, stopped, port-created, port-deleted), "agent" or "-" */
  event: string;
  outcome: "ok" | "warning" | "failed";
  message: string;
}

/** A log line: a record vnat wrote, or text that is not one (shown as it is, made safe). */
export type LogLine = { kind: "entry"; entry: LogEntry; raw: string } | { kind: "text"; text: string };

/** Minutes east of UTC at epoch ms T (-new Date(T).getTimezoneOffset() where the clock is). */
export type TzOffset = (t: number) => number;

const OP_EVENT: Record<string, string> = {
  "start begin": "start",
  "started begin": "started",
  "stopped end": "stopped",
  "port-created begin": "port-created",
  "port-deleted begin": "port-deleted",
  "updated begin": "updated",
};
const FIELD_EVENT: Record<string, string> = {
  "start-begin": "start",
  "started-begin": "started",
  "stopped-end": "stopped",
};
/** The messages src/hook writes without naming the event: which event wrote each. */
const MESSAGE_EVENT: Record<string, string> = {
  validated: "start",
  "removed the bridge a failed start left": "start",
  "not remembered": "start",
  "namespace started": "started",
  "start failed": "started",
  "leftovers not fully removed": "started",
  "namespace removed": "stopped",
  "teardown left errors": "stopped",
  "agent listening": "agent",
  "agent stopped": "agent",
  "agent: event failed": "agent",
};

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function eventOf(rec: Record<string, unknown>, msg: string): string {
  const field = str(rec.event);
  if (field) return FIELD_EVENT[field] ?? field;
  const op = str(rec.op);
  const subop = str(rec.subop);
  if (op && subop) return OP_EVENT[`${op} ${subop}`] ?? `${op} ${subop}`;
  return MESSAGE_EVENT[msg] ?? "-";
}

function errMessage(err: unknown): string | undefined {
  if (typeof err === "string") return err;
  if (err && typeof err === "object") return str((err as Record<string, unknown>).message);
  return undefined;
}

/** The details after the message: the error, the errors left, how long it took, the bridge. */
function details(rec: Record<string, unknown>): string[] {
  const out: string[] = [];
  const err = errMessage(rec.err);
  if (err) out.push(err);
  if (Array.isArray(rec.errors)) out.push(...rec.errors.map((e) => errMessage(e) ?? String(e)));
  if (typeof rec.ms === "number") out.push(`${rec.ms} ms`);
  const bridge = str(rec.bridge);
  if (bridge) out.push(`bridge ${bridge}`);
  return out;
}

/** Parses one line of the log; blank lines are undefined. */
export function parseLogLine(line: string): LogLine | undefined {
  const text = line.replace(/\r$/, "");
  if (text.trim() === "") return undefined;
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return { kind: "text", text: oneLine(text) };
  }
  if (!rec || typeof rec !== "object" || Array.isArray(rec)) return { kind: "text", text: oneLine(text) };
  const r = rec as Record<string, unknown>;
  const msg = str(r.msg) ?? "";
  const level = typeof r.level === "number" ? r.level : 30;
  // the agent's failures name their network only in the error ("network \"NAME\": …")
  const network = str(r.network) ?? /^network "([^"]+)"/.exec(errMessage(r.err) ?? "")?.[1];
  const d = details(r);
  return {
    kind: "entry",
    raw: text,
    entry: {
      time: typeof r.time === "number" && Number.isFinite(r.time) ? r.time : undefined,
      network,
      event: eventOf(r, msg),
      outcome: level >= 50 ? "failed" : level >= 40 ? "warning" : "ok",
      message: [msg || "-", d.join("; ")].filter(Boolean).join(": "),
    },
  };
}

const pad2 = (n: number): string => String(n).padStart(2, "0");

/** "YYYY-MM-DD HH:MM:SS" in the zone OFFSET describes. */
export function localTime(t: number, offset: TzOffset): string {
  const d = new Date(t + offset(t) * 60_000);
  if (Number.isNaN(d.getTime())) return "????-??-?? ??:??:??";
  return (
    `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
  );
}

/** One readable line (no newline). Every field from the file is made safe to print. */
export function formatLogLine(line: LogLine, offset: TzOffset): string {
  if (line.kind === "text") return line.text;
  const e = line.entry;
  const time = e.time === undefined ? "-".padEnd(19) : localTime(e.time, offset);
  const network = e.network === undefined ? "-" : printable(e.network, 40);
  return [time, network.padEnd(16), printable(e.event, 20).padEnd(12), e.outcome.padEnd(7), oneLine(e.message)].join(
    "  ",
  );
}

/** LINE is shown when it is NET's (or no NET is asked for) and not older than SINCE. */
export function logLineMatches(line: LogLine, o: { network?: string; since?: number }): boolean {
  if (line.kind === "text") return o.network === undefined && o.since === undefined;
  if (o.network !== undefined && line.entry.network !== o.network) return false;
  if (o.since !== undefined && (line.entry.time === undefined || line.entry.time < o.since)) return false;
  return true;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `--since`: a duration back from NOW (30s, 10m, 2h, 7d) or a local date and time
 * (YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], or with a "T"); the epoch ms it means.
 */
export function parseSince(text: string, now: number, offset: TzOffset): number {
  const dur = /^(\d{1,6})([smhd])$/.exec(text);
  if (dur) return now - Number(dur[1]) * UNIT_MS[dur[2]!]!;
  const at = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
  if (at) {
    const [y, mo, d, h, mi, s] = at.slice(1).map((v) => Number(v ?? 0)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
    const back = new Date(asUtc);
    if (back.getUTCMonth() === mo - 1 && back.getUTCDate() === d && h < 24 && mi < 60 && s < 60)
      return asUtc - offset(asUtc) * 60_000;
  }
  throw invalid(
    `--since "${printable(text, 40)}": expected a duration (30s, 10m, 2h, 7d) or a local time (YYYY-MM-DD[ HH:MM[:SS]])`,
  );
}

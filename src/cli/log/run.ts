// Runs `vnat log`: reads (and follows) the hook's log, filters it and prints it.
import { followLog, readLog } from "../../adapters/log/read.ts";
import { roots } from "../../adapters/store/roots.ts";
import {
  formatLogLine,
  logLineMatches,
  parseLogLine,
  parseSince,
  type LogLine,
  type TzOffset,
} from "../../core/observe/logfmt.ts";
import { validateNetworkName } from "../../core/names.ts";
import type { LogOptions } from "./log.ts";
import { writeOut } from "../output.ts";

/** The process's local time zone (TZ, /etc/localtime): minutes east of UTC. */
const localOffset: TzOffset = (t) => -new Date(t).getTimezoneOffset();

export async function log(network: string | undefined, o: LogOptions): Promise<void> {
  if (network !== undefined) validateNetworkName(network);
  const filter = {
    ...(network !== undefined ? { network } : {}),
    ...(o.since !== undefined ? { since: parseSince(o.since, Date.now(), localOffset) } : {}),
  };
  const path = `${roots().log}/hook.log`;
  // a reader that goes away (vnat log | head) ends vnat log, quietly
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
  });
  const show = (lines: string[]): string[] =>
    lines
      .map(parseLogLine)
      .filter((l): l is LogLine => l !== undefined && logLineMatches(l, filter))
      .map((l) => (o.json ? (l.kind === "entry" ? l.raw : undefined) : formatLogLine(l, localOffset)))
      .filter((l): l is string => l !== undefined);
  const print = async (lines: string[]): Promise<void> => {
    if (lines.length) await writeOut(lines.map((l) => `${l}\n`).join(""));
  };

  const now = await readLog(path);
  if (now.ino === undefined && !o.follow) {
    process.stderr.write(`vnat: log file "${path}": not there yet (the hook writes it at its first vnat event)\n`);
    return;
  }
  const last = o.lines ?? (o.follow ? 10 : undefined);
  const shown = show(now.lines);
  await print(last === undefined ? shown : last === 0 ? [] : shown.slice(-last));
  if (o.follow) await followLog(path, now, (lines) => print(show(lines)));
}

// Reads the hook's log for `vnat log`, and follows it as `tail -F` does. The log is rotated
// by logrotate with copytruncate (packaging/logrotate/vnat: the hook's resident agent keeps
// the file open), so a follower sees the file shrink; a file replaced (another rotation
// scheme, a hand-made move) has a new inode. Either way reading starts again at its top.
import { open, stat } from "node:fs/promises";
import { invalid } from "../../core/errors.ts";

export interface LogRead {
  /** the complete lines (a line still being written stays for the next read) */
  lines: string[];
  /** where the next read starts */
  position: number;
  /** the file read (undefined: there is none yet) */
  ino: number | undefined;
}

const errCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/** Complete lines of PATH from byte FROM on; none when the file is not there. */
async function readFrom(path: string, from: number): Promise<LogRead> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (e) {
    if (errCode(e) === "ENOENT") return { lines: [], position: 0, ino: undefined };
    if (errCode(e) === "EACCES") throw invalid(`log file "${path}": permission denied (vnat log reads it as root)`);
    throw e;
  }
  try {
    const st = await fh.stat();
    const start = st.size < from ? 0 : from;
    const buf = Buffer.alloc(Math.max(0, st.size - start));
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const end = buf.subarray(0, got).lastIndexOf(0x0a) + 1;
    const lines =
      end === 0
        ? []
        : buf
            .subarray(0, end - 1)
            .toString("utf8")
            .split("\n");
    return { lines, position: start + end, ino: st.ino };
  } finally {
    await fh.close();
  }
}

/** Every complete line of the log at PATH now. */
export function readLog(path: string): Promise<LogRead> {
  return readFrom(path, 0);
}

/**
 * Calls ONLINES with each batch of lines written to PATH after AT, every INTERVAL ms, until
 * SIGNAL aborts. A file truncated below AT, or replaced by another, is read from its top.
 */
export async function followLog(
  path: string,
  at: LogRead,
  onLines: (lines: string[]) => Promise<void>,
  o: { intervalMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  let { position, ino } = at;
  const interval = o.intervalMs ?? 250;
  while (!o.signal?.aborted) {
    await new Promise((r) => setTimeout(r, interval));
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      if (errCode(e) === "ENOENT") continue; // between a move and the next write
      throw e;
    }
    if (st.ino !== ino || st.size < position) position = 0;
    if (st.size === position && st.ino === ino) continue;
    const r = await readFrom(path, position);
    // another file may have taken the path between the stat and the open: read it from its top
    const next = r.ino !== undefined && r.ino !== st.ino ? await readFrom(path, 0) : r;
    ({ position, ino } = next);
    if (next.lines.length) await onLines(next.lines);
  }
}

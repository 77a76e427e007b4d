// A host-wide lock made of one file, for read-modify-write of shared files (the config)
// and for allocations that must never hand out one thing twice (uplinks, bridge names).
//
// The lock file is created complete: its text is written to a private temp file first and
// then hard-linked to the lock path, which fails with EEXIST when the lock is held, so no
// one ever sees a half-written lock. It names its holder as "PID STARTTIME TOKEN"; a lock
// whose process is gone (or whose pid was recycled: another start time) is stale and is
// broken — under a second, short-lived lock, so two waiters never both break it and one of
// them deletes the fresh lock the other has just taken.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, mkdir, stat, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { conflict } from "../../core/errors.ts";
import { readIfExists } from "./files.ts";

export interface LockOptions {
  /** give up after this long (default 30 s) */
  timeoutMs?: number;
  /** what the lock protects, for the error message */
  what?: string;
}

/** A break lock older than this belongs to a process that died in the middle of breaking. */
const BREAK_STALE_MS = 5000;

/** The start time of PID (jiffies since boot, /proc/PID/stat field 22); undefined when gone. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** True when the holder text names a process that no longer runs. */
export function isStaleHolder(text: string): boolean {
  const [pidText, start] = text.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid < 1) return true;
  return processStart(pid) !== start;
}

async function createExclusive(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(tmp, text, { mode: 0o644 });
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Removes the lock at PATH if it still holds exactly STALE (checked under PATH.break). */
async function breakStale(path: string, stale: string, me: string): Promise<void> {
  const breaker = `${path}.break`;
  if (!(await createExclusive(breaker, me))) {
    const age = await stat(breaker).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    const holder = (await readIfExists(breaker)) ?? "";
    if (age > BREAK_STALE_MS || isStaleHolder(holder)) await unlink(breaker).catch(() => {});
    return;
  }
  try {
    if ((await readIfExists(path)) === stale) await unlink(path).catch(() => {});
  } finally {
    await unlink(breaker).catch(() => {});
  }
}

/** Takes the lock, waiting for it; resolves to the function that releases it. */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const me = `${process.pid} ${processStart(process.pid) ?? "?"} ${randomBytes(6).toString("hex")}\n`;
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    if (await createExclusive(path, me)) {
      return async () => {
        if ((await readIfExists(path)) === me) await unlink(path).catch(() => {});
      };
    }
    const holder = await readIfExists(path);
    if (holder !== undefined && isStaleHolder(holder)) {
      await breakStale(path, holder, me);
      continue;
    }
    if (Date.now() >= deadline) {
      const pid = holder?.split(" ")[0] ?? "?";
      throw conflict(
        `${opts.what ?? `lock ${path}`}: still held by pid ${pid} after ${timeoutMs} ms (remove ${path} if that process is not vnat)`,
      );
    }
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
  }
}

/** Runs FN holding the lock at PATH; the lock is released however FN ends. */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const release = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}

// The file lock of src/adapters/store/lock.ts: no lost update under contention (tasks in this
// process and in other processes), a dead holder's lock is broken, a live one times out.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { acquireLock, isStaleHolder, processStart, withLock } from "../../src/adapters/store/lock.ts";

const dir = mkdtempSync(join(tmpdir(), "vnat-lock-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const lockModule = new URL("../../src/adapters/store/lock.ts", import.meta.url).href;

/** read, yield, write: loses updates unless the lock serialises it */
async function increment(counter: string, lock: string): Promise<void> {
  await withLock(lock, async () => {
    const n = Number(await readFile(counter, "utf8"));
    await new Promise((r) => setTimeout(r, 1));
    await writeFile(counter, String(n + 1));
  });
}

test("no lost update: 3 processes x 20 and 20 tasks here", async () => {
  const counter = join(dir, "counter");
  const lock = join(dir, "counter.lock");
  writeFileSync(counter, "0");
  const script = `const { withLock } = await import(${JSON.stringify(lockModule)});
const fs = await import("node:fs/promises");
for (let i = 0; i < 20; i++) await withLock(${JSON.stringify(lock)}, async () => {
  const n = Number(await fs.readFile(${JSON.stringify(counter)}, "utf8"));
  await new Promise((r) => setTimeout(r, 1));
  await fs.writeFile(${JSON.stringify(counter)}, String(n + 1));
});`;
  const child = (): Promise<number> =>
    new Promise((resolve) => {
      const p = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: "inherit" });
      p.on("exit", (code) => resolve(code ?? -1));
    });
  const codes = await Promise.all([
    child(),
    child(),
    child(),
    ...Array.from({ length: 20 }, () => increment(counter, lock).then(() => 0)),
  ]);
  assert.deepEqual(
    codes.filter((c) => c !== 0),
    [],
  );
  assert.equal(readFileSync(counter, "utf8"), "80");
});

test("a lock left by a dead process is broken; a recycled pid is seen as stale", async () => {
  const lock = join(dir, "stale.lock");
  writeFileSync(lock, "999999999 123 deadbeef\n");
  assert.equal(isStaleHolder("999999999 123 x"), true);
  assert.equal(isStaleHolder(`${process.pid} ${processStart(process.pid)} x`), false);
  assert.equal(isStaleHolder(`${process.pid} 1 x`), true);
  const release = await acquireLock(lock, { timeoutMs: 1000 });
  assert.match(readFileSync(lock, "utf8"), new RegExp(`^${process.pid} `));
  await release();
  assert.throws(() => readFileSync(lock));
});

test("a live holder makes a waiter time out with a one-line error", async () => {
  const lock = join(dir, "held.lock");
  const release = await acquireLock(lock);
  await assert.rejects(acquireLock(lock, { timeoutMs: 100, what: "config X" }), {
    message: new RegExp(`^config X: still held by pid ${process.pid} after 100 ms`),
  });
  await release();
});

// src/adapters/async.ts: sleep waits, mapLimit keeps input order and never runs more than its
// limit at once, limiter runs at most N in arrival order and passes results and failures on.
import assert from "node:assert/strict";
import { test } from "node:test";
import { limiter, mapLimit, sleep } from "../../src/adapters/async.ts";

test("sleep waits at least the time asked", async () => {
  const t = Date.now();
  await sleep(30);
  assert.ok(Date.now() - t >= 25);
});

test("mapLimit: results in input order, at most LIMIT at once, every item once", async () => {
  let running = 0;
  let peak = 0;
  const seen: number[] = [];
  const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
    running++;
    peak = Math.max(peak, running);
    seen.push(n);
    await sleep(n * 3);
    running--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30, 0]);
  assert.equal(peak, 2);
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(await mapLimit([], 4, async () => 1), []);
});

test("limiter: at most N running, started in arrival order, results and errors passed on", async () => {
  const limit = limiter(2);
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const task = (i: number) =>
    limit(async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await sleep(10);
      running--;
      if (i === 3) throw new Error("three");
      return i;
    });
  const results = await Promise.allSettled([0, 1, 2, 3, 4].map(task));
  assert.equal(peak, 2);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.deepEqual(
    results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message)),
    [0, 1, 2, "three", 4],
  );
});

// The event counts behind vnat's metrics (src/adapters/store/event-stats.ts) on real files in
// a temp run directory: the hook's per-network files summed, the shell hook's cached answers
// counted by size, reconcile's runs; a broken file costs its counts, never an event; the
// shell hook's own append line counts as recordCachedStart does.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  hookCachedPath,
  hookStatsPath,
  readHookStats,
  readReconcileStats,
  recordCachedStart,
  recordHookEvent,
  recordReconcileRun,
  type HookStatsCache,
} from "../../src/adapters/store/event-stats.ts";
import type { Roots } from "../../src/core/paths.ts";

const base = mkdtempSync(join(tmpdir(), "vnat-stats-"));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (): Roots => ({ run: join(base, `run${n++}`), config: "/nonexistent", log: "/nonexistent" });

test("hook events of two networks are summed; the files are root's alone", async () => {
  const roots = fresh();
  await recordHookEvent(roots, "a", "started-begin", "ok", 0.1);
  await recordHookEvent(roots, "a", "started-begin", "ok", 0.2);
  await recordHookEvent(roots, "b", "started-begin", "failed", 0.01);
  await recordCachedStart(roots, "a");
  await recordCachedStart(roots, "b");
  const { stats, cached } = await readHookStats(roots);
  assert.equal(stats.events["started-begin"]!.ok!.count, 2);
  assert.equal(stats.events["started-begin"]!.failed!.count, 1);
  assert.equal(cached, 2);
  assert.equal(statSync(hookStatsPath(roots, "a")).mode & 0o777, 0o600);
});

test("the shell hook's append line counts one byte per cached answer", async () => {
  const roots = fresh();
  await recordHookEvent(roots, "net1", "start-begin", "ok", 0.05); // Node made the directory
  const line = readFileSync(new URL("../../hooks/network", import.meta.url), "utf8")
    .split("\n")
    .find((l) => l.includes("stats/hook/$name.cached"));
  assert.ok(line, "hooks/network counts its cached answers");
  for (let i = 0; i < 3; i++)
    assert.equal(spawnSync("sh", ["-c", `run=$1 name=$2; ${line}`, "sh", roots.run, "net1"]).status, 0);
  assert.equal(statSync(hookCachedPath(roots, "net1")).size, 3);
  assert.equal((await readHookStats(roots)).cached, 3);
  // without the directory the line fails quietly and the hook still answers
  const quiet = spawnSync("sh", ["-c", `run=$1 name=$2; ${line}`, "sh", join(base, "none"), "net1"], {
    encoding: "utf8",
  });
  assert.equal(quiet.status, 0);
  assert.equal(quiet.stderr, "", "nothing reaches libvirt's error");
});

test("a broken stats file: its counts are lost, the next event starts them again", async () => {
  const roots = fresh();
  mkdirSync(join(roots.run, "stats", "hook"), { recursive: true });
  writeFileSync(hookStatsPath(roots, "x"), "{not json");
  assert.deepEqual((await readHookStats(roots)).stats.events, {});
  await recordHookEvent(roots, "x", "stopped-end", "ok", 0.03);
  assert.equal((await readHookStats(roots)).stats.events["stopped-end"]!.ok!.count, 1);
});

test("reconcile runs: last run, run count, repairs by kind and result", async () => {
  const roots = fresh();
  assert.equal((await readReconcileStats(roots)).lastRun, 0);
  await recordReconcileRun(roots, 100, [{ kind: "dnsmasq", result: "ok" }]);
  await recordReconcileRun(roots, 200, [
    { kind: "dnsmasq", result: "ok" },
    { kind: "ruleset", result: "failed" },
  ]);
  const r = await readReconcileStats(roots);
  assert.deepEqual(r, { version: 1, lastRun: 200, runs: 2, repairs: { dnsmasq: { ok: 2 }, ruleset: { failed: 1 } } });
});

test("with a cache, only changed files are read again; removed files drop out", async () => {
  const roots = fresh();
  await recordHookEvent(roots, "a", "port-created", "ok", 0.001);
  await recordHookEvent(roots, "b", "port-created", "ok", 0.001);
  const cache: HookStatsCache = new Map();
  assert.equal((await readHookStats(roots, cache)).stats.events["port-created"]!.ok!.count, 2);
  const entryB = cache.get(hookStatsPath(roots, "b"));
  assert.ok(entryB);
  await recordHookEvent(roots, "a", "port-created", "ok", 0.001);
  assert.equal((await readHookStats(roots, cache)).stats.events["port-created"]!.ok!.count, 3);
  assert.equal(cache.get(hookStatsPath(roots, "b")), entryB, "b's file did not change: not parsed again");
  rmSync(hookStatsPath(roots, "b"));
  assert.equal((await readHookStats(roots, cache)).stats.events["port-created"]!.ok!.count, 2);
  assert.equal(cache.size, 1);
});

// The state store under contention, across processes: a state record is replaced
// atomically (a reader never sees a torn or empty file while writers race). Uplink claims
// raced by many processes, each holding its own network's lock as a build does, with the
// real liveness check: test/integration/claims-race.test.ts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

const dir = mkdtempSync(join(tmpdir(), "vnat-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const stateModule = new URL("../../src/adapters/state.ts", import.meta.url).href;

/** Runs SCRIPT (an ES module body) in N node processes at once; resolves to their stdouts. */
async function inProcesses(n: number, script: (i: number) => string): Promise<string[]> {
  return Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script(i)], {
            stdio: ["ignore", "pipe", "inherit"],
          });
          let out = "";
          child.stdout.on("data", (b: Buffer) => (out += b.toString()));
          child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`process ${i} exited ${code}`))));
        }),
    ),
  );
}

test("a state record is replaced atomically: 4 writers x 150, a reader never sees a partial file", async () => {
  const roots = { run: join(dir, "run1"), config: "", log: "" };
  const writers = inProcesses(
    4,
    (i) => `const { writeState } = await import(${JSON.stringify(stateModule)});
for (let k = 0; k < 150; k++)
  await writeState(${JSON.stringify(roots)}, { name: "n1", phase: "active", lanBridge: "b", uplinkBridge: "p",
    uplink: "198.51.100.${10 + 0}", netns: "vnat-n1", startedAt: "w${i}-" + k, spec: { pad: "x".repeat(${2000 * (i + 1)}) } });`,
  );
  const path = join(roots.run, "net", "n1", "state.json");
  let reads = 0;
  let done = false;
  void writers.finally(() => (done = true));
  while (!done) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      await new Promise((r) => setImmediate(r));
      continue; // not written yet
    }
    const state = JSON.parse(text) as { startedAt: string };
    assert.match(state.startedAt, /^w\d-\d+$/);
    reads++;
    await new Promise((r) => setImmediate(r));
  }
  await writers;
  assert.ok(reads > 10, `only ${reads} reads overlapped the writers`);
  // no temp file is left behind
  assert.deepEqual(readdirSync(join(roots.run, "net", "n1")), ["state.json"]);
});

test("the hook's remembered documents: a new entry replaces the network's older ones; prune keeps known networks", async () => {
  const { pruneCacheEntries, removeCacheEntries, writeCacheEntry } =
    await import("../../src/adapters/hookcache-store.ts");
  const roots = { run: join(dir, "run-cache"), config: "", log: "" };
  const cache = join(roots.run, "hook-cache");
  const [k1, k2, k3] = ["1", "2", "3"].map((c) => c.repeat(64));
  await writeCacheEntry(roots, "a", k1!, "config x\n");
  await writeCacheEntry(roots, "a.b", k1!, "config x\n");
  await writeCacheEntry(roots, "a", k2!, "config x\n"); // a's k1 goes, a.b's stays
  await writeCacheEntry(roots, "gone", k3!, "config x\n");
  assert.deepEqual(readdirSync(cache).sort(), [`a.${k2}`, `a.b.${k1}`, `gone.${k3}`]);
  await pruneCacheEntries(roots, ["a", "a.b"]);
  assert.deepEqual(readdirSync(cache).sort(), [`a.${k2}`, `a.b.${k1}`]);
  await removeCacheEntries(roots, "a");
  assert.deepEqual(readdirSync(cache), [`a.b.${k1}`]);
});

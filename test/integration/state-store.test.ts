// The state store: under contention, across processes, a state record is replaced
// atomically (a reader never sees a torn or empty file while writers race); a record is
// read through its schema (core/input/state-schema.ts, unit-tested in test/unit/state-schema.test.ts),
// the previous version included, and a network whose record is corrupt is still torn down. Uplink claims
// raced by many processes, each holding its own network's lock as a build does, with the
// real liveness check: test/integration/claims-race.test.ts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

const dir = mkdtempSync(join(tmpdir(), "vnat-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const stateModule = new URL("../../src/adapters/store/state.ts", import.meta.url).href;

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
    await import("../../src/adapters/store/hookcache.ts");
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

test("a state file is read through its schema: today's and the previous version's read alike, a corrupt one is one line", async () => {
  const { hasState, readState, readStateFile, writeState } = await import("../../src/adapters/store/state.ts");
  const roots = { run: join(dir, "run-schema"), config: "", log: "" };
  const path = join(roots.run, "net", "n2", "state.json");
  const state = {
    name: "n2",
    phase: "active" as const,
    lanBridge: "virbr7",
    uplinkBridge: "br0",
    uplink: "198.51.100.12",
    netns: "vnat-n2",
    startedAt: "2026-12-04T21:00:00.000Z",
    attach: { lan: "macvlan" as const, uplink: "veth" as const },
  };
  assert.equal(await readState(roots, "n2"), undefined);
  assert.equal(await hasState(roots, "n2"), false);
  await writeState(roots, state);
  const written = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  assert.equal(written.version, 2);
  assert.deepEqual(await readState(roots, "n2"), state);
  // what vnat wrote before the schema had a version: a network running across an upgrade
  const previous = Object.fromEntries(Object.entries(written).filter(([k]) => k !== "version"));
  writeFileSync(path, JSON.stringify(previous, null, 2) + "\n");
  assert.deepEqual(await readState(roots, "n2"), state);
  for (const [corrupt, why] of [
    ['{"name": "n2", "phase": "active"', /not JSON/],
    [
      JSON.stringify({ ...previous, attach: { lan: "tap", uplink: "veth" } }),
      /attach\.lan: expected "veth" or "macvlan", got 'tap'/,
    ],
    ["", /not JSON/],
  ] as const) {
    writeFileSync(path, corrupt);
    const r = await readStateFile(roots, "n2");
    assert.equal(r.kind, "unreadable");
    assert.match(r.kind === "unreadable" ? r.error : "", why);
    await assert.rejects(readState(roots, "n2"), (e: Error) => {
      assert.match(e.message, new RegExp(`^network "n2": state file ${path}: `));
      assert.match(e.message, why);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
    assert.equal(await hasState(roots, "n2"), true, "a corrupt state is still vnat's");
  }
});

test("teardown removes a network whose state file is corrupt, by the names its network name gives", async () => {
  const { teardownNetwork } = await import("../../src/exec/change/teardown.ts");
  const { processRunner } = await import("../../src/exec/run.ts");
  const { claimUplink } = await import("../../src/adapters/store/state.ts");
  const { kernelNames } = await import("../../src/core/names.ts");
  const name = `ts${randomBytes(3).toString("hex")}`;
  const netns = kernelNames(name).netns;
  const roots = { run: join(dir, "run-corrupt"), config: "", log: "", netnsEtc: join(dir, "etc-netns") };
  mkdirSync(join(roots.netnsEtc, netns), { recursive: true });
  writeFileSync(join(roots.netnsEtc, netns, "resolv.conf"), "nameserver 10.0.0.1\n");
  mkdirSync(join(roots.run, "net", name), { recursive: true });
  writeFileSync(join(roots.run, "net", name, "state.json"), '{"name": "' + name + '", "spec": {"names": 7}}');
  await claimUplink(roots, "br0", "198.51.100.77", name);
  assert.equal((await processRunner.run("ip", ["netns", "add", netns])).exitCode, 0);
  try {
    assert.deepEqual(await teardownNetwork(processRunner, roots, name), []);
    assert.equal(existsSync(`/run/netns/${netns}`), false, "namespace left");
    assert.equal(existsSync(join(roots.run, "net", name)), false, "state directory left");
    assert.deepEqual(readdirSync(join(roots.run, "claims")), [], "claim left");
    assert.equal(existsSync(join(roots.netnsEtc, netns)), false, "resolv.conf left");
  } finally {
    await processRunner.run("ip", ["netns", "del", netns]);
  }
});

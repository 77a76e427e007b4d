// Exclusive uplink claims (src/adapters/store/state.ts claimUplink, src/adapters/store/claims.ts
// claimHolderLive): 8 processes, each holding its own network's lock as a `started` build
// does, race for one uplink with the real liveness check; exactly one wins every round and
// no reader ever sees an empty or partial claim file. A stale claim is broken only when
// its owner is dead (no lock held, no namespace), and a build whose claim changed while it
// built fails its "addresses" step and undoes everything.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, test } from "node:test";
import { claimHolderLive, listLiveClaims } from "../../src/adapters/store/claims.ts";
import { claimOwner, claimUplink } from "../../src/adapters/store/state.ts";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { kernelNames } from "../../src/core/names.ts";
import type { Roots } from "../../src/core/paths.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { startNetwork } from "../../src/exec/change/apply.ts";
import { lockNetwork } from "../../src/exec/netlock.ts";
import type { RunResult, Runner } from "../../src/exec/run.ts";
import { hookData } from "../support/fixtures.ts";

const N = 8;
const ROUNDS = 100;
const STALE_ROUNDS = 30;
const BRIDGE = "vtp-x";
const IP = "198.51.100.10";
const CLAIM = `${BRIDGE}@${IP}`;
const racer = new URL("../support/claim-racer.ts", import.meta.url).pathname;

const dir = mkdtempSync(join(tmpdir(), "vnat-claims-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let runs = 0;
const newRoots = (): Roots => {
  const run = join(dir, `run${runs++}`);
  mkdirSync(run);
  return { run, config: "/nonexistent", log: run };
};

/** A racer process: send a command, get its one-line answer. */
interface Racer {
  name: string;
  ask(cmd: string): Promise<string>;
  child: ChildProcessWithoutNullStreams;
}

function startRacer(name: string): Racer {
  const child = spawn(process.execPath, ["--import", "tsx", racer, name, BRIDGE, IP], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const lines: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  createInterface({ input: child.stdout }).on("line", (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else lines.push(l);
  });
  child.on("exit", (code) => {
    for (const w of waiting.splice(0)) w(`exited ${code}: ${err.trim()}`);
  });
  return {
    name,
    child,
    ask(cmd) {
      const answer = new Promise<string>((resolve) => {
        const l = lines.shift();
        if (l !== undefined) resolve(l);
        else waiting.push(resolve);
      });
      child.stdin.write(cmd + "\n");
      return answer;
    },
  };
}

/** Reads the claim file as often as it can until STOP resolves; every content it saw. */
async function watchClaim(path: string, stop: Promise<unknown>): Promise<{ reads: number; seen: Set<string> }> {
  let done = false;
  void stop.finally(() => (done = true));
  const seen = new Set<string>();
  let reads = 0;
  while (!done) {
    try {
      seen.add(readFileSync(path, "utf8"));
      reads++;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    await new Promise((r) => setImmediate(r));
  }
  return { reads, seen };
}

/** One round: every racer takes its lock, then all claim at once; the answers, in racer order. */
async function round(racers: Racer[], roots: Roots): Promise<{ answers: string[]; seen: Set<string>; reads: number }> {
  for (const a of await Promise.all(racers.map((r) => r.ask(`lock ${roots.run}`)))) assert.equal(a, "locked");
  const race = Promise.all(racers.map((r) => r.ask("go")));
  const watched = watchClaim(join(roots.run, "claims", CLAIM), race);
  const answers = await race;
  const { seen, reads } = await watched;
  // the winner still holds its lock here: a loser looking now would still see it live
  seen.add(readFileSync(join(roots.run, "claims", CLAIM), "utf8"));
  for (const a of await Promise.all(racers.map((r) => r.ask("release")))) assert.equal(a, "released");
  return { answers, seen, reads };
}

const lostTo = (owner: string) =>
  `lost: uplink ${IP} on bridge "${BRIDGE}": already used by active vnat network "${owner}"`;

describe("uplink claims raced by separate processes", () => {
  const racers = Array.from({ length: N }, (_, i) => startRacer(`net${i}`));
  after(() => racers.forEach((r) => r.child.stdin.end()));

  test(`${N} processes holding their own locks race for one uplink: exactly one wins, ${ROUNDS} of ${ROUNDS} rounds`, async () => {
    const winsPerRound: number[] = [];
    const winners = new Map<string, number>();
    let reads = 0;
    for (let k = 0; k < ROUNDS; k++) {
      const roots = newRoots();
      const { answers, seen, reads: r } = await round(racers, roots);
      reads += r;
      const won = racers.filter((_, i) => answers[i] === "won");
      winsPerRound.push(won.length);
      assert.equal(won.length, 1, `round ${k}: ${answers.join(" | ")}`);
      const winner = won[0]!.name;
      winners.set(winner, (winners.get(winner) ?? 0) + 1);
      // every loser's message is one line naming the uplink and the winner
      for (const a of answers.filter((x) => x !== "won")) assert.equal(a, lostTo(winner), `round ${k}`);
      // the claim file was never seen empty, partial or naming anyone but the winner
      assert.deepEqual([...seen], [`${winner}\n`], `round ${k}`);
      // no temp file is left behind
      assert.deepEqual(readdirSync(join(roots.run, "claims")), [CLAIM]);
      rmSync(roots.run, { recursive: true, force: true });
    }
    const rounds = winsPerRound.filter((w) => w === 1).length;
    console.log(
      `claims race: ${rounds}/${ROUNDS} rounds with exactly one winner among ${N} processes; ` +
        `winners per round ${JSON.stringify([...new Set(winsPerRound)])}; wins by process ${JSON.stringify(Object.fromEntries(winners))}; ` +
        `${reads} reads of the claim file during the races, none empty or partial`,
    );
  });

  test(`${N} processes race to break one stale claim (its owner died): exactly one takes it, ${STALE_ROUNDS} rounds`, async () => {
    for (let k = 0; k < STALE_ROUNDS; k++) {
      const roots = newRoots();
      mkdirSync(join(roots.run, "claims"));
      writeFileSync(join(roots.run, "claims", CLAIM), "dead\n");
      const { answers, seen } = await round(racers, roots);
      const won = racers.filter((_, i) => answers[i] === "won");
      assert.equal(won.length, 1, `round ${k}: ${answers.join(" | ")}`);
      const winner = won[0]!.name;
      // a loser names the winner, or the dead owner whose lock a breaker held at that moment
      for (const a of answers.filter((x) => x !== "won")) assert.ok([lostTo(winner), lostTo("dead")].includes(a), a);
      for (const c of seen) assert.ok(["dead\n", `${winner}\n`].includes(c), `round ${k}: saw ${JSON.stringify(c)}`);
      assert.equal(readFileSync(join(roots.run, "claims", CLAIM), "utf8"), `${winner}\n`);
      assert.deepEqual(readdirSync(join(roots.run, "claims")), [CLAIM]);
      rmSync(roots.run, { recursive: true, force: true });
    }
    console.log(
      `stale claim race: ${STALE_ROUNDS}/${STALE_ROUNDS} rounds with exactly one winner among ${N} processes`,
    );
  });
});

describe("a stale claim is broken only when its owner is dead", () => {
  const claim = (roots: Roots, owner: string) => {
    mkdirSync(join(roots.run, "claims"), { recursive: true });
    writeFileSync(join(roots.run, "claims", CLAIM), `${owner}\n`);
  };
  /** claims as network NAME does in a build: holding NAME's lock */
  async function claimAs(roots: Roots, name: string): Promise<void> {
    const lock = (await lockNetwork(roots, name))!;
    try {
      await claimUplink(roots, BRIDGE, IP, name);
    } finally {
      await lock.release();
    }
  }
  const conflictWith = (owner: string) => (e: unknown) => {
    assert.ok(e instanceof VnatError && e.kind === "conflict", String(e));
    assert.equal(e.message, `uplink ${IP} on bridge "${BRIDGE}": already used by active vnat network "${owner}"`);
    return true;
  };

  test("owner died (no lock held, no namespace): the claim is taken over", async () => {
    const roots = newRoots();
    claim(roots, "dead");
    await lockNetwork(roots, "dead").then((l) => l!.release()); // it ran once, then died
    assert.equal(claimHolderLive(roots, "dead"), false);
    assert.deepEqual(await listLiveClaims(roots), []);
    await claimAs(roots, "taker");
    assert.equal(await claimOwner(roots, BRIDGE, IP), "taker");
  });

  test("owner holds its lock but has no namespace yet (a build in flight): not broken", async () => {
    const roots = newRoots();
    claim(roots, "builder");
    // the owner is another process, as a `started` hook would be
    const owner = startRacer("builder");
    try {
      assert.equal(await owner.ask(`lock ${roots.run}`), "locked");
      assert.equal(claimHolderLive(roots, "builder"), true);
      assert.deepEqual(
        (await listLiveClaims(roots)).map((c) => c.owner),
        ["builder"],
      );
      await assert.rejects(claimAs(roots, "taker"), conflictWith("builder"));
      assert.equal(readFileSync(join(roots.run, "claims", CLAIM), "utf8"), "builder\n");
      // once the owner's event ended without a namespace, it is dead
      assert.equal(await owner.ask("release"), "released");
      await claimAs(roots, "taker");
      assert.equal(await claimOwner(roots, BRIDGE, IP), "taker");
    } finally {
      owner.child.stdin.end();
    }
  });

  test("owner has a namespace (no event running): not broken", async () => {
    const roots = newRoots();
    const owner = `clm${process.pid}`;
    const { netns } = kernelNames(owner);
    claim(roots, owner);
    const add = spawnSync("ip", ["netns", "add", netns], { encoding: "utf8" });
    assert.equal(add.status, 0, add.stderr);
    try {
      assert.equal(claimHolderLive(roots, owner), true);
      assert.deepEqual(
        (await listLiveClaims(roots)).map((c) => c.owner),
        [owner],
      );
      await assert.rejects(claimAs(roots, "taker"), conflictWith(owner));
      assert.equal(readFileSync(join(roots.run, "claims", CLAIM), "utf8"), `${owner}\n`);
    } finally {
      spawnSync("ip", ["netns", "del", netns]);
    }
    assert.equal(claimHolderLive(roots, owner), false);
  });

  test("a network's own claim is its own; a claim naming no network is refused, not taken", async () => {
    const roots = newRoots();
    claim(roots, "self");
    await claimAs(roots, "self");
    assert.equal(await claimOwner(roots, BRIDGE, IP), "self");
    writeFileSync(join(roots.run, "claims", CLAIM), "");
    await assert.rejects(claimAs(roots, "taker"), /names no network \(remove it\)/);
    assert.deepEqual(readdirSync(join(roots.run, "claims")), [CLAIM]);
  });
});

test("a claim that changed while the namespace was built fails the addresses step and undoes the build", async () => {
  const spec = buildSpec(
    parseHookData(
      hookData({
        name: "recheck",
        bridge: "vt-nonexist0",
        uplinkBridge: "vt-nonexist1",
        uplink: "198.51.100.12/24",
        gateway: "198.51.100.1",
      }),
    ).network,
    EMPTY_CONFIG,
  );
  const roots = newRoots();
  const path = join(roots.run, "claims", "vt-nonexist1@198.51.100.12");
  // nothing reaches the kernel: the runner records, and the namespace batch rewrites the claim
  const calls: string[] = [];
  const runner: Runner = {
    async run(cmd, args): Promise<RunResult> {
      calls.push([cmd, ...args].join(" "));
      if (args[0] === "-n" && args.includes("-batch")) writeFileSync(path, "intruder\n");
      return { exitCode: 0, stdout: "", stderr: "" };
    },
  };
  await assert.rejects(startNetwork({ runner, roots }, spec), (e: unknown) => {
    assert.ok(e instanceof VnatError, String(e));
    assert.equal(
      e.message,
      `start network "recheck": step "addresses" failed: uplink 198.51.100.12 on bridge "vt-nonexist1": claimed by network "intruder" meanwhile (everything undone)`,
    );
    return true;
  });
  assert.ok(calls.includes("ip netns del vnat-recheck"), calls.join("\n"));
  // the intruder's claim is not ours to release; our state is gone
  assert.equal(readFileSync(path, "utf8"), "intruder\n");
  assert.deepEqual(readdirSync(join(roots.run, "net")), []);
});

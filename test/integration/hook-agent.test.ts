// The hook's resident agent (src/hook/agent.ts), driven as libvirt drives the hook, on the
// real kernel: with the agent up, events never reach the hook's own Node (VNAT_NODE=/bin/false
// would fail them) and `started` still answers only once the namespace serves; the agent's
// errors reach libvirt as the same one line; an agent that dies mid-event makes the hook run
// Node itself, which waits for the network's lock and converges; without an agent (its
// socket left behind by a dead one) the hook works alone.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readState } from "../../src/adapters/store/state.ts";
import { kernelNames } from "../../src/core/names.ts";
import { agentPaths } from "../../src/core/paths.ts";
import { stopAgent } from "../../src/exec/agent-control.ts";
import { flockHeld, lockNetwork } from "../../src/exec/netlock.ts";
import { hookData, portXml, type NetOpts } from "../support/fixtures.ts";
import { HOOK, runHook, sandboxNet } from "../support/hook.ts";
import { execa } from "execa";
import { sh, sleep, waitFor } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, TEST_CONFIG, type World } from "../support/world.ts";

const tag = randomBytes(2).toString("hex");
const BUNDLE = new URL("../../dist/hook.js", import.meta.url).pathname;
const buildId = (): string => readFileSync(new URL("../../dist/build-id", import.meta.url), "utf8").trim();
let world: World;
let net: NetOpts;
let run: string;
let roots: { run: string; config: string; log: string };
let agent: ChildProcess | undefined;

before(async () => {
  world = await createWorld();
  run = await mkdtemp(join(tmpdir(), `vnat-agent-${tag}-`));
  roots = { run, config: "", log: "" };
  net = await sandboxNet(world, `t${tag}ag`, "198.51.100.27/24");
});

after(async () => {
  await runHook(net.name, "stopped", "end", hookData(net), { VNAT_RUN_DIR: run });
  agent?.kill("SIGKILL");
  await stopAgent(roots, buildId());
  await world?.destroy();
  assert.equal(existsSync(`/run/netns/${kernelNames(net.name).netns}`), false);
  assert.equal(existsSync(`${run}/net/${net.name}`), false);
  await rm(run, { recursive: true, force: true });
  if (world) await assertNoWorldDebris(world.tag);
});

async function startAgent(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BUNDLE, "--agent"], {
    // the agent reads this test's config (its world's provider); the hooks it serves name none
    env: { PATH: process.env.PATH, LC_ALL: "C", HOME: "/root", VNAT_RUN_DIR: run, VNAT_CONFIG: TEST_CONFIG },
    stdio: "ignore",
  });
  await waitFor(() => existsSync(agentPaths(roots, buildId()).socket), 10_000, "the agent's socket");
  return child;
}

/** The hook as libvirt runs it: no VNAT_CONFIG (runHook would add one, and the shell keeps such events from the agent). */
async function hook(op: string, subop: string, node = "/bin/false", port?: string, o: NetOpts = net) {
  const r = await execa(HOOK, [o.name, op, subop, "-"], {
    input: hookData(o, port),
    env: { LC_ALL: "C", PATH: process.env.PATH!, HOME: "/root", VNAT_RUN_DIR: run, VNAT_NODE: node },
    extendEnv: false,
    reject: false,
  });
  return { exitCode: r.exitCode ?? -1, stderr: String(r.stderr) };
}

describe("the resident agent", () => {
  test("does the events itself, and `started` answers when the namespace serves", async () => {
    agent = await startAgent();
    for (const [op, subop] of [
      ["start", "begin"],
      ["started", "begin"],
    ] as const) {
      const r = await hook(op, subop);
      assert.equal(r.exitCode, 0, `${op}: ${r.stderr}`);
    }
    assert.equal((await readState(roots, net.name))?.phase, "active");
    const table = await sh("ip", ["netns", "exec", kernelNames(net.name).netns, "nft", "list", "table", "ip", "vnat"]);
    assert.equal(table.exitCode, 0, table.stderr);
    const port = await hook("port-created", "begin", "/bin/false", portXml("52:54:00:aa:cc:01"));
    assert.equal(port.exitCode, 0, port.stderr);
  });

  test("its refusals reach libvirt as the hook's own one line and exit code", async () => {
    const other = { ...net, name: `t${tag}ax` };
    const r = await hook("port-created", "begin", "/bin/false", portXml("52:54:00:aa:cc:02"), other);
    assert.equal(r.exitCode, 3);
    assert.equal(
      r.stderr,
      `vnat: network "${other.name}": vnat has no namespace for it, so a guest attached now would get no DHCP, DNS or NAT (vnat reconcile ${other.name}, or virsh net-destroy and net-start)`,
    );
  });

  test("an agent killed mid-event: the hook runs Node itself, which waits for the lock and finishes the event", async () => {
    const held = await lockNetwork(roots, net.name);
    const stop = hook("stopped", "end", process.execPath);
    await sleep(400); // the agent has the event and waits for the lock the test holds
    agent!.kill("SIGKILL");
    await new Promise((r) => agent!.once("exit", r));
    agent = undefined;
    await sleep(300);
    assert.ok(existsSync(`/run/netns/${kernelNames(net.name).netns}`), "nothing ran while the lock was held");
    await held!.release();
    const r = await stop;
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(existsSync(`/run/netns/${kernelNames(net.name).netns}`), false);
    assert.equal(existsSync(`${run}/net/${net.name}`), false);
    // the hook's Node started a new agent: the dead one's socket file did not fool it (the kernel's lock did not)
    await waitFor(() => flockHeld(agentPaths(roots, buildId()).lock), 10_000, "a new agent after the killed one");
  });

  test("without an agent (a dead one's socket left behind) the hook does the work alone", async () => {
    await stopAgent(roots, buildId()); // the one the fallback Node started, if any
    const sock = agentPaths(roots, buildId()).socket;
    // a socket file whose agent is gone: connect is refused
    const dead = spawn("socat", [`UNIX-LISTEN:${sock},fork`, "/dev/null"], { stdio: "ignore" });
    await waitFor(() => existsSync(sock), 5000, "the stand-in socket");
    dead.kill("SIGKILL");
    // the hook's own Node reads the host's config, where the world lists its provider (test/support/world.ts)
    for (const [op, subop] of [
      ["start", "begin"],
      ["started", "begin"],
      ["stopped", "end"],
    ] as const) {
      const r = await hook(op, subop, process.execPath);
      assert.equal(r.exitCode, 0, `${op}: ${r.stderr}`);
    }
    assert.equal(existsSync(`/run/netns/${kernelNames(net.name).netns}`), false);
  });
});

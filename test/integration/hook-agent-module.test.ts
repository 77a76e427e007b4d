// hook/agent.ts imported directly (test/integration/hook-agent.test.ts drives the bundled
// agent through the shell hook). Run from source there is no build id: no agent runs or is
// started. A copy of src/ with a build id next to agent.ts (in a temp dir) runs one: it
// listens on a private socket, answers each request in one line — "0", or the hook's exit
// code and its one-line error —, holds its lock so a second agent of that build retires at
// once, and retires itself, removing its socket and pid file, when its build id changes or
// on SIGTERM.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { openLog } from "../../src/adapters/log/log.ts";
import { exitCode } from "../../src/core/errors.ts";
import { agentPaths } from "../../src/core/paths.ts";
import { flockHeld } from "../../src/exec/netlock.ts";
import { processRunner } from "../../src/exec/run.ts";
import { bundleBuildId, ensureAgent, runAgent } from "../../src/hook/agent.ts";
import { hookData, networkXml } from "../support/fixtures.ts";
import { waitFor } from "../support/sh.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vnat-agent-module-"));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});
const rootsIn = (name: string) => ({
  run: join(dir, name, "run"),
  config: join(dir, name, "c.json"),
  log: join(dir, name, "log"),
});

test("run from source (no build id): runAgent resolves false and ensureAgent starts nothing", async () => {
  assert.equal(bundleBuildId(), undefined);
  const roots = rootsIn("src");
  const log = await openLog(roots.log, "hook");
  assert.equal(await runAgent(roots, { runner: processRunner, roots, log }), false);
  ensureAgent(roots);
  assert.equal(existsSync(roots.run), false);
});

// a copy of src/ whose agent has a build id, resolving packages from this checkout
const copy = join(dir, "copy");
cpSync(join(REPO, "src"), join(copy, "src"), { recursive: true });
writeFileSync(join(copy, "package.json"), JSON.stringify({ type: "module" }));
symlinkSync(join(REPO, "node_modules"), join(copy, "node_modules"));
const BUILD_ID = join(copy, "src", "hook", "build-id");
writeFileSync(BUILD_ID, "build-one\n");

/** An agent of the copy, in its own process; its stdout gets runAgent's result. */
function agentProcess(roots: { run: string; config: string; log: string }): { child: ChildProcess; out: () => string } {
  const script = `
const { runAgent } = await import(${JSON.stringify(join(copy, "src/hook/agent.ts"))});
const { openLog } = await import(${JSON.stringify(join(copy, "src/adapters/log/log.ts"))});
const { processRunner } = await import(${JSON.stringify(join(copy, "src/exec/run.ts"))});
const roots = ${JSON.stringify(roots)};
const r = await runAgent(roots, { runner: processRunner, roots, log: await openLog(roots.log, "hook") });
process.stdout.write(String(r));
process.exit(0);`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  return { child, out: () => out };
}

function ask(socket: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    let out = "";
    c.on("data", (b: Buffer) => (out += b.toString()));
    c.on("end", () => resolve(out));
    c.on("error", reject);
    c.end(text);
  });
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once("exit", r)));

test("an agent of a build: private socket, pid file, held lock; one-line answers; a second one retires", async () => {
  const roots = rootsIn("a1");
  const p = agentPaths(roots, "build-one");
  const a = agentProcess(roots);
  await waitFor(() => existsSync(p.socket) && existsSync(p.pid), 20_000, "the agent's socket");
  assert.equal(statSync(p.socket).mode & 0o777, 0o600);
  assert.match(readFileSync(p.pid, "utf8"), new RegExp(`^${a.child.pid} `));
  assert.ok(flockHeld(p.lock));

  const net = {
    name: "ag1",
    bridge: "virbr9",
    uplinkBridge: "br-x",
    uplink: "198.51.100.9/24",
    gateway: "198.51.100.1",
  };
  // not vnat's: answered 0 at once
  const plain = `<hookData>\n${networkXml({ ...net, metadata: "<other/>" })}\n</hookData>\n`;
  assert.equal(await ask(p.socket, `ag1 start begin - -\n${plain}`), "0\n");
  // a bad name: the hook's exit code and its one line
  const reply = await ask(p.socket, `bad/name start begin - -\n${hookData(net)}`);
  assert.match(reply, new RegExp(`^${exitCode("invalid-input")} network name "bad/name": only letters`));
  assert.equal(reply.split("\n").length, 2);
  // a malformed request
  assert.match(
    await ask(p.socket, "just two\n"),
    /^\d+ agent request: expected "NAME OP SUBOP KEY CONFIGHASH", got 2 field\(s\)\n$/,
  );

  // a second agent of the same build and run dir: false, at once, leaving the first serving
  const b = agentProcess(roots);
  assert.equal(await exited(b.child), 0);
  assert.equal(b.out(), "false");
  assert.equal(await ask(p.socket, `ag1 start begin - -\n${plain}`), "0\n");

  // the build id changes (an upgrade): the agent retires, removing its socket and pid file
  writeFileSync(BUILD_ID, "build-two\n");
  try {
    assert.equal(await exited(a.child), 0);
  } finally {
    writeFileSync(BUILD_ID, "build-one\n");
  }
  assert.equal(a.out(), "true");
  assert.equal(existsSync(p.socket), false);
  assert.equal(existsSync(p.pid), false);
  assert.equal(flockHeld(p.lock), false);
});

test("SIGTERM: the agent stops cleanly; a socket file left by a dead agent is replaced by the next", async () => {
  const roots = rootsIn("a2");
  const p = agentPaths(roots, "build-one");
  const a = agentProcess(roots);
  await waitFor(() => existsSync(p.pid), 20_000, "the agent's pid file");
  a.child.kill("SIGTERM");
  assert.equal(await exited(a.child), 0);
  assert.equal(a.out(), "true");
  assert.equal(existsSync(p.socket), false);
  // a killed agent leaves its socket file; the next one takes over
  const b = agentProcess(roots);
  await waitFor(() => existsSync(p.pid), 20_000, "the second agent's pid file");
  b.child.kill("SIGKILL");
  await exited(b.child);
  assert.ok(existsSync(p.socket), "a killed agent's socket file stays");
  const c = agentProcess(roots);
  await waitFor(
    () => existsSync(p.pid) && readFileSync(p.pid, "utf8").startsWith(`${c.child.pid} `),
    20_000,
    "a third agent",
  );
  const plain = `<hookData>\n${networkXml({ name: "ag2", bridge: "virbr9", metadata: "<other/>" })}\n</hookData>\n`;
  assert.equal(await ask(p.socket, `ag2 start begin - -\n${plain}`), "0\n");
  c.child.kill("SIGTERM");
  assert.equal(await exited(c.child), 0);
});

// src/cli/exec/run.ts: `vnat exec NET -- CMD` runs CMD in the namespace vnat built for NET
// (here: a namespace this test creates, vnat-NAME, with an active state in a temp run dir),
// with the caller's umask and the namespace's resolv.conf; CMD's exit code is vnat's
// (128 + N after signal N). Refusals (no command, not in libvirt, not vnat's, not running)
// are one line each, asked of the real libvirt.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { execIn } from "../../src/cli/exec/run.ts";
import { netCreate } from "../../src/cli/net/create.ts";
import { writeState } from "../../src/adapters/store/state.ts";
import { roots as vnatRoots } from "../../src/adapters/store/roots.ts";
import { VnatError } from "../../src/core/errors.ts";
import { kernelNames } from "../../src/core/names.ts";
import { capture, REPO } from "../support/cli.ts";
import { cliHost, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
let name: string;
let netns: string;
let out: string;

const ip = (args: string[]) => {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  assert.equal(r.status, 0, `ip ${args.join(" ")}: ${r.stderr}`);
};

before(async () => {
  h = await cliHost();
  name = h.name("ve");
  netns = kernelNames(name).netns;
  out = join(h.roots.dir, "out");
  ip(["netns", "add", netns]);
  mkdirSync(`/etc/netns/${netns}`, { recursive: true });
  writeFileSync(`/etc/netns/${netns}/resolv.conf`, "nameserver 10.254.254.1\n# vnat exec test\n");
  await writeState(vnatRoots(), {
    name,
    phase: "active",
    lanBridge: "vbexec",
    uplinkBridge: h.provider,
    uplink: "198.51.100.17",
    netns,
    startedAt: new Date().toISOString(),
  });
});
after(async () => {
  spawnSync("ip", ["netns", "del", netns]);
  rmSync(`/etc/netns/${netns}`, { recursive: true, force: true });
  await h.close();
});

/** runs execIn and gives back the exit code it set (process.exitCode put back) */
async function exitOf(command: string[], umask = 0o022): Promise<number | undefined> {
  const saved = process.exitCode;
  try {
    await execIn(name, command, umask);
    return process.exitCode as number | undefined;
  } finally {
    process.exitCode = saved;
  }
}

test("the command runs in vnat-NAME, with its resolv.conf and the caller's umask; its exit code is vnat's", async () => {
  const code = await exitOf(
    ["sh", "-c", `readlink /proc/self/ns/net > ${out}; umask >> ${out}; cat /etc/resolv.conf >> ${out}; exit 7`],
    0o027,
  );
  assert.equal(code, 7);
  const [nsLink, mask, ...resolv] = readFileSync(out, "utf8").trimEnd().split("\n");
  const stat = spawnSync("stat", ["-L", "-c", "%i", `/run/netns/${netns}`], { encoding: "utf8" }).stdout.trim();
  assert.equal(nsLink, `net:[${stat}]`, "inside the namespace");
  assert.notEqual(nsLink, readlinkSync("/proc/self/ns/net"), "not the host's");
  assert.equal(mask, "0027");
  assert.deepEqual(resolv, ["nameserver 10.254.254.1", "# vnat exec test"]);
  assert.equal(await exitOf(["true"]), 0);
});

test("a command ended by a signal: 128 + N", async () => {
  assert.equal(await exitOf(["sh", "-c", "kill -TERM $$"]), 128 + 15);
});

test("a command that cannot be run: ip's own exit code, no VnatError", async () => {
  const code = await exitOf(["/nonexistent/vnat-test-cmd"]);
  assert.notEqual(code, 0);
  assert.notEqual(code, undefined);
});

test("refusals, one line each", async () => {
  const none = await capture(() => execIn(name, [], 0o022));
  assert.ok(none.error instanceof VnatError);
  assert.equal(none.error.kind, "invalid-input");
  assert.equal(none.error.message, `exec "${name}": no command given (usage: vnat exec NET -- CMD [ARG...])`);

  const missing = await capture(() => execIn("vtnosuchnet", ["true"], 0o022));
  assert.ok(missing.error instanceof VnatError);
  assert.equal(missing.error.message, 'network "vtnosuchnet": not defined in libvirt (see vnat net list)');

  const evil = await capture(() => execIn("bad\nname", ["true"], 0o022));
  assert.ok(evil.error instanceof VnatError);
  assert.doesNotMatch(evil.error.message, /\n/);

  const plain = h.name("vl");
  h.definePlain(plain, h.name("vb"), h.subnet());
  const other = await capture(() => execIn(plain, ["true"], 0o022));
  assert.ok(other.error instanceof VnatError);
  assert.equal(other.error.kind, "invalid-input");
  assert.equal(
    other.error.message,
    `network "${plain}": not a vnat network (no vnat metadata); vnat exec needs vnat's namespace`,
  );

  const stopped = h.track(h.name("vs"));
  const c = await capture(() =>
    netCreate(stopped, { subnet: `${h.subnet()}.0/24`, provider: h.provider, uplink: "auto", bridge: h.name("vb") }),
  );
  assert.equal(c.error, undefined, String(c.error));
  const off = await capture(() => execIn(stopped, ["true"], 0o022));
  assert.ok(off.error instanceof VnatError);
  assert.equal(off.error.kind, "conflict");
  assert.equal(off.error.message, `network "${stopped}" is not running (virsh net-start ${stopped})`);
});

test("not root: refused before anything is looked at", async () => {
  const real = process.getuid;
  process.getuid = () => 1000;
  try {
    await assert.rejects(
      execIn(name, ["true"], 0o022),
      (e: unknown) => e instanceof VnatError && e.kind === "needs-root",
    );
  } finally {
    process.getuid = real;
  }
});

test("through vnat itself (main.ts): stdin and stdout are the command's, its exit code vnat's", () => {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "exec", name, "--", "sh", "-c", "read x; echo got:$x; exit 3"],
    { cwd: REPO, encoding: "utf8", input: "hello\n", env: { ...process.env } },
  );
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, "got:hello\n");
  assert.equal(r.status, 3);
});

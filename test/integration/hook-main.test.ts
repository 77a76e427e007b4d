// hook/main.ts, the hook's entry point, run from source as libvirt runs the hook:
// `NAME OP SUBOP -` with hook data on stdin. An event vnat ignores exits 0 before anything
// is loaded or written; a bad call is refused with one line on stderr and the exit code of
// its kind, with stdout silent and nothing built.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { exitCode } from "../../src/core/errors.ts";
import { hookData, networkXml } from "../support/fixtures.ts";

const MAIN = fileURLToPath(new URL("../../src/hook/main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vnat-hook-main-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const net = {
  name: "hm1",
  bridge: "virbr9",
  uplinkBridge: "br-none",
  uplink: "198.51.100.9/24",
  gateway: "198.51.100.1",
};
const VNAT_DOC = hookData(net);
const PLAIN_DOC = `<hookData>\n${networkXml({ ...net, metadata: "<other/>" })}\n</hookData>\n`;

function hook(args: string[], stdin: string, tag: string) {
  const root = join(dir, tag);
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    input: stdin,
    encoding: "utf8",
    timeout: 30_000,
    env: {
      PATH: process.env.PATH,
      HOME: "/root",
      LC_ALL: "C",
      VNAT_RUN_DIR: join(root, "run"),
      VNAT_LOG_DIR: join(root, "log"),
      VNAT_CONFIG: join(root, "config.json"),
    },
  });
  return { ...r, root };
}

test("an event for a network without vnat metadata exits 0 at once, silent, creating nothing", () => {
  const r = hook(["plain", "start", "begin", "-"], PLAIN_DOC, "plain");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "");
  assert.equal(existsSync(r.root), false, "no run or log directory");
});

test("an event vnat does not handle exits 0 even with vnat metadata, creating nothing", () => {
  const r = hook(["hm1", "port-created", "nonsense", "-"], VNAT_DOC, "other-event");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, "");
  assert.equal(existsSync(r.root), false);
});

test("a bad network name is refused in one line with invalid-input's exit code; nothing is built", () => {
  const r = hook(["bad/name", "start", "begin", "-"], VNAT_DOC, "bad-name");
  assert.equal(r.status, exitCode("invalid-input"));
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^vnat: network name "bad\/name": only letters, digits/);
  assert.equal(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
  assert.equal(existsSync(join(r.root, "run")), false, "no state under the run directory");
  // the failure is in the hook's log too
  const log = readdirSync(join(r.root, "log")).map((f) => readFileSync(join(r.root, "log", f), "utf8"));
  assert.match(log.join(""), /hook failed/);
});

test("hook data naming another network than argv is refused in one line, nothing built", () => {
  const r = hook(["hm2", "start", "begin", "-"], VNAT_DOC, "mismatch");
  assert.equal(r.status, exitCode("invalid-input"));
  assert.equal(r.stderr, `vnat: network "hm2": hook data names network "hm1" (expected the same name)\n`);
  assert.equal(existsSync(join(r.root, "run")), false);
});

test("--agent run from source (no build id) serves nothing: exits 0, no agent directory", () => {
  const r = hook(["--agent"], "", "agent");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, "");
  assert.equal(existsSync(join(r.root, "run", "agent")), false);
});

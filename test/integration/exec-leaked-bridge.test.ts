// exec/change/leaked-bridge.ts: at `start begin` after a failed `started` (NAME.begun left), the
// bridge libvirt kept is removed when it has no ports, and left when it has one (somebody's)
// or when no failed start is recorded. Real bridges in the host namespace, roots in a temp dir.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { hasState, writeState } from "../../src/adapters/store/state.ts";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { netLockPaths } from "../../src/core/paths.ts";
import { buildSpec, type NetSpec } from "../../src/core/input/spec.ts";
import { removeLeakedBridge } from "../../src/exec/change/leaked-bridge.ts";
import { processRunner } from "../../src/exec/run.ts";
import { hookData } from "../support/fixtures.ts";
import { run } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
const dir = mkdtempSync(join(tmpdir(), "vnat-leaked-"));
const roots = { run: join(dir, "run"), config: join(dir, "config.json"), log: join(dir, "log") };
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await s.cleanup();
});

const NAME = `lb${s.tag}`;
const spec = (lanBridge: string): NetSpec =>
  buildSpec(
    parseHookData(
      hookData({
        name: NAME,
        bridge: lanBridge,
        uplinkBridge: "br-unused",
        uplink: "198.51.100.50/24",
        gateway: "198.51.100.1",
      }),
    ).network,
    EMPTY_CONFIG,
  );
const begun = netLockPaths(roots, NAME).begun;
const markBegun = () => {
  mkdirSync(dirname(begun), { recursive: true });
  writeFileSync(begun, "");
};
const present = (l: string) => existsSync(`/sys/class/net/${l}`);

test("no failed start recorded: the bridge stays, false", async () => {
  const br = await s.bridge("a");
  assert.equal(await removeLeakedBridge(processRunner, roots, spec(br)), false);
  assert.ok(present(br));
});

test("a failed start and a bridge without ports: the bridge and the mark go, true", async () => {
  const br = await s.bridge("b");
  markBegun();
  assert.equal(await removeLeakedBridge(processRunner, roots, spec(br)), true);
  assert.equal(present(br), false);
  assert.equal(existsSync(begun), false);
});

test("a failed start but the bridge has a port: it is somebody's and stays, with the mark", async () => {
  const br = await s.bridge("c");
  const port = s.link("c0");
  await run("ip", ["link", "add", port, "type", "veth", "peer", "name", s.link("c1")]);
  await run("ip", ["link", "set", port, "master", br]);
  markBegun();
  assert.equal(await removeLeakedBridge(processRunner, roots, spec(br)), false);
  assert.ok(present(br));
  assert.ok(existsSync(begun));
  rmSync(begun);
});

test("a failed start whose bridge is gone already: the mark goes, false", async () => {
  markBegun();
  assert.equal(await removeLeakedBridge(processRunner, roots, spec(s.link("d"))), false);
  assert.equal(existsSync(begun), false);
});

test("a failed start that left vnat state: it is torn down first, then the bridge goes", async () => {
  const br = await s.bridge("e");
  markBegun();
  await writeState(roots, {
    name: NAME,
    phase: "starting",
    lanBridge: br,
    uplinkBridge: "br-unused",
    uplink: "198.51.100.50",
    netns: `vnat-${NAME}`,
    startedAt: new Date().toISOString(),
  });
  assert.equal(await removeLeakedBridge(processRunner, roots, spec(br)), true);
  assert.equal(await hasState(roots, NAME), false);
  assert.equal(present(br), false);
});

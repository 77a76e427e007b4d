// The hook's cheap reads of live state (src/adapters/sysfs.ts) against the real kernel: links
// are made inside a namespace this test creates, and the module runs there under
// `ip netns exec`, which mounts that namespace's own /sys, so the host's links are never
// touched; /run/netns is read from here. Everything is removed and checked gone.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { isBridge, linkExists, netnsExists } from "../../src/adapters/sysfs.ts";
import { needs } from "../support/needs.ts";

const NS = `vt-sysfs-${randomBytes(3).toString("hex")}`;
const ETC = `/etc/netns/${NS}`;
const unmet = process.getuid?.() !== 0 ? "needs root (ip netns add)" : undefined;
const ip = (...args: string[]): void => void execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });

before(() => {
  if (unmet) return;
  mkdirSync(ETC, { recursive: true });
  writeFileSync(`${ETC}/resolv.conf`, "nameserver 127.0.0.1\n");
  ip("netns", "add", NS);
  ip("-n", NS, "link", "add", "vtbr0", "type", "bridge");
  ip("-n", NS, "link", "add", "vtve0", "type", "veth", "peer", "name", "vtve1");
});
after(() => {
  if (unmet) return;
  spawnSync("ip", ["netns", "del", NS]);
  rmSync(ETC, { recursive: true, force: true });
  assert.equal(existsSync(`/run/netns/${NS}`), false, `namespace ${NS} left behind`);
  assert.equal(existsSync(ETC), false);
});

/** linkExists/isBridge of each NAME, run inside NS (its own /sys). */
function inNamespace(names: string[]): Record<string, [boolean, boolean]> {
  const mod = fileURLToPath(new URL("../../src/adapters/sysfs.ts", import.meta.url));
  const script = `const s = await import(${JSON.stringify(mod)});
const names = ${JSON.stringify(names)};
process.stdout.write(JSON.stringify(Object.fromEntries(names.map((n) => [n, [s.linkExists(n), s.isBridge(n)]]))));`;
  const r = spawnSync(
    "ip",
    ["netns", "exec", NS, process.execPath, "--import", "tsx", "--input-type=module", "-e", script],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, [boolean, boolean]>;
}

needs(unmet).test("links and bridges as /sys shows them: a bridge, a veth, lo, a missing name", {}, () => {
  assert.deepEqual(inNamespace(["vtbr0", "vtve0", "lo", "vtnone0"]), {
    vtbr0: [true, true],
    vtve0: [true, false],
    lo: [true, false],
    vtnone0: [false, false],
  });
  // the namespace's links are not the host's: the same calls here see none of them
  assert.equal(linkExists("vtbr0") || isBridge("vtbr0"), false);
  assert.equal(linkExists("lo"), true);
});

needs(unmet).test("links deleted are gone at once, for both reads", {}, () => {
  ip("-n", NS, "link", "del", "vtve0");
  ip("-n", NS, "link", "del", "vtbr0");
  assert.deepEqual(inNamespace(["vtbr0", "vtve0"]), { vtbr0: [false, false], vtve0: [false, false] });
});

needs(unmet).test(
  "netnsExists: a named namespace while it exists, not after; a name never added is not one",
  {},
  () => {
    assert.equal(netnsExists(NS), true);
    assert.equal(netnsExists(`${NS}x`), false);
    const other = `vt-sysfs-${randomBytes(3).toString("hex")}`;
    mkdirSync(`/etc/netns/${other}`, { recursive: true });
    writeFileSync(`/etc/netns/${other}/resolv.conf`, "nameserver 127.0.0.1\n");
    try {
      ip("netns", "add", other);
      assert.equal(netnsExists(other), true);
      ip("netns", "del", other);
      assert.equal(netnsExists(other), false);
    } finally {
      spawnSync("ip", ["netns", "del", other]);
      rmSync(`/etc/netns/${other}`, { recursive: true, force: true });
    }
  },
);

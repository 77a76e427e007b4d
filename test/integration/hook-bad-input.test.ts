// Bad input stops at `start begin` (a failure there is clean for libvirt): one line that
// names the field and what is allowed, and nothing touched on the host.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { runHook, sandboxNet, vnatDebris } from "../support/hook.ts";
import { assertNoWorldDebris, createWorld, type World } from "../support/world.ts";

const tag = randomBytes(2).toString("hex");
let world: World;
let good: NetOpts;
const tmp = mkdtempSync(join(tmpdir(), "vnat-bad-"));

before(async () => {
  world = await createWorld();
  good = await sandboxNet(world, `t${tag}b`, "198.51.100.31/24");
});

after(async () => {
  await runHook(good.name, "stopped", "end", hookData(good));
  await runHook(`${good.name}x`, "stopped", "end", hookData({ ...good, name: `${good.name}x` }));
  await world?.destroy();
  rmSync(tmp, { recursive: true, force: true });
  assert.deepEqual(vnatDebris(good.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

async function refused(name: string, stdin: string, re: RegExp, env: Record<string, string> = {}): Promise<void> {
  const r = await runHook(name, "start", "begin", stdin, env);
  assert.notEqual(r.exitCode, 0, `accepted: ${stdin}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.split("\n").filter(Boolean);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, re);
  assert.deepEqual(vnatDebris(name), []);
}

describe("start begin refuses bad input", () => {
  const cases: Array<[string, () => [string, string, RegExp]]> = [
    [
      "malformed XML",
      () => [
        good.name,
        `<hookData><network xmlns:vnat="urn:vnat:network:1">`,
        /^vnat: hook data: malformed XML at line 1: /,
      ],
    ],
    [
      "vnat metadata without a lan",
      () => [
        good.name,
        hookData({
          ...good,
          metadata: `<vnat:network xmlns:vnat="urn:vnat:network:1"><vnat:uplink address="198.51.100.31/24"/></vnat:network>`,
        }),
        /^vnat: network "t\w+b": missing <vnat:lan address="A.B.C.D\/N"> \(the guests' gateway\)$/,
      ],
    ],
    [
      "invalid lan CIDR",
      () => [
        good.name,
        hookData({ ...good, lan: "10.0.0.1/33" }),
        /^vnat: network "t\w+b": lan address "10.0.0.1\/33": not an IPv4 address with prefix \(expected A.B.C.D\/N\)$/,
      ],
    ],
    [
      "invalid uplink CIDR",
      () => [
        good.name,
        hookData({ ...good, uplink: "198.51.100.999/24" }),
        /uplink address "198.51.100.999\/24": not an IPv4 address with prefix/,
      ],
    ],
    [
      "gateway outside its subnet",
      () => [
        good.name,
        hookData({ ...good, gateway: "198.51.99.1" }),
        /^vnat: network "t\w+b": uplink gateway 198.51.99.1 is outside the uplink subnet 198.51.100.0\/24 \(expected a host address in it\)$/,
      ],
    ],
    [
      "missing provider bridge",
      () => [
        good.name,
        hookData({ ...good, uplinkBridge: `vtz-${tag}` }),
        new RegExp(
          `^vnat: network "t\\w+b": provider bridge "vtz-${tag}" does not exist \\(create it, or name an existing bridge in <vnat:uplink bridge=…>\\)$`,
        ),
      ],
    ],
    [
      "shell metacharacters in the name",
      () => [
        "a$(reboot)",
        hookData({ ...good, name: "a$(reboot)" }),
        /^vnat: network name "a\$\(reboot\)": only letters, digits/,
      ],
    ],
    [
      "a 64-character name",
      () => [
        "x".repeat(64),
        hookData({ ...good, name: "x".repeat(64) }),
        /^vnat: network name "x{40}…" is 64 characters \(vnat allows at most 32\)$/,
      ],
    ],
    [
      "a control character in a value",
      () => [
        good.name,
        hookData({ ...good, lan: "10.0.0.1/24\u0007" }),
        /lan address "10.0.0.1\/24\?": not an IPv4 address with prefix/,
      ],
    ],
  ];
  for (const [what, make] of cases)
    test(what, async () => {
      const [name, stdin, re] = make();
      await refused(name, stdin, re);
    });

  test("an uplink outside the provider subnet named in the config", async () => {
    const cfg = join(tmp, "config.json");
    writeFileSync(cfg, JSON.stringify({ providers: [{ bridge: world.providerBridge, gateway: "198.51.100.1/25" }] }));
    await refused(
      good.name,
      hookData({ ...good, uplink: "198.51.100.200/24" }),
      /^vnat: network "t\w+b": uplink address 198.51.100.200\/24 is outside provider "vtp-\w+" subnet 198.51.100.0\/25$/,
      { VNAT_CONFIG: cfg },
    );
  });

  test("an uplink already used by another active vnat network", async () => {
    const r = await runHook(good.name, "started", "begin", hookData(good));
    assert.equal(r.exitCode, 0, r.stderr);
    const other = { ...good, name: `${good.name}x`, bridge: await world.addLanBridge() };
    await refused(
      other.name,
      hookData(other),
      new RegExp(
        `^vnat: network "${other.name}": uplink 198.51.100.31 on bridge "vtp-\\w+" is already used by active vnat network "${good.name}"$`,
      ),
    );
    // and at `started` too, should libvirt call it anyway
    const s = await runHook(other.name, "started", "begin", hookData(other));
    assert.equal(s.exitCode, 3);
    assert.deepEqual(vnatDebris(other.name), []);
  });

  test("a network without vnat metadata is not vnat's business", async () => {
    const r = await runHook(good.name, "start", "begin", hookData({ ...good, metadata: "" }));
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout + r.stderr, "");
  });
});

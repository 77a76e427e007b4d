// hook/preflight.ts: what `start begin` refuses before anything is built — a provider that
// is missing or no bridge, an uplink or floating IP a live network claims, vnat's names held
// by somebody else or by another network — on real links and namespaces the test makes, and
// what it lets through (its own leftovers, a claim of a network that is gone). Roots are a temp dir.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { writeState } from "../../src/adapters/store/state.ts";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { kernelNames, ownerAlias } from "../../src/core/names.ts";
import { buildSpec, type NetSpec } from "../../src/core/input/spec.ts";
import { lockNetwork } from "../../src/exec/netlock.ts";
import { preflight, refuseNameCollisions } from "../../src/hook/preflight.ts";
import { hookData } from "../support/fixtures.ts";
import { run, sh } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
const dir = mkdtempSync(join(tmpdir(), "vnat-preflight-"));
const roots = { run: join(dir, "run"), config: join(dir, "config.json"), log: join(dir, "log") };
let lan = "";
let prov = "";
let notBridge = "";
const NAME = `pf${s.tag}`;
const k = kernelNames(NAME);

before(async () => {
  lan = await s.bridge("l");
  prov = await s.bridge("p");
  notBridge = s.link("v0");
  await run("ip", ["link", "add", notBridge, "type", "veth", "peer", "name", s.link("v1")]);
});
after(async () => {
  for (const l of [k.lanHost, k.uplinkHost]) await sh("ip", ["link", "del", l]);
  await sh("ip", ["netns", "del", k.netns]);
  rmSync(dir, { recursive: true, force: true });
  await s.cleanup();
});

const spec = (bridge = prov, extra = ""): NetSpec =>
  buildSpec(
    parseHookData(
      hookData({
        name: NAME,
        bridge: lan,
        uplinkBridge: bridge,
        uplink: "198.51.100.40/24",
        gateway: "198.51.100.1",
        extraMetadata: extra,
      }),
    ).network,
    EMPTY_CONFIG,
  );

const refused = (kind: string, re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof VnatError, String(e));
  assert.equal(e.kind, kind);
  assert.match(e.message, re);
  assert.doesNotMatch(e.message, /\n/);
  return true;
};

test("a free network on an existing provider bridge passes", async () => {
  await preflight(spec(), roots);
});

test("a missing provider bridge, or a provider that is no bridge: invalid input naming it", async () => {
  await assert.rejects(
    preflight(spec(`${prov}x`), roots),
    refused("invalid-input", new RegExp(`^network "${NAME}": provider bridge "${prov}x" does not exist`)),
  );
  await assert.rejects(
    preflight(spec(notBridge), roots),
    refused("invalid-input", new RegExp(`provider "${notBridge}" exists but is not a bridge$`)),
  );
});

test("an uplink or floating IP claimed by a live network is a conflict; by a gone one it is not", async () => {
  const claims = join(roots.run, "claims");
  mkdirSync(claims, { recursive: true });
  writeFileSync(join(claims, `${prov}@198.51.100.40`), "other1\n");
  await preflight(spec(), roots); // other1 holds no lock and has no namespace: a stale claim
  const lock = await lockNetwork(roots, "other1");
  assert.ok(lock);
  try {
    await assert.rejects(
      preflight(spec(), roots),
      refused("conflict", /uplink 198\.51\.100\.40 on bridge ".*" is already used by active vnat network "other1"$/),
    );
    rmSync(join(claims, `${prov}@198.51.100.40`));
    writeFileSync(join(claims, `${prov}@198.51.100.41`), "other1\n");
    await assert.rejects(
      preflight(spec(prov, `<vnat:floating address="198.51.100.41" to="10.0.0.5"/>`), roots),
      refused("conflict", /floating 198\.51\.100\.41 on bridge ".*" is already used by active vnat network "other1"$/),
    );
  } finally {
    await lock.finish("start", "ok");
    rmSync(claims, { recursive: true, force: true });
  }
});

test("vnat's namespace or host link names held by somebody else: conflict; with vnat's own state: allowed", async () => {
  await run("ip", ["netns", "add", k.netns]);
  await assert.rejects(
    preflight(spec(), roots),
    refused("conflict", new RegExp(`namespace "${k.netns}" already exists and vnat did not create it`)),
  );
  await run("ip", ["netns", "del", k.netns]);
  await run("ip", ["link", "add", k.lanHost, "type", "veth", "peer", "name", k.uplinkHost]);
  await assert.rejects(
    preflight(spec(), roots),
    refused(
      "conflict",
      new RegExp(`interface "${k.lanHost}" already exists and vnat did not create it \\(remove it\\)$`),
    ),
  );
  // leftovers of vnat's own crashed start are cleaned at `started`, not refused here
  await writeState(roots, {
    name: NAME,
    phase: "active",
    lanBridge: lan,
    uplinkBridge: prov,
    uplink: "198.51.100.40",
    netns: k.netns,
    startedAt: new Date().toISOString(),
  });
  await preflight(spec(), roots);
  rmSync(join(roots.run, "net"), { recursive: true, force: true });
  await run("ip", ["link", "del", k.lanHost]);
});

test("refuseNameCollisions: a host link name another network's link holds (its alias) is refused, own is not", async () => {
  await run("ip", ["link", "add", k.lanHost, "type", "veth", "peer", "name", k.uplinkHost]);
  try {
    await run("ip", ["link", "set", k.lanHost, "alias", ownerAlias("someoneelse")]);
    await assert.rejects(
      refuseNameCollisions(spec(), roots),
      refused("conflict", new RegExp(`its interface name "${k.lanHost}" collides with network "someoneelse"'s`)),
    );
    await run("ip", ["link", "set", k.lanHost, "alias", ownerAlias(NAME)]);
    await run("ip", ["link", "set", k.uplinkHost, "alias", ownerAlias(NAME)]);
    await refuseNameCollisions(spec(), roots);
  } finally {
    await sh("ip", ["link", "del", k.lanHost]);
  }
});

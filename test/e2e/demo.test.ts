// The README's first command runs `vnat demo`; this runs the same bundle end to end (with
// the hook in network.d) and checks its printout and that --cleanup leaves nothing. It
// runs a demo of its own (VNAT_DEMO_TAG: its own networks, bridge and namespaces), so a
// demo the user left running (install.sh --demo) is neither in the way nor touched.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import {
  buildBundles,
  ensureDaemons,
  libvirtUnavailable,
  netDebris,
  useHook,
  virsh,
  vnat,
} from "../support/libvirt.ts";
import { cacheEntries } from "../support/hook.ts";
import { needs } from "../support/needs.ts";
import { listDebris, listInSystemConfig, worldUnavailable } from "../support/world.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();
// the CLI this test runs reads it (src/demo/demo.ts)
const tag = `t${randomBytes(2).toString("hex")}`;
process.env.VNAT_DEMO_TAG = tag;
const NETS = [`${tag}-a`, `${tag}-b`];
let hook: Awaited<ReturnType<typeof useHook>> | undefined;
let cfgDir = "";
let userDemo: string[] = [];

before(async () => {
  if (unmet) return;
  userDemo = await listDebris("demo");
  await ensureDaemons();
  await buildBundles();
  hook = await useHook();
  cfgDir = await mkdtemp(join(tmpdir(), "vnat-e2e-demo-"));
  // the hook libvirt runs reads the host's config: the demo's provider is listed there while it runs
  await listInSystemConfig(`vtp-${tag}`, true);
});
after(async () => {
  if (unmet) return;
  await vnat(join(cfgDir, "config.json"), ["demo", "--cleanup"]);
  await listInSystemConfig(`vtp-${tag}`, false);
  await hook?.release();
  await rm(cfgDir, { recursive: true, force: true });
  assert.deepEqual(await listDebris("demo"), userDemo, "the user's demo changed");
});

needs(unmet).test(
  "vnat demo: two networks on 10.0.0.0/24, a guest on each seen from two uplinks; --cleanup leaves nothing",
  {},
  async () => {
    const cfg = join(cfgDir, "config.json");
    const t0 = Date.now();
    const r = await vnat(cfg, ["demo"]);
    console.log(`# vnat demo took ${Date.now() - t0} ms`);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    for (const [i, n] of NETS.entries())
      assert.match(
        r.stdout,
        new RegExp(
          `${n}: guest vt-${tag}-g${i + 1} on \\S+ leased 10\\.0\\.0\\.\\d+/24 .* saw it come from 198\\.51\\.100\\.\\d+ `,
        ),
      );
    const seen = [...r.stdout.matchAll(/saw it come from (\S+)/g)].map((m) => m[1]);
    assert.equal(new Set(seen).size, 2, `both guests came from one address: ${seen.join(", ")}`);

    const c = await vnat(cfg, ["demo", "--cleanup"]);
    assert.equal(c.exitCode, 0, c.stderr);
    assert.deepEqual(await listDebris(tag), []);
    for (const n of NETS) {
      assert.deepEqual(await netDebris(n), []);
      assert.notEqual((await virsh(["net-info", n])).exitCode, 0, `${n} is still defined`);
      assert.deepEqual(cacheEntries(n), [], `${n}: the hook still remembers it`);
    }
    assert.deepEqual(JSON.parse((await vnat(cfg, ["provider", "list", "--json"])).stdout), []);
  },
);

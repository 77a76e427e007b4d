// The README's first command runs `vnat demo`; this runs the same bundle end to end (with
// the hook in network.d) and checks its printout and that --cleanup leaves nothing.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
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
import { listDebris, worldUnavailable } from "../support/world.ts";

const present = libvirtUnavailable() ? [] : await listDebris("demo");
const skip =
  libvirtUnavailable() ?? worldUnavailable() ?? (present.length ? "a demo is running on this machine" : undefined);
let hook: Awaited<ReturnType<typeof useHook>> | undefined;
let cfgDir = "";

before(async () => {
  if (skip) return;
  await ensureDaemons();
  await buildBundles();
  hook = await useHook();
  cfgDir = await mkdtemp(join(tmpdir(), "vnat-e2e-demo-"));
});
after(async () => {
  if (skip) return;
  await vnat(join(cfgDir, "config.json"), ["demo", "--cleanup"]);
  await hook?.release();
  await rm(cfgDir, { recursive: true, force: true });
});

test(
  "vnat demo: two networks on 10.0.0.0/24, a guest on each seen from two uplinks; --cleanup leaves nothing",
  { skip },
  async () => {
    const cfg = join(cfgDir, "config.json");
    const t0 = Date.now();
    const r = await vnat(cfg, ["demo"]);
    console.log(`# vnat demo took ${Date.now() - t0} ms`);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /demo-a: guest vt-demo-g1 on \S+ leased 10\.0\.0\.\d+\/24 .* saw it come from 198\.51\.100\.\d+ /,
    );
    assert.match(
      r.stdout,
      /demo-b: guest vt-demo-g2 on \S+ leased 10\.0\.0\.\d+\/24 .* saw it come from 198\.51\.100\.\d+ /,
    );
    const seen = [...r.stdout.matchAll(/saw it come from (\S+)/g)].map((m) => m[1]);
    assert.equal(new Set(seen).size, 2, `both guests came from one address: ${seen.join(", ")}`);

    const c = await vnat(cfg, ["demo", "--cleanup"]);
    assert.equal(c.exitCode, 0, c.stderr);
    assert.deepEqual(await listDebris("demo"), []);
    for (const n of ["demo-a", "demo-b"]) {
      assert.deepEqual(await netDebris(n), []);
      assert.notEqual((await virsh(["net-info", n])).exitCode, 0, `${n} is still defined`);
      assert.deepEqual(cacheEntries(n), [], `${n}: the hook still remembers it`);
    }
    assert.deepEqual(JSON.parse((await vnat(cfg, ["provider", "list", "--json"])).stdout), []);
  },
);

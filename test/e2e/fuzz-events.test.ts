// The event fuzzer, short: ~120 hook events (net-start, net-destroy, guest port-created /
// port-deleted) fired back to back over 3 vnat networks on the real libvirt daemon, with
// `vnat reconcile` and `vnat forward` running concurrently and vnat processes SIGKILLed now
// and then; every quiet point checks the host against libvirt (test/support/fuzz-events.ts).
// The long run is `npm run fuzz`. VNAT_FUZZ_SEED reproduces a run, VNAT_FUZZ_EVENTS sets
// its length. run() closes its fleet (networks, world, hook) however it ends; the baseline
// is checked here again afterwards.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { kernelNames } from "../../src/core/names.ts";
import { run, summary, type FuzzReport } from "../support/fuzz-events.ts";
import { vnatDebris } from "../support/hook.ts";
import { libvirtUnavailable, netDebris, virshRaw } from "../support/libvirt.ts";
import { worldUnavailable } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();
const seed = Number(process.env.VNAT_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const events = Number(process.env.VNAT_FUZZ_EVENTS ?? 120);

needs(unmet).describe("event fuzzer (real libvirt, real kernel)", {}, () => {
  test(`seed ${seed}, ${events} events over 3 networks: no violation (VNAT_FUZZ_SEED=${seed} reproduces)`, async (t) => {
    console.log(`# fuzz: seed ${seed}`);
    let report: FuzzReport | undefined;
    let names: string[] = [];
    try {
      report = await run({ seed, events, networks: 3, log: (l) => t.diagnostic(l), onNetworks: (n) => (names = n) });
    } finally {
      // the baseline, whatever happened: nothing of this run's networks is left anywhere
      const defined = (await virshRaw(["net-list", "--all", "--name"])).stdout.split("\n").map((s) => s.trim());
      for (const n of names) {
        assert.ok(!defined.includes(n), `${n} still defined in libvirt`);
        assert.deepEqual([...(await netDebris(n)), ...vnatDebris(n)], [], `${n} left something`);
        assert.ok(!existsSync(`/run/netns/${kernelNames(n).netns}`));
      }
      const claims = existsSync("/run/vnat/claims") ? readdirSync("/run/vnat/claims") : [];
      for (const c of claims) {
        let owner = "";
        try {
          owner = readFileSync(`/run/vnat/claims/${c}`, "utf8").trim();
        } catch {
          continue;
        }
        assert.ok(!names.includes(owner), `claim ${c} of ${owner} left`);
      }
    }
    console.log(summary(report).replace(/^/gm, "# "));
    for (const v of report.violations) console.log(`# VIOLATION ${v}`);
    assert.ok(report.events >= events, `fired ${report.events} of ${events} events`);
    assert.ok(report.quietPoints >= 2);
    assert.deepEqual(report.violations, []);
  });
});

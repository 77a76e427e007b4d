// The soak, short: a seeded random sequence of ~30 operations (start, stop, guest attach
// and detach, dnsmasq killed, libvirtd restarted when this run may, reconcile) over 5
// vnat networks, every invariant checked after every step (test/support/soak.ts). The
// long run is `npm run soak`. VNAT_SOAK_SEED reproduces a run, VNAT_SOAK_OPS sets its length.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Fleet, type FleetNet } from "../support/fleet.ts";
import { libvirtUnavailable } from "../support/libvirt.ts";
import { Soak } from "../support/soak.ts";
import { worldUnavailable } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();
const seed = Number(process.env.VNAT_SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ops = Number(process.env.VNAT_SOAK_OPS ?? 30);

needs(unmet).describe("soak (real libvirt)", {}, () => {
  let fleet: Fleet;
  let soak: Soak | undefined;
  const nets: FleetNet[] = [];

  before(async () => {
    fleet = await Fleet.open();
    for (let i = 0; i < 5; i++)
      nets.push(await fleet.create(`vns-${fleet.tag}-${i}`, { uplink: i < 2 ? `198.51.100.${220 + i}` : "auto" }));
  });

  after(async () => {
    await soak?.cleanup();
    if (fleet) assert.deepEqual(await fleet.close(), []);
  });

  test(`seed ${seed}, ${ops} operations over 5 networks: no violation (VNAT_SOAK_SEED=${seed} reproduces)`, async (t) => {
    soak = new Soak(fleet, nets, { seed, ops, log: (l) => t.diagnostic(l) });
    const r = await soak.run();
    const fmt = (o: Record<string, number>): string =>
      Object.entries(o)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "none";
    console.log(
      `# soak: seed ${r.seed}, ${r.ops} operations, ${r.violations.length} violations, ${r.ms} ms; done: ${fmt(r.done)}; replayed: ${fmt(r.replayed)}; host address changes seen: ${r.hostAddressChanges}`,
    );
    assert.deepEqual(r.violations, []);
  });
});

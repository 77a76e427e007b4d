// A reboot as vnat sees it: every vnat namespace, dnsmasq, veth, state directory and claim
// of the fleet's networks is gone, while libvirt still reports the networks active (its
// bridges and guests are still there). `vnat reconcile` must bring every one back: the
// same uplinks, healthy, and the guests leasing and reaching the internet again.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Fleet, type FleetNet } from "../support/fleet.ts";
import { libvirtUnavailable, virsh } from "../support/libvirt.ts";
import { run } from "../support/sh.ts";
import { worldUnavailable, type Guest } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();
const N = 4;

needs(unmet).describe("reboot: namespaces gone, libvirt networks still active (real libvirt)", {}, () => {
  let fleet: Fleet;
  const nets: FleetNet[] = [];
  const guests: Guest[] = [];

  before(async () => {
    fleet = await Fleet.open();
    for (let i = 0; i < N; i++) {
      const n = await fleet.create(`vnr-${fleet.tag}-${i}`, { uplink: i === 0 ? "198.51.100.210" : "auto" });
      await fleet.start(n.name);
      nets.push(n);
      const g = await fleet.world.addGuest(n.bridge);
      await g.dhcp();
      guests.push(g);
    }
  });

  after(async () => {
    if (fleet) assert.deepEqual(await fleet.close(), []);
  });

  test("after the wipe: libvirt says active, vnat status says down", async () => {
    for (const n of nets) await fleet.wipeRuntime(n.name);
    const active = (await virsh(["net-list", "--name"])).stdout.split("\n");
    for (const n of nets) assert.ok(active.includes(n.name), `${n.name} no longer active in libvirt`);
    for (const d of await fleet.status(nets.map((n) => n.name)))
      assert.deepEqual([d.health, d.reasons.map((r) => r.code)], ["down", ["namespace-missing"]], d.name);
  });

  test("vnat reconcile restores them all", async () => {
    const t0 = performance.now();
    const out = await fleet.reconcile(nets.map((n) => n.name));
    const ms = Math.round(performance.now() - t0);
    const docs = await fleet.status(nets.map((n) => n.name));
    for (const d of docs) assert.equal(d.health, "healthy", `${d.name}: ${JSON.stringify(d.reasons)}`);
    assert.deepEqual(
      docs.map((d) => d.uplink?.address?.split("/")[0]),
      nets.map((n) => n.uplink),
    );
    console.log(`# reconcile of ${N} wiped networks: ${ms} ms; ${out.trim().split("\n").length} output line(s)`);
  });

  test("the guests lease again and reach the internet from their own uplinks", async () => {
    const seen = await Promise.all(
      guests.map(async (g) => {
        // the new namespace's gateway has a new MAC; a real guest relearns it within seconds
        await run("ip", ["-n", g.ns, "neigh", "flush", "all"]);
        await g.dhcp();
        return (await g.fetch(`http://${fleet.world.internetIp}/`)).trim();
      }),
    );
    assert.deepEqual(
      seen,
      nets.map((n) => n.uplink),
    );
  });

  test("a second reconcile changes nothing", async () => {
    const out = await fleet.reconcile(nets.map((n) => n.name));
    for (const d of await fleet.status(nets.map((n) => n.name))) assert.equal(d.health, "healthy");
    console.log(`# second reconcile: ${out.trim().replace(/\n/g, " | ")}`);
  });
});

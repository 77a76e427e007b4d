// Concurrency through the real daemon: 10 vnat networks created in parallel (half with
// an explicit uplink, half `--uplink auto` from the provider's pool, every bridge name
// allocated), then started in parallel by `virsh net-start`: 10 healthy namespaces, 10
// distinct uplinks, and a guest on each reaching the internet from its own uplink.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { Fleet, type FleetNet } from "../support/fleet.ts";
import { libvirtUnavailable } from "../support/libvirt.ts";
import { worldUnavailable } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();
const N = 10;

needs(unmet).describe("10 networks at once (real libvirt)", {}, () => {
  let fleet: Fleet;
  let nets: FleetNet[] = [];

  before(async () => {
    fleet = await Fleet.open();
  });

  after(async () => {
    if (fleet) assert.deepEqual(await fleet.close(), []);
  });

  test("created in parallel: 10 distinct uplinks and bridges", async () => {
    const t0 = performance.now();
    // explicit uplinks lie outside the pool: inside it, whichever create came first would
    // win the address (an explicit request that loses is refused, rightly, so the outcome
    // would depend on timing)
    nets = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        fleet.create(`vnc-${fleet.tag}-${i}`, { uplink: i % 2 === 0 ? `198.51.100.${200 + i}` : "auto" }),
      ),
    );
    const ms = Math.round(performance.now() - t0);
    assert.equal(new Set(nets.map((n) => n.uplink)).size, N, nets.map((n) => n.uplink).join(" "));
    assert.equal(new Set(nets.map((n) => n.bridge)).size, N);
    for (let i = 0; i < N; i += 2) assert.equal(nets[i]!.uplink, `198.51.100.${200 + i}`);
    console.log(`# ${N} parallel creates: ${ms} ms; uplinks ${nets.map((n) => n.uplink).join(" ")}`);
  });

  test("started in parallel: 10 healthy namespaces, each holding its own uplink", async () => {
    const t0 = performance.now();
    await Promise.all(nets.map((n) => fleet.start(n.name)));
    const ms = Math.round(performance.now() - t0);
    const docs = await fleet.status(nets.map((n) => n.name));
    for (const d of docs) assert.equal(d.health, "healthy", `${d.name}: ${JSON.stringify(d.reasons)}`);
    const live = docs.map((d) => d.uplink?.address?.split("/")[0]);
    assert.deepEqual(
      live,
      nets.map((n) => n.uplink),
    );
    // the claims agree: one per uplink, each naming its network
    const claims = readdirSync("/run/vnat/claims").filter((c) => c.startsWith(`${fleet.world.providerBridge}@`));
    assert.equal(claims.length, N);
    for (const n of nets) {
      const path = `/run/vnat/claims/${fleet.world.providerBridge}@${n.uplink}`;
      assert.ok(existsSync(path), `no claim for ${n.uplink}`);
      assert.equal(readFileSync(path, "utf8").trim(), n.name);
    }
    console.log(`# ${N} parallel net-starts: ${ms} ms`);
  });

  test("a guest on each network leases and reaches the internet from its network's uplink", async () => {
    const guests = await Promise.all(nets.map((n) => fleet.world.addGuest(n.bridge)));
    const t0 = performance.now();
    const seen = await Promise.all(
      guests.map(async (g) => {
        await g.dhcp();
        return (await g.fetch(`http://${fleet.world.internetIp}/`)).trim();
      }),
    );
    assert.deepEqual(
      seen,
      nets.map((n) => n.uplink),
    );
    assert.equal(await fleet.world.privateSourcePackets(), 0);
    console.log(`# ${N} guests leased and fetched in parallel: ${Math.round(performance.now() - t0)} ms`);
  });
});

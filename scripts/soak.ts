// The long soak: `npm run soak [-- --seed N --ops 200 --networks 5]`. A seeded random
// sequence of operations (start, stop, guest attach and detach, dnsmasq killed, libvirtd
// restarted, reconcile) over vnat networks on the real libvirt daemon, every invariant
// checked after every step (test/support/soak.ts). Needs root, libvirt and a sandbox
// world, like the e2e tests; libvirtd is restarted only when this run started it (or with
// VNAT_E2E_RESTART_LIBVIRTD=1), else each restart is replayed as the port-created events
// a restart sends. Prints the seed, the operation count and the violation count; exits 1
// on any violation.
import { parseArgs } from "node:util";
import { Fleet, type FleetNet } from "../test/support/fleet.ts";
import { libvirtUnavailable } from "../test/support/libvirt.ts";
import { Soak } from "../test/support/soak.ts";
import { worldUnavailable } from "../test/support/world.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    ops: { type: "string", default: "200" },
    networks: { type: "string", default: "5" },
  },
});
const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
const ops = Number(values.ops);
const count = Number(values.networks);
if (
  !Number.isInteger(seed) ||
  !Number.isInteger(ops) ||
  ops < 1 ||
  !Number.isInteger(count) ||
  count < 1 ||
  count > 50
) {
  console.error("usage: npm run soak -- [--seed N] [--ops N] [--networks 1-50]");
  process.exit(2);
}
const why = libvirtUnavailable() ?? worldUnavailable();
if (why) {
  console.error(`soak: cannot run: ${why}`);
  process.exit(2);
}

const fleet = await Fleet.open();
let soak: Soak | undefined;
let violations = -1;
try {
  const nets: FleetNet[] = [];
  for (let i = 0; i < count; i++)
    nets.push(await fleet.create(`vns-${fleet.tag}-${i}`, { uplink: i % 3 === 0 ? `198.51.100.${220 + i}` : "auto" }));
  soak = new Soak(fleet, nets, { seed, ops, log: (l) => console.log(l) });
  const r = await soak.run();
  violations = r.violations.length;
  const fmt = (o: Record<string, number>): string =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  console.log(
    `done: ${fmt(r.done)}; replayed: ${fmt(r.replayed)}; host address changes seen: ${r.hostAddressChanges}; ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.ms / r.ops)} ms per operation with its checks)`,
  );
  for (const v of r.violations) console.log(`VIOLATION ${v}`);
  console.log(`soak: seed ${r.seed}, ${r.ops} operations, ${violations} violations`);
} finally {
  await soak?.cleanup();
  const left = await fleet.close();
  if (left.length) {
    console.log(`cleanup left: ${left.join("; ")}`);
    violations = Math.max(violations, 0) + left.length;
  }
}
process.exit(violations === 0 ? 0 : 1);

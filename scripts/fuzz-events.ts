// The long event fuzz: `npm run fuzz [-- --seed N --events 1000 --networks 3]`. A seeded
// random sequence of libvirt network events (net-start, net-destroy, guest port-created /
// port-deleted) fired back to back on the real libvirt daemon and kernel, while `vnat
// reconcile` and `vnat forward add|remove` run concurrently and vnat processes are SIGKILLed
// now and then; every ~25 events a quiet point checks the host against libvirt's view
// (test/support/fuzz-events.ts). Needs root, libvirt and a sandbox world, like the e2e
// tests. Prints every event, the seed, the event count, kills, quiet points and each
// violation; exits 1 on any violation.
import { parseArgs } from "node:util";
import { libvirtUnavailable } from "../test/support/libvirt.ts";
import { run, summary } from "../test/support/fuzz-events.ts";
import { worldUnavailable } from "../test/support/world.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    events: { type: "string", default: "1000" },
    networks: { type: "string", default: "3" },
    quiet: { type: "boolean", default: false },
  },
});
const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
const events = Number(values.events);
const networks = Number(values.networks);
if (
  !Number.isInteger(seed) ||
  !Number.isInteger(events) ||
  events < 1 ||
  !Number.isInteger(networks) ||
  networks < 1 ||
  networks > 20
) {
  console.error("usage: npm run fuzz -- [--seed N] [--events N] [--networks 1-20] [--quiet]");
  process.exit(2);
}
const why = libvirtUnavailable() ?? worldUnavailable();
if (why) {
  console.error(`fuzz: cannot run: ${why}`);
  process.exit(2);
}

console.log(`fuzz: seed ${seed} (--seed ${seed} reproduces the sequence)`);
let r: Awaited<ReturnType<typeof run>>;
try {
  r = await run({
    seed,
    events,
    networks,
    log: (l) => {
      if (!values.quiet || /VIOLATION|quiet point|^fuzz|kill|finish/.test(l)) console.log(l);
    },
  });
} catch (e) {
  console.log(`fuzz: seed ${seed}: aborted: ${(e as Error).message}`);
  process.exit(1);
}
for (const v of r.violations) console.log(`VIOLATION ${v}`);
console.log(summary(r));
process.exit(r.violations.length === 0 ? 0 : 1);

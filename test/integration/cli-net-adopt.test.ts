// src/cli/net/adopt.ts: a libvirt NAT network (real libvirt, inactive) becomes a vnat network
// keeping its bridge, subnet, DHCP range and reservations, and back; --dry-run writes
// nothing; refusals (not defined, transient, already vnat's) in one line.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { netAdopt, netRelease } from "../../src/cli/net/adopt.ts";
import { VnatError } from "../../src/core/errors.ts";
import { capture } from "../support/cli.ts";
import { cliHost, virshSync, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
let name: string;
let bridge: string;
let net3: string;
const xml = () => virshSync(["net-dumpxml", "--inactive", name]).stdout;
before(async () => {
  h = await cliHost();
  name = h.name("vn");
  bridge = h.name("vb");
  net3 = h.subnet();
  h.definePlain(name, bridge, net3);
});
after(() => h.close());

test("adopt --dry-run: the vnat definition printed, libvirt's unchanged", async () => {
  const before = xml();
  const r = await capture(() => netAdopt(name, { provider: h.provider, uplink: "auto", dryRun: true }));
  assert.equal(r.error, undefined, String(r.error));
  assert.match(r.out, /^<network/);
  assert.match(r.out, /vnat:/);
  assert.match(r.out, new RegExp(bridge));
  assert.equal(xml(), before);
});

test("adopt: the network now carries vnat's metadata, same bridge, subnet, range, reservation", async () => {
  const r = await capture(() => netAdopt(name, { provider: h.provider, uplink: "198.51.100.16", json: true }));
  assert.equal(r.error, undefined, String(r.error));
  const doc = JSON.parse(r.out) as Record<string, unknown>;
  assert.deepEqual(
    { ...doc, xml: undefined },
    {
      network: name,
      adopted: true,
      restarted: false,
      bridge,
      lan: `${net3}.1/24`,
      uplink: "198.51.100.16/24",
      provider: h.provider,
      uplinkWasAuto: false,
      hosts: 1,
      guests: [],
      xml: undefined,
    },
  );
  const now = xml();
  assert.match(now, /vnat:/);
  assert.match(now, new RegExp(`<bridge name=.${bridge}.`));
  assert.doesNotMatch(now, /<forward mode=.nat./, "libvirt's NAT is gone");
  assert.match(now, /52:54:00:aa:bb:01/);
});

test("adopt of what is vnat's already, or not in libvirt: refused in one line", async () => {
  const again = await capture(() => netAdopt(name, { provider: h.provider }));
  assert.ok(again.error instanceof VnatError, String(again.error));
  assert.doesNotMatch(again.error.message, /\n/);
  assert.match(again.error.message, new RegExp(name));
  const missing = await capture(() => netAdopt("vtnosuchnet", { provider: h.provider }));
  assert.ok(missing.error instanceof VnatError);
  assert.equal(missing.error.message, 'network "vtnosuchnet": not defined in libvirt (see virsh net-list --all)');
});

test("release: libvirt NAT again, the reservation kept; text output", async () => {
  const r = await capture(() => netRelease(name, {}));
  assert.equal(r.error, undefined, String(r.error));
  const lines = r.out.trimEnd().split("\n");
  assert.match(lines[0]!, new RegExp(`^released network "${name}" \\(now libvirt NAT`));
  assert.ok(lines.includes(`  bridge   ${bridge}`), r.out);
  assert.ok(lines.includes(`  subnet   ${net3}.0/24, gateway ${net3}.1, DHCP ${net3}.100-${net3}.200`), r.out);
  assert.ok(lines.includes("  hosts    1 reservation(s) kept"));
  assert.equal(lines.at(-1), `start it with: virsh net-start ${name}`);
  const now = xml();
  assert.doesNotMatch(now, /vnat:/);
  assert.match(now, /<forward mode=.nat./);
  assert.match(now, /52:54:00:aa:bb:01/);
});

test("a transient network cannot be converted; not root is refused first", async () => {
  const t = h.track(h.name("vt"));
  const n3 = h.subnet();
  const file = `${h.roots.dir}/${t}.xml`;
  const { writeFileSync } = await import("node:fs");
  writeFileSync(
    file,
    `<network><name>${t}</name><forward mode='nat'/><bridge name='${h.name("vb")}'/><ip address='${n3}.1' netmask='255.255.255.0'/></network>`,
  );
  // a transient network exists only while it runs: created (started) by net-create
  const c = virshSync(["net-create", file]);
  assert.equal(c.status, 0, c.stderr);
  const r = await capture(() => netAdopt(t, { provider: h.provider, dryRun: true }));
  assert.ok(r.error instanceof VnatError);
  assert.equal(
    r.error.message,
    `network "${t}": is transient; only a persistent network (virsh net-define) can be converted`,
  );
  const real = process.getuid;
  process.getuid = () => 1000;
  try {
    await assert.rejects(netRelease(name, {}), (e: unknown) => e instanceof VnatError && e.kind === "needs-root");
  } finally {
    process.getuid = real;
  }
});

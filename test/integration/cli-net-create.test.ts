// src/cli/net/create.ts: `vnat net create` against the real libvirt with a temp config: a
// network defined with vnat's metadata and said in lines or JSON, --autostart, parallel
// creates never sharing an uplink (the allocation lock), and refusals (one line) that leave
// nothing defined; --dry-run checks the host as a start would (the provider bridge).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { allocLockPath, netCreate } from "../../src/cli/net/create.ts";
import { VnatError } from "../../src/core/errors.ts";
import { capture } from "../support/cli.ts";
import { cliHost, virshSync, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
before(async () => (h = await cliHost()));
after(() => h.close());

const defined = (name: string) => virshSync(["net-info", name]).status === 0;

test("the allocation lock lives in the run dir's locks", () => {
  assert.equal(allocLockPath("/run/vnat"), "/run/vnat/locks/net-create.lock");
});

test("create: defined in libvirt with vnat's metadata, inactive; the summary names what was chosen", async () => {
  const name = h.track(h.name("vc"));
  const bridge = h.name("vb");
  const net3 = h.subnet();
  const r = await capture(() =>
    netCreate(name, { subnet: `${net3}.0/24`, provider: h.provider, uplink: "auto", bridge }),
  );
  assert.equal(r.error, undefined, String(r.error));
  assert.deepEqual(r.out.trimEnd().split("\n"), [
    `defined network "${name}"`,
    `  bridge   ${bridge}`,
    `  subnet   ${net3}.0/24, gateway ${net3}.1, DHCP ${net3}.128-${net3}.254`,
    `  uplink   198.51.100.10/24 on ${h.provider} (auto), via 198.51.100.1`,
    "  dns      -",
    `start it with: virsh net-start ${name}`,
  ]);
  const xml = virshSync(["net-dumpxml", "--inactive", name]).stdout;
  assert.match(xml, new RegExp(`<bridge name=.${bridge}.`));
  assert.match(xml, /<vnat:/, "vnat's metadata");
  assert.match(virshSync(["net-info", name]).stdout, /Active:\s+no/);
});

test("--json and --autostart: the network as defined, autostart on in libvirt", async () => {
  const name = h.track(h.name("vc"));
  const net3 = h.subnet();
  const r = await capture(() =>
    netCreate(name, {
      subnet: `${net3}.0/24`,
      provider: h.provider,
      uplink: "198.51.100.15",
      dns: ["198.51.100.53"],
      dhcpRange: `${net3}.50-${net3}.60`,
      bridge: h.name("vb"),
      autostart: true,
      json: true,
    }),
  );
  assert.equal(r.error, undefined, String(r.error));
  const doc = JSON.parse(r.out) as Record<string, unknown>;
  assert.deepEqual(
    { ...doc, bridge: undefined },
    {
      network: name,
      bridge: undefined,
      subnet: `${net3}.0/24`,
      gateway: `${net3}.1`,
      dhcp: { start: `${net3}.50`, end: `${net3}.60` },
      uplink: { address: "198.51.100.15/24", bridge: h.provider, gateway: "198.51.100.1", auto: false },
      dns: ["198.51.100.53"],
      autostart: true,
    },
  );
  assert.match(virshSync(["net-info", name]).stdout, /Autostart:\s+yes/);
});

test("two creates at once with uplink auto: two different uplinks", async () => {
  const names = [h.track(h.name("vp")), h.track(h.name("vp"))];
  const rs = await Promise.all(
    names.map((n) =>
      capture(() =>
        netCreate(n, {
          subnet: `${h.subnet()}.0/24`,
          provider: h.provider,
          uplink: "auto",
          bridge: h.name("vb"),
          json: true,
        }),
      ),
    ),
  );
  // capture is shared by the two: read the uplinks from libvirt instead
  for (const r of rs) assert.equal(r.error, undefined, String(r.error));
  const uplinks = names.map(
    (n) => /address="(198\.51\.100\.\d+)/.exec(virshSync(["net-dumpxml", "--inactive", n]).stdout)?.[1],
  );
  assert.ok(uplinks[0] && uplinks[1], JSON.stringify(uplinks));
  assert.notEqual(uplinks[0], uplinks[1]);
});

test("refusals: one line, nothing defined", async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ subnet: "10.300.0.0/24", provider: "P" }, /10\.300\.0\.0\/24/],
    [{ subnet: `${h.subnet()}.0/24`, provider: "vtpnone" }, /vtpnone/],
    [{ subnet: `${h.subnet()}.0/24`, provider: "P", uplink: "192.0.2.9" }, /192\.0\.2\.9/],
    [{ subnet: `${h.subnet()}.0/24`, provider: "P", dhcpRange: "nonsense" }, /nonsense/],
  ];
  for (const [o, re] of cases) {
    const name = h.track(h.name("vx"));
    const flags = { uplink: "auto", ...o, provider: o.provider === "P" ? h.provider : o.provider };
    const r = await capture(() => netCreate(name, flags));
    assert.ok(r.error instanceof VnatError, `${JSON.stringify(o)}: ${String(r.error)}`);
    assert.equal(r.error.kind, "invalid-input", r.error.message);
    assert.match(r.error.message, re);
    assert.doesNotMatch(r.error.message, /\n/);
    assert.equal(defined(name), false);
  }
});

test("a name libvirt already has: refused, the existing network untouched", async () => {
  const name = h.name("vd");
  const net3 = h.subnet();
  h.definePlain(name, h.name("vb"), net3);
  const before = virshSync(["net-dumpxml", "--inactive", name]).stdout;
  const r = await capture(() =>
    netCreate(name, { subnet: `${h.subnet()}.0/24`, provider: h.provider, uplink: "auto" }),
  );
  assert.ok(r.error instanceof VnatError, String(r.error));
  assert.match(r.error.message, new RegExp(name));
  assert.equal(virshSync(["net-dumpxml", "--inactive", name]).stdout, before);
});

test("--dry-run: checked as a start would (the provider bridge must exist); nothing defined", async () => {
  const name = h.track(h.name("vy"));
  const r = await capture(() =>
    netCreate(name, { subnet: `${h.subnet()}.0/24`, provider: h.provider, uplink: "auto", dryRun: true }),
  );
  assert.ok(r.error instanceof VnatError, String(r.error));
  assert.match(r.error.message, new RegExp(`provider bridge "${h.provider}" does not exist`));
  assert.equal(r.out, "");
  assert.equal(defined(name), false);
});

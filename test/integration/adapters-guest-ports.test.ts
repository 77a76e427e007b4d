// Running guests' ports through virsh (src/adapters/libvirt/guest-ports.ts) against the real libvirt:
// two transient networks of this test's own (bridges only: no address, no DHCP, not vnat's)
// and a transient TCG domain that boots nothing, with two NICs on the first network and one
// on the second. probeGuestPorts must find exactly the running interfaces on the network
// asked, as libvirt knows them (port ids, taps on the network's bridge); createPort must give
// libvirt its record of a port back after a restart of the network forgot it (what
// `vnat net adopt --restart` relies on). Everything is destroyed and checked gone.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { createPort, probeGuestPorts } from "../../src/adapters/libvirt/guest-ports.ts";
import { VnatError } from "../../src/core/errors.ts";
import { ensureDaemons, libvirtUnavailable, virsh } from "../support/libvirt.ts";
import { needs } from "../support/needs.ts";
import { sh } from "../support/sh.ts";

const unmet =
  libvirtUnavailable() ??
  (existsSync("/usr/bin/qemu-system-x86_64")
    ? undefined
    : "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)");
const id = randomBytes(3).toString("hex");
const NET_A = { name: `vtgp-${id}-a`, bridge: `vtgp${id}a`, uuid: `7e57a000-0000-4000-8000-00${id}0a0a` };
const NET_B = { name: `vtgp-${id}-b`, bridge: `vtgp${id}b`, uuid: `7e57b000-0000-4000-8000-00${id}0b0b` };
const DOM = { name: `vtgp-${id}-vm`, uuid: `7e57d000-0000-4000-8000-00${id}0d0d` };
const MAC = {
  a1: `52:54:00:${id.slice(0, 2)}:${id.slice(2, 4)}:a1`,
  a2: `52:54:00:${id.slice(0, 2)}:${id.slice(2, 4)}:a2`,
  b1: `52:54:00:${id.slice(0, 2)}:${id.slice(2, 4)}:b1`,
};
const portTmpDirs = (): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith("vnat-port-"));

const netXml = (n: typeof NET_A): string =>
  `<network><name>${n.name}</name><uuid>${n.uuid}</uuid><bridge name='${n.bridge}' stp='off' delay='0'/></network>\n`;
const nic = (net: string, mac: string): string =>
  `<interface type='network'><source network='${net}'/><mac address='${mac}'/><model type='virtio'/></interface>`;
const domXml = `<domain type='qemu'>
  <name>${DOM.name}</name>
  <uuid>${DOM.uuid}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    ${nic(NET_A.name, MAC.a1)}
    ${nic(NET_B.name, MAC.b1)}
    ${nic(NET_A.name, MAC.a2)}
    <memballoon model='none'/>
  </devices>
</domain>
`;

/** virsh, checked. */
async function virshOk(args: string[]): Promise<string> {
  const r = await virsh(args);
  assert.equal(r.exitCode, 0, `virsh ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}
const xmlDir = mkdtempSync(join(tmpdir(), "vnat-test-guest-ports-"));
let xmlSeq = 0;
/** `virsh VERB FILE` with XML written to a file of the test's own. */
const withXml = async (verb: string, xml: string): Promise<void> => {
  const file = join(xmlDir, `${xmlSeq++}.xml`);
  writeFileSync(file, xml);
  await virshOk([verb, file]);
};
const portIds = async (net: string): Promise<string[]> =>
  (await virshOk(["net-port-list", net, "--uuid"]))
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
const bridgeOf = (tap: string): string | undefined => {
  try {
    return basename(readlinkSync(`/sys/class/net/${tap}/master`));
  } catch {
    return undefined;
  }
};

/** What of this test is still on the host. */
async function debris(): Promise<string[]> {
  const left: string[] = [];
  if ((await virsh(["dominfo", DOM.name])).exitCode === 0) left.push(`domain ${DOM.name}`);
  for (const n of [NET_A, NET_B]) {
    if ((await virsh(["net-info", n.name])).exitCode === 0) left.push(`network ${n.name}`);
    if (existsSync(`/sys/class/net/${n.bridge}`)) left.push(`link ${n.bridge}`);
  }
  const rules = (await sh("iptables-save", [])).stdout;
  for (const n of [NET_A, NET_B]) if (rules.includes(n.bridge)) left.push(`iptables rules naming ${n.bridge}`);
  return left;
}

let tmpBefore: string[] = [];
before(async () => {
  if (unmet) return;
  await ensureDaemons();
  assert.deepEqual(await debris(), []);
  tmpBefore = portTmpDirs();
  await withXml("net-create", netXml(NET_A));
  await withXml("net-create", netXml(NET_B));
  await withXml("create", domXml);
});
after(async () => {
  rmSync(xmlDir, { recursive: true, force: true });
  if (unmet) return;
  await virsh(["destroy", DOM.name]);
  for (const n of [NET_A, NET_B]) await virsh(["net-destroy", n.name]);
  assert.deepEqual(await debris(), []);
  assert.deepEqual(
    portTmpDirs().filter((d) => !tmpBefore.includes(d)),
    [],
    "createPort left its temp dir",
  );
});

needs(unmet).describe("guest ports through virsh", {}, () => {
  test("probeGuestPorts: the running guest's two interfaces on network A, as libvirt knows them", async () => {
    const ports = await probeGuestPorts(NET_A.name);
    assert.deepEqual(ports.map((p) => [p.domain, p.domainUuid, p.mac]).sort(), [
      [DOM.name, DOM.uuid, MAC.a1],
      [DOM.name, DOM.uuid, MAC.a2],
    ]);
    assert.deepEqual(ports.map((p) => p.portid).sort(), await portIds(NET_A.name));
    for (const p of ports) assert.equal(bridgeOf(p.tap), NET_A.bridge, `tap ${p.tap} of ${p.mac}`);
    assert.notEqual(ports[0]!.tap, ports[1]!.tap);
  });

  test("probeGuestPorts: another network gets only its own interface; a network no guest uses, none", async () => {
    const ports = await probeGuestPorts(NET_B.name);
    assert.deepEqual(
      ports.map((p) => p.mac),
      [MAC.b1],
    );
    assert.equal(bridgeOf(ports[0]!.tap), NET_B.bridge);
    assert.deepEqual(
      ports.map((p) => p.portid),
      await portIds(NET_B.name),
    );
    assert.deepEqual(await probeGuestPorts(`vtgp-${id}-none`), []);
  });

  test("createPort: after a restart of network A forgot its ports, each is libvirt's again", async () => {
    const ports = await probeGuestPorts(NET_A.name);
    assert.equal(ports.length, 2);
    await virshOk(["net-destroy", NET_A.name]);
    await withXml("net-create", netXml(NET_A));
    assert.deepEqual(await portIds(NET_A.name), [], "libvirt kept the ports across the restart");
    for (const p of ports) await createPort(NET_A.uuid, p);
    assert.deepEqual(await portIds(NET_A.name), ports.map((p) => p.portid).sort());
    for (const p of ports) {
      const xml = await virshOk(["net-port-dumpxml", NET_A.name, p.portid]);
      assert.match(xml, new RegExp(`<mac address='${p.mac}'/>`));
      assert.match(xml, new RegExp(`<owner>\\s*<name>${DOM.name}</name>\\s*<uuid>${DOM.uuid}</uuid>`));
      assert.match(xml, new RegExp(`<plug type='network' bridge='${NET_A.bridge}'/>`));
    }
  });

  test("createPort on a network libvirt does not have: one VnatError, no port, no temp dir left", async () => {
    const [p] = await probeGuestPorts(NET_B.name);
    await assert.rejects(createPort("7e57e000-0000-4000-8000-000000000000", p!), (e: unknown) => {
      assert.ok(e instanceof VnatError, String(e));
      assert.ok(!e.message.includes("\n"), e.message);
      return true;
    });
    assert.deepEqual(
      portTmpDirs().filter((d) => !tmpBefore.includes(d)),
      [],
    );
  });
});

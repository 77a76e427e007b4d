// The files behind libvirt's view of a vnat network's leases (src/adapters/store/lease-status.ts),
// for a bridge name of this test's own that no link has: the --dhcp-script in the
// network's state directory (only with DHCP), a stale status file in libvirt's dnsmasq
// directory removed before dnsmasq starts, and the script written here run as dnsmasq's
// helper would, its output then removed by removeLeaseStatus. Nothing of the test stays.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { prepareLeaseStatus, removeLeaseStatus } from "../../src/adapters/store/lease-status.ts";
import {
  LIBVIRT_DNSMASQ_DIR,
  leaseScriptPath,
  leaseStatusPath,
  leaseStatusTemp,
  renderLeaseScript,
} from "../../src/core/plan/lease-status.ts";
import { needs } from "../support/needs.ts";

const BRIDGE = `vtls${process.pid % 100000}`;
const STATUS = leaseStatusPath(BRIDGE);
const TEMP = leaseStatusTemp(BRIDGE);
const base = mkdtempSync(join(tmpdir(), "vnat-lease-status-"));
const unmet =
  process.getuid?.() !== 0
    ? "needs root (libvirt's dnsmasq directory)"
    : !existsSync(LIBVIRT_DNSMASQ_DIR)
      ? `${LIBVIRT_DNSMASQ_DIR} is missing (apt-get install libvirt-daemon-system)`
      : existsSync(`/sys/class/net/${BRIDGE}`)
        ? `a link ${BRIDGE} exists: this test's bridge name is taken`
        : undefined;
after(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(STATUS, { force: true });
  rmSync(TEMP, { force: true });
  assert.equal(existsSync(STATUS) || existsSync(TEMP), false);
});
let n = 0;
const paths = () => {
  const dir = join(base, `net${n++}`);
  return { dir, leases: join(dir, "dnsmasq.leases") };
};
const DHCP = { start: 100, end: 200, lease: "1h" };

needs(unmet).describe("lease status files", {}, () => {
  test("with DHCP: the script in the state directory (root's, executable), a stale status file gone", async () => {
    const p = paths();
    writeFileSync(STATUS, '[{"ip-address":"10.0.0.9","mac-address":"52:54:00:00:00:09","expiry-time":1}]\n');
    writeFileSync(TEMP, "[half");
    await prepareLeaseStatus({ lanBridge: BRIDGE, dhcp: DHCP }, p);
    const script = leaseScriptPath(p);
    assert.equal(script, join(p.dir, "lease-status.sh"));
    assert.equal(readFileSync(script, "utf8"), renderLeaseScript({ lanBridge: BRIDGE }, p));
    assert.equal(statSync(script).mode & 0o7777, 0o700);
    assert.equal(existsSync(STATUS), false);
    assert.equal(existsSync(TEMP), false);
  });

  test("the script written runs as dnsmasq's helper would: libvirt's status file for this bridge", async () => {
    const p = paths();
    await prepareLeaseStatus({ lanBridge: BRIDGE, dhcp: DHCP }, p);
    writeFileSync(p.leases, "1700000000 52:54:00:AA:00:01 10.0.0.50 guest1 01:52:54:00:aa:00:01\n");
    const r = spawnSync(leaseScriptPath(p), ["add", "52:54:00:aa:00:01", "10.0.0.50"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(STATUS, "utf8")), [
      {
        "ip-address": "10.0.0.50",
        "mac-address": "52:54:00:aa:00:01",
        "expiry-time": 1700000000,
        hostname: "guest1",
        "client-id": "01:52:54:00:aa:00:01",
      },
    ]);
    await removeLeaseStatus(BRIDGE);
    assert.equal(existsSync(STATUS), false);
  });

  test("without DHCP: no script, and still no stale status file", async () => {
    const p = paths();
    writeFileSync(STATUS, "[]\n");
    await prepareLeaseStatus({ lanBridge: BRIDGE, dhcp: undefined }, p);
    assert.equal(existsSync(leaseScriptPath(p)), false);
    assert.equal(existsSync(STATUS), false);
  });

  test("removeLeaseStatus: none there is fine; another bridge's status file is not touched", async () => {
    await removeLeaseStatus(BRIDGE);
    const other = leaseStatusPath(`${BRIDGE}x`);
    writeFileSync(other, "[]\n");
    try {
      writeFileSync(STATUS, "[]\n");
      await removeLeaseStatus(BRIDGE);
      assert.equal(existsSync(STATUS), false);
      assert.equal(readFileSync(other, "utf8"), "[]\n");
    } finally {
      rmSync(other, { force: true });
    }
  });

  test("a bridge that is not a kernel name never becomes a path: refused before anything is removed", async () => {
    await assert.rejects(removeLeaseStatus("../../../etc/x"));
    const p = paths();
    await assert.rejects(prepareLeaseStatus({ lanBridge: "a/b", dhcp: DHCP }, p), /lease status: bridge/);
    assert.equal(existsSync(p.dir), false, "no script written for a refused bridge");
  });
});

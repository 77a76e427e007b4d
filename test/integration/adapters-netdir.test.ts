// The modes of what vnat keeps under its run directory (src/adapters/store/netdir.ts), on real
// files in a temp run root and under vnat's umask 077: the way to dnsmasq's hosts file is
// traversable (never listable) by dnsmasq's unprivileged user, the hosts file readable,
// the lease and log files root's alone, whatever modes or content were there before.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  ensureNetDir,
  HOSTS_FILE_MODE,
  prepareDnsmasqFiles,
  touchHostsFile,
  TRAVERSE_ONLY,
  writeHostsFile,
} from "../../src/adapters/store/netdir.ts";
import { netPaths } from "../../src/core/paths.ts";

const mode = (p: string): number => statSync(p).mode & 0o7777;
const base = mkdtempSync(join(tmpdir(), "vnat-netdir-"));
let oldUmask = 0;
before(() => {
  oldUmask = process.umask(0o077);
});
after(() => {
  process.umask(oldUmask);
  rmSync(base, { recursive: true, force: true });
});

const rootsAt = (name: string) => ({ run: join(base, name, "run"), config: "/nonexistent", log: base });

describe("netdir", () => {
  test("the modes are the documented ones", () => {
    assert.equal(TRAVERSE_ONLY, 0o711);
    assert.equal(HOSTS_FILE_MODE, 0o644);
  });

  test("ensureNetDir creates run/net/NAME, each of the three traverse-only", async () => {
    const roots = rootsAt("fresh");
    await ensureNetDir(roots, "n1");
    const dir = netPaths(roots, "n1").dir;
    assert.equal(dir, join(roots.run, "net", "n1"));
    for (const d of [roots.run, join(roots.run, "net"), dir]) assert.equal(mode(d), 0o711, d);
    // the parent of the run root is not vnat's: untouched (umask 077 made it 0700)
    assert.equal(mode(join(base, "fresh")), 0o700);
  });

  test("ensureNetDir sets the modes whatever existed before, keeping what is inside", async () => {
    const roots = rootsAt("existing");
    const dir = netPaths(roots, "n2").dir;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "state.json"), "{}\n");
    chmodSync(roots.run, 0o755);
    chmodSync(join(roots.run, "net"), 0o700);
    chmodSync(dir, 0o777);
    await ensureNetDir(roots, "n2");
    for (const d of [roots.run, join(roots.run, "net"), dir]) assert.equal(mode(d), 0o711, d);
    assert.equal(readFileSync(join(dir, "state.json"), "utf8"), "{}\n");
  });

  test("writeHostsFile: the whole text, mode 0644 under umask 077, replacing the old file", async () => {
    const f = join(base, "hosts1");
    writeFileSync(f, "old line\nanother\n", { mode: 0o600 });
    await writeHostsFile(f, "52:54:00:00:00:01,10.0.0.5\n");
    assert.equal(readFileSync(f, "utf8"), "52:54:00:00:00:01,10.0.0.5\n");
    assert.equal(mode(f), 0o644);
  });

  test("touchHostsFile: a missing file appears empty and readable; an existing one keeps its text", async () => {
    const fresh = join(base, "hosts2");
    await touchHostsFile(fresh);
    assert.equal(readFileSync(fresh, "utf8"), "");
    assert.equal(mode(fresh), 0o644);
    const kept = join(base, "hosts3");
    writeFileSync(kept, "52:54:00:00:00:02,10.0.0.6\n", { mode: 0o600 });
    await touchHostsFile(kept);
    assert.equal(readFileSync(kept, "utf8"), "52:54:00:00:00:02,10.0.0.6\n");
    assert.equal(mode(kept), 0o644);
  });

  test("prepareDnsmasqFiles: lease and log files root-only, created or narrowed, content kept", async () => {
    const paths = { leases: join(base, "dnsmasq.leases"), dnsmasqLog: join(base, "dnsmasq.log") };
    writeFileSync(paths.leases, "0 52:54:00:00:00:03 10.0.0.7 g1 *\n", { mode: 0o644 });
    chmodSync(paths.leases, 0o644);
    await prepareDnsmasqFiles(paths);
    assert.equal(mode(paths.leases), 0o600);
    assert.equal(mode(paths.dnsmasqLog), 0o600);
    assert.equal(readFileSync(paths.leases, "utf8"), "0 52:54:00:00:00:03 10.0.0.7 g1 *\n");
    assert.equal(readFileSync(paths.dnsmasqLog, "utf8"), "");
  });
});

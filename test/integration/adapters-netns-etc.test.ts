// /etc/netns/NS/resolv.conf (src/adapters/store/netns-etc.ts) on real files, in a temp directory
// standing for /etc/netns (Roots.netnsEtc), under vnat's umask 077: the file is the
// network's resolver configuration, readable by all as /etc is; vnat removes its one file
// and the directory only when nothing else is in it.
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { removeNetnsResolvConf, writeNetnsResolvConf } from "../../src/adapters/store/netns-etc.ts";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { hookData } from "../support/fixtures.ts";

const spec = buildSpec(
  parseHookData(
    hookData({
      name: "etcnet",
      bridge: "vt-nonexist0",
      lan: "10.9.0.1/24",
      uplinkBridge: "vt-nonexist1",
      uplink: "198.51.100.12/24",
      gateway: "198.51.100.1",
    }),
  ).network,
  EMPTY_CONFIG,
);
const mode = (p: string): number => statSync(p).mode & 0o7777;
const base = mkdtempSync(join(tmpdir(), "vnat-netns-etc-"));
let oldUmask = 0;
before(() => {
  oldUmask = process.umask(0o077);
});
after(() => {
  process.umask(oldUmask);
  rmSync(base, { recursive: true, force: true });
});
const rootsAt = (name: string) => ({ run: base, config: "/nonexistent", log: base, netnsEtc: join(base, name) });

describe("netns-etc", () => {
  test("writes NETNS/resolv.conf: the gateway as nameserver, dirs 0755 and file 0644 under umask 077", async () => {
    const roots = rootsAt("etc1");
    await writeNetnsResolvConf(roots, spec);
    const dir = join(roots.netnsEtc, spec.names.netns);
    assert.equal(spec.names.netns, "vnat-etcnet");
    const text = readFileSync(join(dir, "resolv.conf"), "utf8");
    assert.match(text, /^nameserver 10\.9\.0\.1$/m);
    assert.match(text, /^search \.$/m);
    assert.equal(mode(roots.netnsEtc), 0o755);
    assert.equal(mode(dir), 0o755);
    assert.equal(mode(join(dir, "resolv.conf")), 0o644);
    // atomic: no temp file left beside it
    assert.deepEqual(readdirSync(dir), ["resolv.conf"]);
  });

  test("an existing /etc/netns keeps its mode; a second write replaces the file", async () => {
    const roots = rootsAt("etc2");
    mkdirSync(roots.netnsEtc);
    chmodSync(roots.netnsEtc, 0o750);
    const dir = join(roots.netnsEtc, spec.names.netns);
    mkdirSync(dir);
    writeFileSync(join(dir, "resolv.conf"), "nameserver 198.18.0.53\n", { mode: 0o600 });
    await writeNetnsResolvConf(roots, spec);
    assert.equal(mode(roots.netnsEtc), 0o750);
    assert.match(readFileSync(join(dir, "resolv.conf"), "utf8"), /^nameserver 10\.9\.0\.1$/m);
    assert.doesNotMatch(readFileSync(join(dir, "resolv.conf"), "utf8"), /198\.18\.0\.53/);
    assert.equal(mode(join(dir, "resolv.conf")), 0o644);
  });

  test("remove: the file and its empty directory go; /etc/netns itself stays", async () => {
    const roots = rootsAt("etc3");
    await writeNetnsResolvConf(roots, spec);
    await removeNetnsResolvConf(roots, spec.names.netns);
    assert.equal(existsSync(join(roots.netnsEtc, spec.names.netns)), false);
    assert.equal(existsSync(roots.netnsEtc), true);
  });

  test("remove keeps an administrator's other files, and the directory with them", async () => {
    const roots = rootsAt("etc4");
    await writeNetnsResolvConf(roots, spec);
    const dir = join(roots.netnsEtc, spec.names.netns);
    writeFileSync(join(dir, "hosts"), "127.0.0.1 localhost\n");
    await removeNetnsResolvConf(roots, spec.names.netns);
    assert.deepEqual(readdirSync(dir), ["hosts"]);
    assert.equal(readFileSync(join(dir, "hosts"), "utf8"), "127.0.0.1 localhost\n");
  });

  test("remove of what is not there is done (twice, and with no /etc/netns at all)", async () => {
    const roots = rootsAt("etc5");
    await removeNetnsResolvConf(roots, "vnat-never");
    await writeNetnsResolvConf(roots, spec);
    await removeNetnsResolvConf(roots, spec.names.netns);
    await removeNetnsResolvConf(roots, spec.names.netns);
    assert.deepEqual(readdirSync(roots.netnsEtc), []);
  });

  test("a failure other than not-there / not-empty is reported, not swallowed", async () => {
    const roots = rootsAt("etc6");
    // the namespace's "directory" is a file: rmdir fails with ENOTDIR
    mkdirSync(roots.netnsEtc);
    writeFileSync(join(roots.netnsEtc, "vnat-odd"), "x");
    await assert.rejects(removeNetnsResolvConf(roots, "vnat-odd"), { code: "ENOTDIR" });
  });
});

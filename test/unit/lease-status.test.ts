// dnsmasq's --dhcp-script that keeps libvirt's lease status file (core/plan/lease-status.ts),
// run with the system's sh and awk on lease files written here: what dnsmasq writes, and
// what a hostile guest (or a corrupt file) could put there. libvirt rejects the whole file
// on one bad entry, so every output must be valid JSON whatever the input bytes.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  leaseScriptPath,
  leaseScriptText,
  leaseStatusPath,
  leaseStatusTemp,
  renderLeaseScript,
} from "../../src/core/plan/lease-status.ts";
import { netPaths } from "../../src/core/paths.ts";
import { assertGolden } from "../support/golden.ts";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A script pointed at a fresh directory (DIR with a quote and a space: the paths are quoted). */
function setup(): { dir: string; leases: string; status: string; tmp: string; run: (...args: string[]) => void } {
  const dir = mkdtempSync(join(tmpdir(), "vnat lease's-"));
  dirs.push(dir);
  const files = { leases: join(dir, "dnsmasq.leases"), status: join(dir, "br0.status"), tmp: join(dir, "br0.tmp") };
  const script = join(dir, "lease-status.sh");
  writeFileSync(script, leaseScriptText(files), { mode: 0o700 });
  const run = (...args: string[]): void => {
    // dnsmasq's helper runs it with an environment of its own: nothing here may matter
    const r = spawnSync(script, args, { env: { PATH: process.env.PATH, LC_ALL: "en_US.UTF-8" }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
  };
  return { dir, ...files, run };
}

const status = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));

describe("lease status script", () => {
  test("its text and where dnsmasq finds it (golden)", () => {
    const paths = netPaths({ run: "/run/vnat", config: "/etc/vnat/config.json", log: "/var/log/vnat" }, "golden");
    assert.equal(leaseScriptPath(paths), "/run/vnat/net/golden/lease-status.sh");
    assert.equal(leaseStatusPath("virbr5"), "/var/lib/libvirt/dnsmasq/virbr5.status");
    assert.equal(leaseStatusTemp("virbr5"), "/var/lib/libvirt/dnsmasq/virbr5.status.vnat-new");
    const text = renderLeaseScript({ lanBridge: "virbr5" }, paths);
    assertGolden("lease-status.sh", text);
    execFileSync("sh", ["-n", "-c", text]);
  });

  test("a bridge name that is not a kernel name never becomes a path", () => {
    for (const bad of ["../etc/x", "a/b", "..", "", "x".repeat(16), "-x"]) assert.throws(() => leaseStatusPath(bad));
  });

  test("dnsmasq's lines become libvirt's entries; infinite leases, no hostname, no client id", () => {
    const s = setup();
    writeFileSync(
      s.leases,
      [
        "1796412810 3A:8b:2a:28:81:E1 10.0.0.173 myguest 01:3a:8b:2a:28:81:e1",
        "0 52:54:00:00:00:02 10.0.0.5 * *",
        "1796412899 52:54:00:00:00:03 10.0.0.6 web-1 *",
        "",
      ].join("\n"),
    );
    s.run("add", "3a:8b:2a:28:81:e1", "10.0.0.173", "myguest");
    assert.deepEqual(status(s.status), [
      {
        "ip-address": "10.0.0.173",
        "mac-address": "3a:8b:2a:28:81:e1",
        "expiry-time": 1796412810,
        hostname: "myguest",
        "client-id": "01:3a:8b:2a:28:81:e1",
      },
      { "ip-address": "10.0.0.5", "mac-address": "52:54:00:00:00:02", "expiry-time": 0 },
      { "ip-address": "10.0.0.6", "mac-address": "52:54:00:00:00:03", "expiry-time": 1796412899, hostname: "web-1" },
    ]);
    assert.equal(statSync(s.status).mode & 0o777, 0o600, "root's alone: it names guests");
    assert.deepEqual(readdirSync(s.dir).sort(), ["br0.status", "dnsmasq.leases", "lease-status.sh"]);
  });

  test("hostile hostnames are escaped byte by byte: quotes, backslashes, control and non-ASCII bytes", () => {
    const s = setup();
    const name = Buffer.concat([
      Buffer.from('a"b\\c'),
      Buffer.from([0x01, 0x1b, 0x7f, 0x80, 0xff]),
      Buffer.from("é}]{,:%s%n$(reboot)`id`'"),
    ]);
    writeFileSync(
      s.leases,
      Buffer.concat([Buffer.from("1796412811 52:54:00:00:00:03 10.0.0.6 "), name, Buffer.from(" ff:00\n")]),
    );
    s.run("old", "52:54:00:00:00:03", "10.0.0.6");
    const raw = readFileSync(s.status);
    assert.ok(
      raw.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x0a),
      "plain printable ASCII only",
    );
    const [entry] = status(s.status) as Array<Record<string, unknown>>;
    // each byte outside printable ASCII becomes \u00XX of its value (as Latin-1 would read it)
    assert.equal(entry?.hostname, Buffer.from(name).toString("latin1"));
    assert.equal(entry?.["client-id"], "ff:00");
  });

  test("lines that do not parse are skipped, never written half", () => {
    const s = setup();
    writeFileSync(
      s.leases,
      [
        "duid 00:01:00:01:2c:2b:2a:29:52:54:00:00:00:01",
        "1796412810 1234567 fd00::5 host6 00:01",
        "garbage",
        "1796412810 52:54:00:00:00:0g 10.0.0.7 bad-mac *",
        "1796412810 52:54:00:00:00:07 10.0.0.300.1 bad-ip *",
        "1796412810 52:54:00:00:00:07 10.0.0.a bad-ip *",
        "0123 52:54:00:00:00:07 10.0.0.8 leading-zero *",
        "-5 52:54:00:00:00:07 10.0.0.8 negative *",
        "1796412810 52:54:00:00:00:07 10.0.0.9",
        `1796412810 52:54:00:00:00:08 10.0.0.10 ${"h".repeat(256)} 01:zz`,
        "1796412810 52:54:00:00:00:09 10.0.0.11 ok 01:02",
      ].join("\n") + "\n",
    );
    s.run("del", "52:54:00:00:00:01", "10.0.0.2");
    assert.deepEqual(status(s.status), [
      // an over-long hostname and a client id that is not hex are left out, not the lease
      { "ip-address": "10.0.0.10", "mac-address": "52:54:00:00:00:08", "expiry-time": 1796412810 },
      {
        "ip-address": "10.0.0.11",
        "mac-address": "52:54:00:00:00:09",
        "expiry-time": 1796412810,
        hostname: "ok",
        "client-id": "01:02",
      },
    ]);
  });

  test("an empty lease file is an empty array; a release rewrites the whole file", () => {
    const s = setup();
    writeFileSync(s.leases, "0 52:54:00:00:00:02 10.0.0.5 * *\n");
    s.run("add");
    assert.equal((status(s.status) as unknown[]).length, 1);
    writeFileSync(s.leases, "");
    s.run("del");
    assert.equal(readFileSync(s.status, "utf8"), "[]\n");
  });

  test("other events, a removed lease file (a stopped network) and a missing directory write nothing", () => {
    const s = setup();
    writeFileSync(s.leases, "0 52:54:00:00:00:02 10.0.0.5 * *\n");
    for (const event of ["init", "tftp", "arp-add", "relay-snoop", ""]) s.run(event);
    assert.ok(!existsSync(s.status));
    rmSync(s.leases);
    s.run("add");
    assert.ok(!existsSync(s.status));
    // no libvirt directory: nothing is created, and the script still ends well
    writeFileSync(s.leases, "0 52:54:00:00:00:02 10.0.0.5 * *\n");
    const gone = join(s.dir, "no-libvirt");
    const script = join(s.dir, "other.sh");
    const files = { leases: s.leases, status: join(gone, "br0.status"), tmp: join(gone, "br0.tmp") };
    writeFileSync(script, leaseScriptText(files), { mode: 0o700 });
    assert.equal(spawnSync(script, ["add"]).status, 0);
    assert.ok(!existsSync(gone));
  });

  test("fast: 1,000 leases in well under a second", () => {
    const s = setup();
    const lines = Array.from(
      { length: 1000 },
      (_, i) =>
        `1796412810 52:54:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")} 10.0.${i >> 8}.${i & 255} guest-${i} *`,
    );
    writeFileSync(s.leases, lines.join("\n") + "\n");
    const t0 = process.hrtime.bigint();
    s.run("add");
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal((status(s.status) as unknown[]).length, 1000);
    assert.ok(ms < 1000, `${ms} ms`);
  });
});

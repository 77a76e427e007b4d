// Hardening: every file and directory vnat (and its dnsmasq) creates is private to root,
// except what dnsmasq, which drops to an unprivileged user, must reach: the directories on
// the way to its hosts file may be traversed (never listed) and the hosts file read. The
// hook runs with the umask a test shell has (022), so only vnat's own modes count. And
// dnsmasq really runs unprivileged (as dnsmasq-base's own user, not the shared nobody),
// yet still reads its hosts file, at start and on SIGHUP.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { runHook, sandboxNet } from "../support/hook.ts";
import { waitFor } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, type Guest, type World } from "../support/world.ts";

const tag = randomBytes(2).toString("hex");
const tmp = mkdtempSync(join(tmpdir(), "vnat-modes-"));
chmodSync(tmp, 0o711); // stands for /run: dnsmasq must get through it
// no VNAT_CONFIG: runHook runs with the config listing this process's worlds (test/support/world.ts)
const env = { VNAT_RUN_DIR: join(tmp, "run"), VNAT_LOG_DIR: join(tmp, "log") };
let world: World;
let net: NetOpts;
let guest: Guest;

before(async () => {
  world = await createWorld();
  net = await sandboxNet(world, `t${tag}h`, "198.51.100.61/24");
  guest = await world.addGuest(net.bridge);
  net.extraMetadata = `<vnat:host mac="${await guest.mac()}" ip="10.0.0.42" name="fixed"/>`;
  for (const [op, subop] of [
    ["start", "begin"],
    ["started", "begin"],
  ] as const) {
    const r = await runHook(net.name, op, subop, hookData(net), env);
    assert.equal(r.exitCode, 0, r.stderr);
  }
});

after(async () => {
  await runHook(net.name, "stopped", "end", hookData(net), env);
  await world?.destroy();
  rmSync(tmp, { recursive: true, force: true });
  if (world) await assertNoWorldDebris(world.tag);
});

const netDir = (): string => join(env.VNAT_RUN_DIR, "net", net.name);

function dnsmasqPid(): number {
  return Number(readFileSync(join(netDir(), "dnsmasq.pid"), "utf8").trim());
}

/** Every path under DIR (DIR included) with its permission bits. */
function walk(dir: string): Array<{ path: string; mode: number; uid: number; gid: number }> {
  const st = lstatSync(dir);
  const out = [{ path: dir, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid }];
  if (st.isDirectory()) for (const e of readdirSync(dir)) out.push(...walk(join(dir, e)));
  return out;
}

/** The one exception to "root only": dnsmasq (unprivileged) reads its hosts file through these. */
const READABLE_BY_DNSMASQ = new Set(["run/net/NAME/dhcp-hosts"]);
/** dnsmasq recreates its pid file 0644 whatever vnat does (a pid is public in /proc anyway) */
const PUBLIC = new Set(["run/net/NAME/dnsmasq.pid"]);
const TRAVERSABLE_BY_DNSMASQ = new Set(["run", "run/net", "run/net/NAME"]);

describe("hardening", () => {
  test("a guest leases its fixed address: dnsmasq read its hosts file", async () => {
    const lease = await guest.dhcp();
    assert.equal(lease.ip, "10.0.0.42");
  });

  test("files and directories vnat and dnsmasq create are root's alone, but for dnsmasq's path to its hosts file", () => {
    // what this network gave rise to: the run directory, its claims, the hook's log
    const entries = [...walk(env.VNAT_RUN_DIR), ...walk(env.VNAT_LOG_DIR)];
    // dnsmasq owns its log (it reopens it on SIGUSR2, unprivileged)
    const dnsmasqUid = lstatSync(`/proc/${dnsmasqPid()}`).uid;
    for (const want of ["state.json", "dnsmasq.pid", "dnsmasq.leases", "dnsmasq.log", "dhcp-hosts"])
      assert.ok(existsSync(join(netDir(), want)), `${want} missing`);
    const bad: string[] = [];
    for (const e of entries) {
      const rel = relative(tmp, e.path).replace(`/${net.name}`, "/NAME");
      const octal = `0${e.mode.toString(8)}`;
      if (e.mode & 0o7002) bad.push(`${rel} ${octal}: world-writable or setuid`);
      const allowed = TRAVERSABLE_BY_DNSMASQ.has(rel) ? 0o1 : READABLE_BY_DNSMASQ.has(rel) || PUBLIC.has(rel) ? 0o4 : 0;
      if ((e.mode & 0o7 & ~allowed) !== 0) bad.push(`${rel} ${octal}: open to others beyond 0${allowed.toString(8)}`);
      // group bits only for root's group (dnsmasq makes its log 0660, group root)
      if (e.mode & 0o070 && e.gid !== 0 && (e.mode & 0o070) !== allowed << 3)
        bad.push(`${rel} ${octal}: open to group ${e.gid}`);
      if (e.uid !== 0 && e.uid !== dnsmasqUid) bad.push(`${rel}: owned by uid ${e.uid}`);
    }
    assert.deepEqual(bad, []);
  });

  test("dnsmasq runs unprivileged, as its own user", () => {
    const status = readFileSync(`/proc/${dnsmasqPid()}/status`, "utf8");
    const ids = (key: string): number[] =>
      (new RegExp(`^${key}:\\s+(.*)$`, "m").exec(status)?.[1] ?? "").split(/\s+/).map(Number);
    assert.ok(
      ids("Uid").every((u) => u !== 0),
      `dnsmasq uids: ${ids("Uid").join(" ")}`,
    );
    assert.ok(
      ids("Gid").every((g) => g !== 0),
      `dnsmasq gids: ${ids("Gid").join(" ")}`,
    );
    const user = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.split(":")[2] === String(ids("Uid")[0]));
    assert.equal(user?.split(":")[0], "dnsmasq");
  });

  test("and re-reads its hosts file as that user on SIGHUP (as a live `vnat host add` makes it)", async () => {
    const hosts = join(netDir(), "dhcp-hosts");
    const mode = lstatSync(hosts).mode & 0o777;
    writeFileSync(hosts, `${await guest.mac()},10.0.0.43,fixed\n`);
    chmodSync(hosts, mode);
    process.kill(dnsmasqPid(), "SIGHUP");
    await waitFor(async () => (await guest.dhcp()).ip === "10.0.0.43", 15_000, "the guest's new fixed address");
  });
});

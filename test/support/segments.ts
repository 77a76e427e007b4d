// Helpers for the segment tests (issue 19): what a link looks like (to prove detach and stop
// leave a bridge or a tap as it was), and a QEMU guest run by hand on a tap.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { run, sh, sleep } from "./sh.ts";
import { bootArgsFor, ensureGuestImage } from "./vm/image.ts";

/** Link IFNAME as `ip -d -j link` and `ip -j addr` show it, without counters and timers. */
export async function linkSnapshot(ifname: string): Promise<unknown> {
  const link = JSON.parse((await run("ip", ["-d", "-j", "link", "show", "dev", ifname])).stdout)[0] as Record<
    string,
    unknown
  >;
  const addr = JSON.parse((await run("ip", ["-j", "addr", "show", "dev", ifname])).stdout)[0] as Record<
    string,
    unknown
  >;
  const info = (link.linkinfo ?? {}) as { info_kind?: string; info_data?: Record<string, unknown> };
  const data = Object.fromEntries(
    Object.entries(info.info_data ?? {}).filter(([k]) => !/_timer$|^topology_change/.test(k)),
  );
  // an IPv6 link-local address is the kernel's, made when the link first has carrier (a Docker
  // bridge without containers has none until anything is plugged in): not compared
  const addrs = ((addr.addr_info ?? []) as Array<Record<string, unknown>>)
    .filter((a) => !(a.family === "inet6" && a.scope === "link"))
    .map((a) => `${a.local}/${a.prefixlen}`);
  return {
    ifname: link.ifname,
    flags: link.flags,
    mtu: link.mtu,
    master: link.master ?? null,
    address: link.address,
    promiscuity: link.promiscuity,
    kind: info.info_kind,
    data,
    addrs: addrs.sort(),
  };
}

export interface TapGuest {
  pid: number;
  serialLog: string;
  mac: string;
  stop(): Promise<void>;
}

/** A QEMU (TCG) guest whose NIC is the existing tap TAP (`-netdev tap,ifname=…,script=no`), fetching URL in a loop. */
export async function startTapGuest(tap: string, dir: string, url: string, mac: string): Promise<TapGuest> {
  const img = await ensureGuestImage();
  const serialLog = join(dir, `qemu-${tap}.log`);
  const child = spawn(
    "qemu-system-x86_64",
    [
      "-accel",
      "tcg",
      "-m",
      "256",
      "-nodefaults",
      "-display",
      "none",
      "-no-reboot",
      "-kernel",
      img.kernel,
      "-initrd",
      img.initrd,
      "-append",
      bootArgsFor(url),
      "-netdev",
      `tap,id=n0,ifname=${tap},script=no,downscript=no`,
      "-device",
      `virtio-net-pci,netdev=n0,mac=${mac}`,
      "-serial",
      `file:${serialLog}`,
    ],
    { stdio: "ignore", detached: false },
  );
  const pid = child.pid!;
  let exited = false;
  child.on("exit", () => (exited = true));
  await sleep(300);
  if (exited) throw new Error(`qemu on ${tap} exited at once (see ${serialLog})`);
  return {
    pid,
    serialLog,
    mac,
    async stop() {
      if (exited) return;
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 100 && !exited; i++) await sleep(50);
      if (!exited) process.kill(pid, "SIGKILL");
      for (let i = 0; i < 100 && !exited; i++) await sleep(50);
    },
  };
}

/** A persistent tap device TAP (no process holds it yet). */
export async function addTap(tap: string): Promise<void> {
  await run("ip", ["tuntap", "add", "dev", tap, "mode", "tap"]);
}

export async function delLink(ifname: string): Promise<void> {
  await sh("ip", ["link", "del", ifname]);
}

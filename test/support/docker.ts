// A private Docker daemon for the segment tests (issue 19), from Debian's docker.io: started by
// pid with its own data root, exec root, pid file and socket, and with `--iptables=false
// --ip6tables=false --ip-forward=false --bridge=none`, so it changes neither the host's
// firewall nor its sysctls. Images come from `docker import` of a busybox-static root
// filesystem: no registry. Everything it made goes in stop().
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, rm, rmdir, symlink, writeFile, copyFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { sh, sleep, type ShResult } from "./sh.ts";

export const DOCKERD = "/usr/sbin/dockerd";
/** Debian's docker.io client (another docker on PATH may be of another version) */
export const DOCKER = "/usr/bin/docker";

export function dockerUnavailable(): string | undefined {
  if (!existsSync(DOCKERD) || !existsSync(DOCKER)) return "docker.io is not installed (apt-get install docker.io)";
  if (!existsSync("/bin/busybox")) return "busybox-static is not installed";
  return undefined;
}

/** What a container's udhcpc runs: applies the lease to eth0 and prints it; writes no file. */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    echo "LEASE ip=$ip router=$router dns=$dns"
    ;;
esac
exit 0
`;

export interface Dockerd {
  pid: number;
  host: string;
  image: string;
  docker(args: string[], timeoutMs?: number): Promise<ShResult>;
  stop(): Promise<string[]>;
}

/** Starts dockerd under ROOT (a directory of its own, short: unix socket paths are limited). */
export async function startDockerd(root: string, tag: string): Promise<Dockerd> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const sock = join(root, "docker.sock");
  const host = `unix://${sock}`;
  const log = join(root, "dockerd.log");
  const { openSync, closeSync } = await import("node:fs");
  const fd = openSync(log, "a");
  const child = spawn(
    DOCKERD,
    [
      "--data-root",
      join(root, "data"),
      "--exec-root",
      join(root, "exec"),
      "--pidfile",
      join(root, "dockerd.pid"),
      "-H",
      host,
      "--iptables=false",
      "--ip6tables=false",
      "--ip-forward=false",
      "--bridge=none",
      "--containerd-namespace",
      `vnat-${tag}`,
      "--containerd-plugins-namespace",
      `vnat-${tag}-plugins`,
    ],
    { stdio: ["ignore", fd, fd] },
  );
  closeSync(fd);
  const pid = child.pid!;
  let exited = false;
  child.on("exit", () => (exited = true));
  const docker = (args: string[], timeoutMs = 60_000) =>
    sh(DOCKER, ["-H", host, ...args], { timeoutMs, env: { ...process.env, DOCKER_HOST: host } });
  const image = `vnat-bb-${tag}:t`;
  const stop = async (): Promise<string[]> => {
    const left: string[] = [];
    if (!exited) {
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 300 && !exited; i++) await sleep(50);
      if (!exited) {
        left.push(`dockerd ${pid} ignored SIGTERM for 15 s`);
        process.kill(pid, "SIGKILL");
        for (let i = 0; i < 100 && !exited; i++) await sleep(50);
      }
    }
    // its containerd and shims run from the exec root: none may survive it
    for (const p of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
      let cl = "";
      try {
        cl = readFileSync(`/proc/${p}/cmdline`, "utf8");
      } catch {
        continue;
      }
      if (cl.includes(root)) left.push(`process ${p} (${cl.replace(/\0/g, " ").slice(0, 80)})`);
    }
    await sh("umount", ["-R", join(root, "exec")]);
    await sh("umount", ["-R", join(root, "data")]);
    await rm(root, { recursive: true, force: true });
    await rmdir(dirname(root)).catch(() => {}); // another test's daemon may still live there
    return left;
  };
  try {
    for (let i = 0; ; i++) {
      if (exited) throw new Error(`dockerd exited at once: ${readFileSync(log, "utf8").slice(-2000)}`);
      if ((await docker(["version"], 10_000)).exitCode === 0) break;
      if (i > 120) throw new Error(`dockerd did not answer in 60 s: ${readFileSync(log, "utf8").slice(-2000)}`);
      await sleep(500);
    }
    // an image from busybox-static, imported: no registry
    const rootfs = join(root, "rootfs");
    await mkdir(join(rootfs, "bin"), { recursive: true });
    for (const d of ["etc", "tmp", "proc", "sys", "dev"]) await mkdir(join(rootfs, d), { recursive: true });
    await copyFile("/bin/busybox", join(rootfs, "bin/busybox"));
    for (const a of ["sh", "ip", "udhcpc", "wget", "nslookup", "cat", "echo", "sleep", "timeout"])
      await symlink("busybox", join(rootfs, "bin", a));
    await writeFile(join(rootfs, "bin/udhcpc-script"), UDHCPC_SCRIPT);
    await chmod(join(rootfs, "bin/udhcpc-script"), 0o755);
    const tar = join(root, "rootfs.tar");
    const t = await sh("tar", ["-C", rootfs, "-cf", tar, "."]);
    if (t.exitCode !== 0) throw new Error(`tar: ${t.stderr}`);
    const imp = await docker(["import", tar, image]);
    if (imp.exitCode !== 0) throw new Error(`docker import: ${imp.stderr}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid, host, image, docker, stop };
}

/** The shell a test container runs: a lease on eth0 by udhcpc (its own script), then CMDS. */
export const leaseThen = (cmds: string): string =>
  `ip -4 addr flush dev eth0 && ip route flush dev eth0 && udhcpc -i eth0 -f -q -n -t 10 -T 1 -s /bin/udhcpc-script && ${cmds}`;

/**
 * A tiny guest for end-to-end tests: Debian's kernel + a busybox-static
 * initramfs whose /init takes a DHCP lease and fetches a URL in a loop
 * (see ./init-script.ts for what it prints on the serial console).
 *
 * Needs (Debian packages): busybox-static, cpio, xz-utils (only if the
 * kernel's modules are .ko.xz), apt + dpkg, and a Debian mirror reachable
 * through apt. The kernel is never installed on the host: its .deb is
 * fetched with `apt-get download` and unpacked with `dpkg-deb -x`.
 */
import { createHash } from "node:crypto";
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { execa } from "execa";
import { GUEST_MODULES, INIT_SCRIPT, UDHCPC_SCRIPT } from "./init-script.ts";

export interface GuestImage {
  kernel: string;
  initrd: string;
}

/** Bump when the build procedure changes in a way the hashed inputs miss. */
const BUILDER_VERSION = 1;
const BUSYBOX = "/bin/busybox";
const KERNEL_META_PACKAGE = "linux-image-amd64";

export const GUEST_CACHE_ROOT = process.env.VNAT_GUEST_CACHE ?? "/var/cache/vnat-test/guest";

const C_ENV = { LC_ALL: "C" };

interface KernelPackage {
  /** e.g. linux-image-6.1.0-56-amd64 */
  name: string;
  /** e.g. 6.1.0-56-amd64 (the /lib/modules directory name) */
  release: string;
  /** Debian version, e.g. 6.1.192-2 */
  version: string;
}

/**
 * The kernel package `linux-image-amd64` currently points at, from the local
 * apt lists (one `apt-cache show`, ~0.5 s; no network). VNAT_GUEST_KERNEL_PACKAGE
 * may name another linux-image-* package.
 */
async function resolveKernelPackage(): Promise<KernelPackage> {
  const override = process.env.VNAT_GUEST_KERNEL_PACKAGE;
  const { stdout } = await execa("apt-cache", ["show", "--no-all-versions", override ?? KERNEL_META_PACKAGE], {
    env: C_ENV,
  });
  let name: string | undefined;
  let version: string | undefined;
  if (override) {
    name = override;
    version = stdout.match(/^Version:\s*(\S+)/m)?.[1];
  } else {
    const m = stdout.match(/^Depends:.*?\b(linux-image-\d[^\s,(]*)\s*\(=\s*([^)\s]+)\)/m);
    name = m?.[1];
    version = m?.[2];
  }
  if (!name || !version)
    throw new Error(
      `cannot find the kernel package and version in 'apt-cache show ${override ?? KERNEL_META_PACKAGE}':\n${stdout}`,
    );
  return { name, release: name.replace(/^linux-image-/, ""), version };
}

let kernelMemo: Promise<KernelPackage> | undefined;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function requireTool(cmd: string, pkg: string): Promise<void> {
  const { exitCode } = await execa("which", [cmd], { reject: false });
  if (exitCode !== 0)
    throw new Error(`'${cmd}' is missing: install the Debian package '${pkg}' (apt-get install ${pkg})`);
}

let busyboxHashMemo: Promise<string> | undefined;
function busyboxHash(): Promise<string> {
  busyboxHashMemo ??= readFile(BUSYBOX).then((b) => createHash("sha256").update(b).digest("hex"));
  return busyboxHashMemo;
}

async function assertStaticBusybox(): Promise<void> {
  // A dynamically linked busybox (package 'busybox') cannot run in the
  // initramfs: it has no libc. ELF with a PT_INTERP header => dynamic.
  let head: Buffer;
  try {
    head = await readFile(BUSYBOX);
  } catch {
    throw new Error(`${BUSYBOX} missing: apt-get install busybox-static`);
  }
  if (head.includes(Buffer.from("/lib64/ld-linux-x86-64.so")))
    throw new Error(`${BUSYBOX} is dynamically linked: apt-get install busybox-static`);
}

/** Cache key: kernel + everything that goes into the initramfs. */
async function cacheKey(kernel: KernelPackage): Promise<string> {
  const h = createHash("sha256")
    .update(
      JSON.stringify({
        builder: BUILDER_VERSION,
        init: INIT_SCRIPT,
        udhcpc: UDHCPC_SCRIPT,
        modules: GUEST_MODULES,
        busybox: await busyboxHash(),
      }),
    )
    .digest("hex")
    .slice(0, 16);
  return `${kernel.release}_${kernel.version.replace(/[^\w.+-]/g, "_")}_${h}`;
}

const inflight = new Map<string, Promise<GuestImage>>();

/**
 * Builds the guest image once (per kernel version and init script) into
 * GUEST_CACHE_ROOT and returns the paths of the kernel and initramfs.
 * Safe against concurrent callers in this and other processes: each build
 * happens in a private directory that is renamed into place.
 */
export async function ensureGuestImage(): Promise<GuestImage> {
  kernelMemo ??= resolveKernelPackage();
  kernelMemo.catch(() => (kernelMemo = undefined));
  const kernel = await kernelMemo;
  const key = await cacheKey(kernel);
  let p = inflight.get(key);
  if (!p) {
    p = ensureBuilt(kernel, key);
    inflight.set(key, p);
    p.catch(() => inflight.delete(key));
  }
  return p;
}

function imagePaths(dir: string): GuestImage {
  return { kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img") };
}

async function ensureBuilt(kernel: KernelPackage, key: string): Promise<GuestImage> {
  const final = join(GUEST_CACHE_ROOT, key);
  // meta.json is written last, before the rename: its presence == complete.
  if (await exists(join(final, "meta.json"))) return imagePaths(final);

  await mkdir(GUEST_CACHE_ROOT, { recursive: true, mode: 0o755 });
  await removeStaleBuilds();
  const stage = await mkdtemp(join(GUEST_CACHE_ROOT, `.build-${key}-`));
  try {
    await buildInto(stage, kernel);
    // mkdtemp makes 0700; libvirt's qemu user must be able to read the files.
    await chmod(stage, 0o755);
    try {
      await rename(stage, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Someone else finished first: use theirs.
      if ((code === "ENOTEMPTY" || code === "EEXIST") && (await exists(join(final, "meta.json")))) {
        await rm(stage, { recursive: true, force: true });
      } else {
        throw err;
      }
    }
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    // No mirror (offline re-run after the apt lists moved on)? An image of
    // another kernel build with the same initramfs content will do.
    const fallback = await findSameInitramfs(key);
    if (fallback) {
      process.stderr.write(`vnat guest image: build for ${key} failed (${String(err)}); using ${fallback}\n`);
      return imagePaths(fallback);
    }
    throw err;
  }
  return imagePaths(final);
}

async function findSameInitramfs(key: string): Promise<string | undefined> {
  const suffix = key.slice(key.lastIndexOf("_"));
  const candidates: { dir: string; mtime: number }[] = [];
  for (const entry of await readdir(GUEST_CACHE_ROOT).catch(() => [])) {
    if (entry.startsWith(".") || !entry.endsWith(suffix)) continue;
    const dir = join(GUEST_CACHE_ROOT, entry);
    try {
      candidates.push({ dir, mtime: (await stat(join(dir, "meta.json"))).mtimeMs });
    } catch {
      /* incomplete */
    }
  }
  candidates.sort((a, b) => b.mtime - a.mtime);
  return candidates[0]?.dir;
}

/** Removes build directories left behind by killed processes (> 1 h old). */
async function removeStaleBuilds(): Promise<void> {
  for (const entry of await readdir(GUEST_CACHE_ROOT)) {
    if (!entry.startsWith(".build-")) continue;
    const path = join(GUEST_CACHE_ROOT, entry);
    try {
      const st = await stat(path);
      if (Date.now() - st.mtimeMs > 3600_000) await rm(path, { recursive: true, force: true });
    } catch {
      /* raced with its owner */
    }
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

/** Module file name -> canonical module name (dashes are underscores). */
function moduleNameOf(file: string): string | undefined {
  const m = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/.exec(file);
  return m?.[1]?.replace(/-/g, "_");
}

async function readModule(path: string): Promise<Buffer> {
  if (path.endsWith(".ko")) return readFile(path);
  if (path.endsWith(".ko.gz")) return gunzipSync(await readFile(path));
  if (path.endsWith(".ko.xz")) {
    await requireTool("xz", "xz-utils");
    const r = await execa("xz", ["-dc", path], { encoding: "buffer" });
    return Buffer.from(r.stdout);
  }
  if (path.endsWith(".ko.zst")) {
    await requireTool("zstd", "zstd");
    const r = await execa("zstd", ["-dc", path], { encoding: "buffer" });
    return Buffer.from(r.stdout);
  }
  throw new Error(`unknown module format: ${path}`);
}

async function buildInto(stage: string, kernel: KernelPackage): Promise<void> {
  await assertStaticBusybox();
  await requireTool("cpio", "cpio");
  await requireTool("dpkg-deb", "dpkg");

  const work = await mkdtemp(join(tmpdir(), "vnat-guest-kernel-"));
  try {
    // 1. Kernel package, unpacked (not installed).
    await execa("apt-get", ["download", "-q", "-o", "APT::Sandbox::User=root", `${kernel.name}=${kernel.version}`], {
      cwd: work,
      env: C_ENV,
    });
    const deb = (await readdir(work)).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${kernel.name} left no .deb`);
    const x = join(work, "x");
    await execa("dpkg-deb", ["-x", join(work, deb), x]);

    await copyFile(join(x, "boot", `vmlinuz-${kernel.release}`), join(stage, "vmlinuz"));

    // 2. Root filesystem of the initramfs.
    const root = join(stage, "root");
    for (const d of [
      "bin",
      "sbin",
      "usr/bin",
      "usr/sbin",
      "etc",
      "proc",
      "sys",
      "dev",
      "tmp",
      "run",
      "root",
      "lib/modules",
    ])
      await mkdir(join(root, d), { recursive: true, mode: 0o755 });

    // Modules: the wanted ones that exist as modules, in load order.
    const modDir = join(x, "lib", "modules", kernel.release);
    const available = new Map<string, string>();
    for (const p of await walk(join(modDir, "kernel"))) {
      const name = moduleNameOf(p.slice(p.lastIndexOf("/") + 1));
      if (name) available.set(name, p);
    }
    const builtin = new Set<string>();
    try {
      for (const line of (await readFile(join(modDir, "modules.builtin"), "utf8")).split("\n")) {
        const name = moduleNameOf(line.slice(line.lastIndexOf("/") + 1));
        if (name) builtin.add(name);
      }
    } catch {
      /* no modules.builtin: treat nothing as built in */
    }
    const loaded: string[] = [];
    const builtIn: string[] = [];
    const absent: string[] = [];
    for (const m of GUEST_MODULES) {
      const src = available.get(m);
      if (src) {
        await writeFile(join(root, "lib", "modules", `${m}.ko`), await readModule(src));
        loaded.push(m);
      } else if (builtin.has(m)) builtIn.push(m);
      else absent.push(m);
    }
    if (!loaded.includes("virtio_net") && !builtIn.includes("virtio_net"))
      throw new Error(`kernel ${kernel.release} has no virtio_net (module or built in)`);
    await writeFile(join(root, "lib", "modules", "load-order"), loaded.join("\n") + "\n");

    // busybox + one symlink per applet at its canonical path.
    await copyFile(BUSYBOX, join(root, "bin", "busybox"));
    await chmod(join(root, "bin", "busybox"), 0o755);
    const { stdout: applets } = await execa(BUSYBOX, ["--list-full"]);
    for (const rel of applets.split("\n").map((s) => s.trim())) {
      if (!rel || rel === "bin/busybox") continue;
      const link = join(root, rel);
      if (await exists(link)) continue;
      await mkdir(dirname(link), { recursive: true });
      await symlink("/bin/busybox", link);
    }

    await writeFile(join(root, "init"), INIT_SCRIPT, { mode: 0o755 });
    await writeFile(join(root, "udhcpc.sh"), UDHCPC_SCRIPT, { mode: 0o755 });
    await writeFile(join(root, "etc", "resolv.conf"), "");
    await writeFile(join(root, "etc", "hostname"), "vnat-guest\n");
    await writeFile(join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    await writeFile(join(root, "etc", "group"), "root:x:0:\n");

    // 3. cpio (newc) + gzip.
    const files = (await walk(root)).map((p) => relative(root, p)).sort();
    const cpio = await execa("cpio", ["--quiet", "-o", "-H", "newc", "--owner", "0:0", "--reproducible"], {
      cwd: root,
      input: files.join("\n") + "\n",
      encoding: "buffer",
    });
    const initrd = gzipSync(Buffer.from(cpio.stdout), { level: 9 });
    await writeFile(join(stage, "initrd.img"), initrd, { mode: 0o644 });
    await chmod(join(stage, "vmlinuz"), 0o644);
    await rm(root, { recursive: true, force: true });

    await writeFile(
      join(stage, "meta.json"),
      JSON.stringify(
        {
          kernelPackage: kernel.name,
          kernelVersion: kernel.version,
          release: kernel.release,
          modules: { loaded, builtIn, absent },
          initrdBytes: initrd.length,
          builtAt: new Date().toISOString(),
        },
        null,
        2,
      ) + "\n",
      { mode: 0o644 },
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Characters that would break the kernel command line or virt-install's --boot parsing. */
const UNSAFE_URL = /[\s"',]/;

/** Kernel command line for the guest: serial console + the URL to fetch. */
export function bootArgsFor(url: string, opts: { once?: boolean } = {}): string {
  if (!url || UNSAFE_URL.test(url)) throw new Error(`URL unusable on a kernel command line: ${JSON.stringify(url)}`);
  return `console=ttyS0 panic=-1 vnat_url=${url}${opts.once ? " vnat_once=1" : ""}`;
}

export interface VirtInstallOptions {
  name: string;
  network: string;
  kernel: string;
  initrd: string;
  serialLog: string;
  url: string;
  /** Fetch once, then power off (vnat_once=1). */
  once?: boolean;
  /** Fixed MAC address for the guest's NIC. */
  mac?: string;
  memoryMiB?: number;
}

/**
 * argv (without "virt-install") for a transient TCG guest on a libvirt network.
 * Pass as an array: the kernel_args quotes are parsed by virt-install itself.
 */
export function virtInstallArgs(o: VirtInstallOptions): string[] {
  for (const [k, v] of Object.entries({
    name: o.name,
    network: o.network,
    kernel: o.kernel,
    initrd: o.initrd,
    serialLog: o.serialLog,
  }))
    if (!v || /[\s,"'=]/.test(v)) throw new Error(`virtInstallArgs: unusable ${k}: ${JSON.stringify(v)}`);
  const net = [`network=${o.network}`, "model=virtio"];
  if (o.mac) net.push(`mac=${o.mac}`);
  return [
    "--name",
    o.name,
    "--virt-type",
    "qemu",
    "--memory",
    String(o.memoryMiB ?? 256),
    "--vcpus",
    "1",
    "--osinfo",
    "detect=off,name=linux2022",
    "--import",
    "--disk",
    "none",
    "--boot",
    `kernel=${o.kernel},initrd=${o.initrd},kernel_args="${bootArgsFor(o.url, { once: o.once })}"`,
    "--features",
    "acpi=on,apic=on",
    "--network",
    net.join(","),
    "--graphics",
    "none",
    "--noautoconsole",
    "--serial",
    `file,path=${o.serialLog}`,
    "--transient",
  ];
}

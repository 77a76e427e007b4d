// `virsh net-start` and `virsh net-destroy` as a user runs them, interleaved in the same
// run, for three networks on the real libvirt daemon:
//   plain  the vnat network's own definition without vnat metadata: the hook in
//          network.d is called for every event and returns at once (the baseline)
//   vnat   defined by `vnat net create` on the sandbox world's provider bridge
//   nat    libvirt's own <forward mode='nat'> on a 10.213.X.0/24 no route uses; libvirt
//          gives it a host address and its iptables rules, and removes both at destroy.
//          It is only started and destroyed: no packet goes through it.
// Plus the installed hook's no-op event (a guest port on a network without vnat metadata),
// which is what libvirt runs for every guest of every other network on the host.
import { randomInt } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { hookData, portXml } from "../test/support/fixtures.ts";
import {
  addSandboxProvider,
  createSandboxNet,
  ensureDaemons,
  HOOK_FILE,
  LibvirtTracker,
  netDebris,
  useHook,
  virsh,
  virshRaw,
} from "../test/support/libvirt.ts";
import { roots } from "../src/adapters/store/roots.ts";
import { readState } from "../src/adapters/store/state.ts";
import { run } from "../test/support/sh.ts";
import { createWorld } from "../test/support/world.ts";
import { compare, figure, log, timed, type Figure } from "./lib.ts";

const RUNS = Number(process.env.BENCH_LIBVIRT_RUNS ?? 7);
const NOOP_RUNS = Number(process.env.BENCH_RUNS ?? 15);
const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

type Kind = "plain" | "vnat" | "nat";
const LABELS: Record<Kind, string> = {
  plain: "same network, no vnat metadata (hook returns at once)",
  vnat: "vnat network",
  nat: "libvirt <forward mode='nat'>",
};

/** A 10.213.X.0/24 that no route on this host covers or overlaps. */
async function freeNatSubnet(): Promise<number> {
  const routes = (await run("ip", ["-4", "-j", "route", "show", "table", "all"])).stdout;
  const dsts = (JSON.parse(routes) as Array<{ dst?: string }>).map((r) => r.dst ?? "");
  for (let i = 0; i < 50; i++) {
    const x = randomInt(1, 255);
    if (!dsts.some((d) => d.startsWith(`10.213.${x}.`) || d === "10.0.0.0/8" || d === "10.213.0.0/16")) return x;
  }
  throw new Error("no free 10.213.X.0/24 for the libvirt NAT network");
}

/** libvirt sets the host's ip_forward for a NAT network and never resets it. */
function activeForwardingNetworks(): Promise<string[]> {
  return virsh(["net-list", "--name"]).then(async (r) => {
    const out: string[] = [];
    for (const n of r.stdout
      .split("\n")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const x = await virsh(["net-dumpxml", n]);
      if (/<forward mode=['"](nat|route)['"]/.test(x.stdout) || /<forward\s*\/>/.test(x.stdout)) out.push(n);
    }
    return out;
  });
}

/**
 * The moment vnat's namespace for NAME is known to serve: `virsh net-start` returned after the
 * hook built it, so this is its return, checked (a start that returned without the namespace
 * would throw here).
 */
async function builtAt(name: string): Promise<number> {
  const at = performance.now();
  if ((await readState(roots(), name))?.phase !== "active")
    throw new Error(`network ${name}: not active after its start`);
  return at;
}

/** The installed hook, exactly as libvirt runs it, for an event it should not act on. */
async function installedNoop(): Promise<number> {
  const stdin = hookData({ name: "plain", bridge: "virbr9", metadata: "" }, portXml("52:54:00:00:00:01"));
  return timed(() =>
    execa(HOOK_FILE, ["plain", "port-created", "begin", "-"], {
      input: stdin,
      env: { LC_ALL: "C", PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root" },
      extendEnv: false,
    }),
  );
}

export async function benchLibvirt(): Promise<Figure[]> {
  await ensureDaemons();
  const hook = await useHook();
  const world = await createWorld();
  const tracker = new LibvirtTracker();
  const dir = await mkdtemp(join(tmpdir(), `vnat-bench-${world.tag}-`));
  const forwardBefore = readFileSync(IP_FORWARD, "utf8").trim();
  const errors: string[] = [];
  try {
    const hookText = readFileSync(HOOK_FILE, "utf8");
    log(
      `libvirt: hook ${HOOK_FILE} (${hook.installedByTest ? "put there for this run" : "installed"}): ${hookText.split("\n").pop() || hookText.split("\n").at(-2)}`,
    );
    const cfg = join(dir, "config.json");
    const p = await addSandboxProvider(cfg, world, "198.51.100.10-198.51.100.40");
    if (p.exitCode !== 0) throw new Error(`vnat provider add: ${p.stderr.trim()}`);

    const t = world.tag;
    const name: Record<Kind, string> = { plain: `bv${t}p`, vnat: `bv${t}v`, nat: `bv${t}n` };
    for (const k of Object.keys(name) as Kind[]) tracker.network(name[k]);
    const c = await createSandboxNet(cfg, world, name.vnat, { bridge: `vbb-${t}v` });
    if (c.exitCode !== 0) throw new Error(`vnat net create: ${c.stderr.trim()}`);
    // the same definition without vnat's metadata, under another name and bridge
    const vx = (await virsh(["net-dumpxml", "--inactive", name.vnat], { check: true })).stdout;
    const plainXml = vx
      .replace(/<metadata>[\s\S]*<\/metadata>\s*/, "")
      .replace(/<uuid>[^<]*<\/uuid>\s*/, "")
      .replace(/<mac address=[^>]*\/>\s*/, "")
      .replace(`<name>${name.vnat}</name>`, `<name>${name.plain}</name>`)
      .replace(`vbb-${t}v`, `vbb-${t}p`);
    const x = await freeNatSubnet();
    const natXml = `<network>
  <name>${name.nat}</name>
  <forward mode='nat'/>
  <bridge name='vbb-${t}n' stp='on' delay='0'/>
  <ip address='10.213.${x}.1' netmask='255.255.255.0'>
    <dhcp><range start='10.213.${x}.100' end='10.213.${x}.200'/></dhcp>
  </ip>
</network>
`;
    for (const [k, xml] of [
      ["plain", plainXml],
      ["nat", natXml],
    ] as const) {
      const f = join(dir, `${k}.xml`);
      await writeFile(f, xml);
      await virsh(["net-define", f], { check: true });
    }

    // one untimed round: nothing the first start of each kind pays once (caches, libvirt's own setup) is
    // timed — but vnat's first start after a definition is reported: Node validates it, then the shell
    // hook remembers it (src/core/hookcache.ts)
    let firstVnat = 0;
    for (const k of ["plain", "vnat", "nat"] as const) {
      const t = await timed(() => virshRaw(["net-start", name[k]], { check: true }));
      if (k === "vnat") {
        firstVnat = t;
        await builtAt(name.vnat);
      }
      await virsh(["net-destroy", name[k]], { check: true });
    }
    const starts: Record<Kind, number[]> = { plain: [], vnat: [], nat: [] };
    const stops: Record<Kind, number[]> = { plain: [], vnat: [], nat: [] };
    const ready: number[] = [];
    const removed: number[] = [];
    const kinds: Kind[] = ["plain", "vnat", "nat"];
    for (let i = 0; i < RUNS; i++) {
      // rotate the order, so no kind always follows the same one
      const order = kinds.map((_, j) => kinds[(i + j) % kinds.length]!);
      for (const k of order) {
        const t0 = performance.now();
        await virshRaw(["net-start", name[k]], { check: true });
        starts[k].push(performance.now() - t0);
        if (k === "vnat") ready.push((await builtAt(name.vnat)) - t0);
        if (i === 0 && k === "vnat" && !(await netDebris(name.vnat)).some((d) => d.startsWith("namespace")))
          throw new Error(`net-start ${name.vnat}: the hook built nothing (is ${HOOK_FILE} vnat's hook?)`);
        const s0 = performance.now();
        await virshRaw(["net-destroy", name[k]], { check: true });
        stops[k].push(performance.now() - s0);
        if (k === "vnat") {
          removed.push(performance.now() - s0);
        }
      }
      log(
        `libvirt run ${i + 1}/${RUNS}: start ${kinds.map((k) => `${k} ${starts[k].at(-1)!.toFixed(0)}`).join(", ")} ms`,
      );
    }
    const noop: number[] = [];
    for (let i = 0; i < NOOP_RUNS; i++) noop.push(await installedNoop());

    const figs: Figure[] = [];
    for (const k of kinds)
      figs.push(
        figure("libvirt", `libvirt.start.${k}`, `virsh net-start: ${LABELS[k]}`, "ms", starts[k], {
          ...(k !== "plain" ? { baseline: "libvirt.start.plain", paired: true } : {}),
        }),
      );
    figs.push(
      figure(
        "libvirt",
        "libvirt.ready.vnat",
        "virsh net-start → ready: vnat network (returns once its namespace serves) vs libvirt's NAT network (ready at return)",
        "ms",
        ready,
        { baseline: "libvirt.start.nat", paired: true, target: { of: "ratio", op: "<=", limit: 1.0 } },
      ),
      figure(
        "libvirt",
        "libvirt.start.vnat.first",
        "virsh net-start: vnat network, first start of a document the hook has not seen (Node validates it once)",
        "ms",
        [firstVnat],
        {
          baseline: "libvirt.start.plain",
        },
      ),
    );
    for (const k of kinds)
      figs.push(
        figure("libvirt", `libvirt.destroy.${k}`, `virsh net-destroy: ${LABELS[k]}`, "ms", stops[k], {
          ...(k !== "plain" ? { baseline: "libvirt.destroy.plain", paired: true } : {}),
          ...(k === "vnat" ? { target: { of: "ratio", op: "<=", limit: 1.25 } as const } : {}),
        }),
      );
    figs.push(
      figure(
        "libvirt",
        "libvirt.removed.vnat",
        "virsh net-destroy → gone: vnat network (returns once its namespace is removed) vs libvirt's NAT network",
        "ms",
        removed,
        { baseline: "libvirt.destroy.nat", paired: true },
      ),
    );
    figs.push(
      figure("hook", "hook.noop.installed", "no-op event through the installed hook (network.d/vnat)", "ms", noop, {
        target: { of: "value", op: "<=", limit: 80 },
      }),
    );
    return compare(figs);
  } finally {
    errors.push(...(await tracker.cleanup()));
    await world.destroy().catch((e: unknown) => errors.push((e as Error).message));
    await hook.release().catch((e: unknown) => errors.push((e as Error).message));
    await rm(dir, { recursive: true, force: true });
    // 1 only because of our NAT network, and no other forwarding network active: put it back
    if (forwardBefore === "0" && readFileSync(IP_FORWARD, "utf8").trim() === "1") {
      const others = await activeForwardingNetworks().catch(() => ["?"]);
      if (others.length === 0) writeFileSync(IP_FORWARD, "0");
      else log(`libvirt: host ip_forward left at 1: forwarding networks ${others.join(", ")} are active`);
    }
    if (errors.length) log(`libvirt cleanup: ${errors.join("; ")}`);
  }
}

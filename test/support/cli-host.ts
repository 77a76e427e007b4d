// A host for in-process tests of vnat's commands against the real libvirt: temp VNAT_* roots
// with one provider (its bridge need not exist to define networks), unique network and bridge
// names, plain libvirt networks defined from XML, and cleanup of everything defined.
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureDaemons, netDebris } from "./libvirt.ts";
import { tempRoots } from "./cli.ts";

export const PROVIDER_GATEWAY = "198.51.100.1/24";
export const PROVIDER_POOL = "198.51.100.10-198.51.100.20";

export function virshSync(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("virsh", ["-c", "qemu:///system", ...args], {
    encoding: "utf8",
    env: { ...process.env, LC_ALL: "C" },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface CliHost {
  roots: ReturnType<typeof tempRoots>;
  /** the provider's bridge name in the config (no such bridge exists) */
  provider: string;
  /** a fresh name with PREFIX (2 letters), 10 characters at most: fits a network and a bridge name */
  name: (prefix: string) => string;
  /** a fresh guest subnet's first three octets, e.g. "10.213.7" */
  subnet: () => string;
  /** defines a plain libvirt network (NAT when nat) from XML vnat did not write */
  definePlain: (name: string, bridge: string, net3: string, nat?: boolean) => void;
  /** destroys and undefines NAME at cleanup */
  track: (name: string) => string;
  close: () => Promise<void>;
}

export async function cliHost(): Promise<CliHost> {
  await ensureDaemons();
  const roots = tempRoots();
  const tag = randomBytes(2).toString("hex");
  const provider = `vtp${tag}`;
  writeFileSync(
    roots.config,
    JSON.stringify({ providers: [{ bridge: provider, gateway: PROVIDER_GATEWAY, pool: PROVIDER_POOL }] }, null, 2),
  );
  const tracked: string[] = [];
  const track = (n: string) => (tracked.push(n), n);
  const usedSubnets = new Set<string>();
  return {
    roots,
    provider,
    name: (prefix) => `${prefix}${randomBytes(4).toString("hex")}`,
    subnet: () => {
      for (;;) {
        const s = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}`;
        if (!usedSubnets.has(s)) return (usedSubnets.add(s), s);
      }
    },
    definePlain: (name, bridge, net3, nat = true) => {
      track(name);
      const xml = `<network><name>${name}</name>${nat ? "<forward mode='nat'/>" : ""}<bridge name='${bridge}'/>
        <ip address='${net3}.1' netmask='255.255.255.0'><dhcp><range start='${net3}.100' end='${net3}.200'/>
        <host mac='52:54:00:aa:bb:01' ip='${net3}.5' name='h1'/></dhcp></ip></network>`;
      const file = join(roots.dir, `${name}.xml`);
      writeFileSync(file, xml);
      const r = virshSync(["net-define", file]);
      if (r.status !== 0) throw new Error(`virsh net-define ${name}: ${r.stderr}`);
    },
    track,
    close: async () => {
      const left: string[] = [];
      for (const n of tracked.reverse()) {
        virshSync(["net-destroy", n]);
        virshSync(["net-undefine", n]);
        left.push(...(await netDebris(n)));
      }
      roots.undo();
      if (left.length) throw new Error(`left behind: ${left.join(", ")}`);
    },
  };
}

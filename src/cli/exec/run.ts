// Runs `vnat exec NET -- CMD...`: `ip netns exec vnat-NET CMD...` (an argument array, never
// a shell string) with vnat's stdin, stdout and stderr, so an interactive ssh works. ip
// puts /etc/netns/vnat-NET/resolv.conf (written when the namespace is built) over
// /etc/resolv.conf: names resolve through the namespace's dnsmasq, which knows the guests'
// DHCP names. ip execs the command in its own place, so the child is the command itself:
// its exit code is vnat's (128 + N when signal N ended it); only vnat's own refusals, one
// line starting "vnat:", come before it runs.
import { dumpAllNetworks } from "../../adapters/libvirt/virsh.ts";
import { roots } from "../../adapters/store/roots.ts";
import { readState } from "../../adapters/store/state.ts";
import { netnsExists } from "../../adapters/sysfs.ts";
import { conflict, invalid, VnatError } from "../../core/errors.ts";
import { parseNetworkXml } from "../../core/observe/inventory.ts";
import { isNetworkName, kernelNames, printable, netnsName } from "../../core/names.ts";
import { runAttached } from "../../exec/run.ts";
import { requireRoot } from "../root.ts";

/** UMASK: the one vnat was started with (cli/umask.ts), which the command gets instead of vnat's 077. */
export async function execIn(network: string, command: string[], umask: number): Promise<void> {
  if (command.length === 0)
    throw invalid(`exec "${printable(network)}": no command given (usage: vnat exec NET -- CMD [ARG...])`);
  requireRoot("exec");
  process.exitCode = await runIn(await servingNamespace(network), command, umask);
}

/**
 * The namespace of network NAME when vnat has built it (the namespace exists and its state
 * says active: no virsh call on this path); otherwise libvirt says why not, in one line.
 */
async function servingNamespace(name: string): Promise<string> {
  if (isNetworkName(name)) {
    const { netns } = kernelNames(name);
    if (netnsExists(netns) && (await readState(roots(), name))?.phase === "active") return netns;
  }
  const shown = printable(name);
  const net = (await dumpAllNetworks()).find((n) => n.name === name);
  if (!net) throw invalid(`network "${shown}": not defined in libvirt (see vnat net list)`);
  if (!isNetworkName(name) || !hasVnatMetadata(net.xml))
    throw invalid(`network "${shown}": not a vnat network (no vnat metadata); vnat exec needs vnat's namespace`);
  if (!net.active) throw conflict(`network "${name}" is not running (virsh net-start ${name})`);
  throw conflict(
    `network "${name}" is active but vnat's namespace ${netnsName(name)} is not serving (see vnat status ${name}; vnat reconcile repairs it)`,
  );
}

function hasVnatMetadata(xml: string): boolean {
  try {
    return parseNetworkXml(xml).metadata !== undefined;
  } catch {
    return false;
  }
}

/**
 * Runs COMMAND in NETNS and resolves to its exit code. While it runs, vnat ignores the
 * terminal's SIGINT and SIGQUIT and passes SIGTERM and SIGHUP on to it (exec/run.ts).
 */
async function runIn(netns: string, command: string[], umask: number): Promise<number> {
  const r = await runAttached("ip", ["netns", "exec", netns, ...command], { umask });
  if ("error" in r) throw new VnatError("apply-failed", `exec: cannot run ip netns exec: ${r.error}`);
  return r.exitCode;
}

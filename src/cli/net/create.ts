// `vnat net create`: plan (pure, fully validated) and define, under the allocation lock
// from reading what is taken until libvirt holds the new network, so parallel creates
// never hand out one uplink or one bridge name twice.
import { loadConfig } from "../../adapters/store/config-file.ts";
import { probeHostView } from "../../adapters/libvirt/host-view.ts";
import { defineNetwork, setAutostart, undefineNetwork } from "../../adapters/libvirt/virsh.ts";
import { withLock } from "../../adapters/store/lock.ts";
import { rememberDefinition } from "../../adapters/libvirt/prewarm.ts";
import { roots } from "../../adapters/store/roots.ts";
import { readNetworkTemplate } from "../../adapters/templates.ts";
import { formatCidr, formatIp, formatSubnet } from "../../core/ipv4.ts";
import { planCreate, type CreateOptions, type CreatePlan } from "../../core/edit/netcreate.ts";
import { uplink6Doc } from "../../core/observe/netshow6.ts";
import { enforcePolicy, refuseDuplicates } from "../../exec/probe/policy-facts.ts";
import { processRunner } from "../../exec/run.ts";
import { preflight } from "../../hook/preflight.ts";
import { report, type OutputFlags } from "../output.ts";

export const allocLockPath = (run: string): string => `${run}/locks/net-create.lock`;

/** the command's options: what planCreate takes, plus what only the CLI acts on */
type Flags = Omit<CreateOptions, "name"> & { template?: string; autostart?: boolean } & OutputFlags;

export async function netCreate(name: string, flags: Record<string, unknown>): Promise<void> {
  const f = flags as unknown as Flags;
  const r = roots();
  const [config, template] = await Promise.all([loadConfig(r.config), readNetworkTemplate(f.template)]);
  const opts: CreateOptions = { ...f, name };
  if (f.dryRun) {
    // the same plan, from the same view of the host, without the lock: nothing is taken;
    // then what the network's `start begin` checks on the host (hook/handlers.ts): the
    // provider bridge, live claims and names, the uplink policy, another host on the uplink
    const plan = planCreate(opts, config, await probeHostView(config, r, f.provider), template);
    await preflight(plan.spec, r);
    await enforcePolicy(processRunner, r, plan.spec, config);
    await refuseDuplicates(processRunner, plan.spec);
    return report(f, [...summary(name, plan, f, true), "", plan.xml.trimEnd()], {
      ...createdJson(plan, f),
      xml: plan.xml,
    });
  }
  const plan = await withLock(
    allocLockPath(r.run),
    async () => {
      const plan = planCreate(opts, config, await probeHostView(config, r, f.provider), template);
      await defineNetwork(plan.xml);
      return plan;
    },
    { what: "net create (allocation lock)" },
  );
  if (f.autostart) {
    try {
      await setAutostart(name, true);
    } catch (e) {
      await undefineNetwork(name).catch(() => {});
      throw e;
    }
  }
  // the first `virsh net-start` then finds its `start begin` answered without Node
  await rememberDefinition(r, name);
  return report(f, summary(name, plan, f, false), createdJson(plan, f));
}

function summary(name: string, plan: CreatePlan, f: Flags, dryRun: boolean): string[] {
  const s = plan.spec;
  return [
    `${dryRun ? "would define" : "defined"} network "${name}"${f.autostart ? " (autostart)" : ""}`,
    `  bridge   ${s.lanBridge}`,
    `  subnet   ${formatSubnet(s.lan)}, gateway ${formatIp(s.lan.address)}` +
      (s.dhcp ? `, DHCP ${formatIp(s.dhcp.start)}-${formatIp(s.dhcp.end)}` : ""),
    `  uplink   ${formatCidr(s.uplink.address)} on ${s.uplink.bridge}${plan.uplinkWasAuto ? " (auto)" : ""}, via ${formatIp(s.uplink.gateway)}`,
    `  dns      ${s.dns.map(formatIp).join(", ") || "-"}`,
    ...summary6(plan),
    dryRun ? "nothing was changed (--dry-run)" : `start it with: virsh net-start ${name}`,
  ];
}

/** `net create --json`: the network as defined, with what vnat chose for it */
function createdJson(plan: CreatePlan, f: Flags): Record<string, unknown> {
  const s = plan.spec;
  return {
    network: s.name,
    bridge: s.lanBridge,
    subnet: formatSubnet(s.lan),
    gateway: formatIp(s.lan.address),
    dhcp: s.dhcp ? { start: formatIp(s.dhcp.start), end: formatIp(s.dhcp.end) } : null,
    uplink: {
      address: formatCidr(s.uplink.address),
      bridge: s.uplink.bridge,
      gateway: formatIp(s.uplink.gateway),
      auto: plan.uplinkWasAuto,
    },
    dns: s.dns.map(formatIp),
    autostart: f.autostart === true,
    // IPv6 (issue 17): only for a dual-stack network
    ...(plan.spec.v6 ? { ipv6: created6Json(plan) } : {}),
  };
}

/** The IPv6 lines of the summary (issue 17); none for an IPv4-only network. */
function summary6(plan: CreatePlan): string[] {
  const v6 = plan.spec.v6;
  if (!v6) return [];
  const u = v6.uplink;
  return [
    `  subnet6  ${v6.lan}, router advertisements${v6.dhcp6 ? " + DHCPv6" : ""}`,
    `  uplink6  ${u.address} on ${plan.spec.uplink.bridge}${plan.uplink6WasAuto ? " (auto)" : ""}, via ${u.gateway}, ${u.mode}${u.prefix ? ` ${u.prefix}` : ""}`,
  ];
}

function created6Json(plan: CreatePlan): Record<string, unknown> {
  const v6 = plan.spec.v6!;
  return {
    lan: v6.lan,
    dhcp6: v6.dhcp6,
    uplink: { ...uplink6Doc(v6), auto: plan.uplink6WasAuto },
  };
}

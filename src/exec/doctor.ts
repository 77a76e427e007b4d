// `vnat doctor`: every check, in the order a problem would be fixed.
import { resolveAttachments } from "../core/input/attach.ts";
import { bridgeCallsIptables, globalNfCall } from "./probe/attach-facts.ts";
import { bridgeHasAddress } from "./probe/host-addrs.ts";
import type { Config } from "../core/input/config.ts";
import { desiredSpec } from "../core/input/desired.ts";
import { fail, judgeLibvirt, judgeTool, ok, TOOLS, warn, type Check } from "../core/judge/doctor.ts";
import { judgeFirewall, judgeHook, judgeNetfilterAttach, type MacvlanAtRisk } from "../core/judge/doctor-host.ts";
import { evaluate, sides, wanted } from "../core/judge/health.ts";
import { formatCidr, formatIp } from "../core/ipv4.ts";
import { UPLINK_IF } from "../core/names.ts";
import type { NetSpec } from "../core/input/spec.ts";
import { netPaths, type Roots } from "../core/paths.ts";
import type { LibvirtNetwork } from "../adapters/libvirt/view.ts";
import { bridgeExists } from "./probe/host.ts";
import { probeAll } from "./probe/observe.ts";
import { firewallFacts, hookFacts, toolBanner, tryKernel } from "./probe/doctor-facts.ts";
import { firewall6Facts, tryKernel6 } from "./probe/doctor-ipv6.ts";
import { judgeFirewall6, judgeIpv6 } from "../core/judge/doctor-ipv6.ts";
import type { Runner } from "./run.ts";
import { probePolicyFacts } from "./probe/policy-facts.ts";
import { checkPolicy, type HostFacts } from "../core/input/policy.ts";
import { oneLine } from "../core/errors.ts";
import { judgeSegment } from "../core/judge/doctor-segments.ts";
import { segmentFacts } from "./probe/doctor-segments.ts";

async function segmentChecks(
  inp: DoctorInput,
  networks: LibvirtNetwork[],
  config: Config | undefined,
  firewall: Awaited<ReturnType<typeof firewallFacts>>,
): Promise<Check[]> {
  if (!config) return [];
  const specs = networks.flatMap((n) => desiredSpec(n.persistentXml ?? n.xml, undefined, config).spec ?? []);
  const pidFiles = specs.map((s) => netPaths(inp.roots, s.name).pidFile);
  return (await segmentFacts(inp.runner, specs, firewall, pidFiles)).flatMap(judgeSegment);
}

export interface DoctorInput {
  runner: Runner;
  roots: Roots;
  /** the config, or why it could not be loaded */
  config: Config | { error: string };
  /** libvirt's networks, or why virsh could not list them */
  networks: LibvirtNetwork[] | { error: string };
  daemonVersion: string | undefined;
}

export async function runDoctor(inp: DoctorInput): Promise<Check[]> {
  const checks: Check[] = [];
  const kernel = await tryKernel(inp.runner);
  checks.push(
    kernel.links === null
      ? ok("kernel-links", "kernel: network namespaces, veth, bridge and macvlan devices work")
      : fail(
          "kernel-links",
          `kernel: namespace/veth/bridge/macvlan test failed: ${kernel.links}`,
          "use a kernel with CONFIG_NET_NS, CONFIG_VETH, CONFIG_BRIDGE and CONFIG_MACVLAN",
        ),
    kernel.nft === null
      ? ok("kernel-nft", "kernel: nftables takes vnat's ruleset (nat, conntrack, counters)")
      : fail(
          "kernel-nft",
          `kernel: vnat's ruleset was refused: ${kernel.nft}`,
          "use a kernel with nf_tables, nft_nat, nft_ct and nf_conntrack",
        ),
  );
  for (const t of TOOLS) checks.push(judgeTool(t, await toolBanner(inp.runner, t.cmd)));
  checks.push(judgeLibvirt(inp.daemonVersion, "error" in inp.networks ? inp.networks.error : undefined));

  const config = "error" in inp.config ? undefined : inp.config;
  checks.push(
    config
      ? ok("config", `config: ${inp.roots.config} is valid (${config.providers.length} provider(s))`)
      : fail(
          "config",
          `config: ${(inp.config as { error: string }).error}`,
          `fix ${inp.roots.config} (vnat provider list shows what vnat reads)`,
        ),
  );
  const networks = "error" in inp.networks ? [] : inp.networks;
  const specs = networks.flatMap((n) => {
    const s = config ? desiredSpec(n.xml, undefined, config).spec : undefined;
    return s ? [{ net: n, spec: s }] : [];
  });
  // IPv6 (issue 17): a kernel problem fails only when a network has an IPv6 side
  checks.push(
    ...judgeIpv6(
      await tryKernel6(inp.runner),
      specs.filter((s) => s.spec.v6 !== undefined).map((s) => s.net.name),
    ),
  );
  const { observations } = config
    ? await probeAll({ runner: inp.runner, roots: inp.roots, config, networks, duplicate: true })
    : { observations: [] };
  checks.push(
    ...judgeHook(
      await hookFacts(
        inp.runner,
        observations.some((o) => wanted(o) && o.netns.present),
      ),
    ),
  );

  const bridges = [
    ...new Set([...(config?.providers.map((p) => p.bridge) ?? []), ...specs.map((s) => s.spec.uplink.bridge)]),
  ].sort();
  for (const b of bridges)
    checks.push(
      bridgeExists(b)
        ? ok(`provider-${b}`, `provider bridge ${b}: present`)
        : fail(
            `provider-${b}`,
            `provider bridge ${b}: missing`,
            `create it (ip link add ${b} type bridge) and plug the provider network in, or fix the config`,
          ),
    );
  // bridges whose next start makes a veth port (its frames then pass the host's forward chains)
  const vethBridges = new Set<string>();
  const hasAddress = new Map<string, boolean>(); // one `ip` per provider bridge, not per network
  for (const { spec } of specs) {
    const b = spec.uplink.bridge;
    if (!spec.uplink.attach && !hasAddress.has(b)) hasAddress.set(b, await bridgeHasAddress(inp.runner, b));
    const a = resolveAttachments(spec.uplink.attach, {
      uplinkHasAddress: hasAddress.get(b) ?? false,
      lanCallsIptables: bridgeCallsIptables(spec.lanBridge),
      uplinkCallsIptables: bridgeCallsIptables(b),
    });
    if (a.lan === "veth") vethBridges.add(spec.lanBridge);
    if (a.uplink === "veth") vethBridges.add(spec.uplink.bridge);
  }
  // and the providers' bridges, networks or not
  for (const p of config?.providers ?? []) {
    if (vethBridges.has(p.bridge) || p.attach === "macvlan") continue;
    const veth =
      p.attach === "veth" ||
      bridgeCallsIptables(p.bridge) ||
      (hasAddress.get(p.bridge) ?? (await bridgeHasAddress(inp.runner, p.bridge)));
    if (veth) vethBridges.add(p.bridge);
  }
  const firewall = await firewallFacts(inp.runner, [...vethBridges].sort());
  checks.push(...judgeFirewall(firewall));
  const using6 = specs.filter((s) => s.spec.v6 !== undefined).map((s) => s.net.name);
  if (using6.length) checks.push(...judgeFirewall6({ ...firewall, ...(await firewall6Facts(inp.runner)) }, using6));
  // segments (issue 19): from the persistent definitions, which `vnat attach` changes
  checks.push(...(await segmentChecks(inp, networks, config, firewall)));
  const running: MacvlanAtRisk[] = observations
    .filter((o) => wanted(o) && o.spec && o.netns.present)
    .flatMap((o) =>
      sides(o, o.spec!)
        .filter((s) => s.kind === "macvlan" && s.callsIptables === true)
        .map((s) => ({
          network: o.name,
          ifname: s.ifname,
          bridge: s.bridge,
          forced: s.ifname === UPLINK_IF && o.spec!.uplink.attach === "macvlan",
        })),
    );
  const forcedMacvlan = (config?.providers ?? [])
    .filter((p) => p.attach === "macvlan" && bridgeCallsIptables(p.bridge))
    .map((p) => p.bridge);
  checks.push(...judgeNetfilterAttach({ globalNfCall: globalNfCall(), forcedMacvlan, running }));
  checks.push(...uplinkChecks(specs.map((s) => s.spec)));
  if (config)
    checks.push(
      ...policyChecks(
        specs.map((s) => s.spec),
        config,
        await probePolicyFacts(inp.runner, inp.roots),
      ),
    );
  for (const o of observations.filter((x) => x.duplicate !== undefined)) {
    const addr = formatIp(o.spec!.uplink.address.address);
    checks.push(
      o.duplicate!.answeredBy
        ? fail(
            `dad-${o.name}`,
            `uplink ${addr} of ${o.name}: answered by another host (MAC ${o.duplicate!.answeredBy}) on ${o.spec!.uplink.bridge}`,
            `give ${o.name} another uplink address, or remove the other host's`,
          )
        : ok(`dad-${o.name}`, `uplink ${addr} of ${o.name}: no other host answers for it`),
    );
  }
  const bad = observations.filter((o) => !["healthy", "stopped"].includes(evaluate(o).health));
  checks.push(
    bad.length
      ? warn(
          "networks",
          `networks: ${bad.length} of ${observations.length} need attention (${bad.map((o) => o.name).join(", ")})`,
          "vnat status; vnat reconcile",
        )
      : ok("networks", `networks: ${observations.length} vnat network(s), none needs attention`),
  );
  return checks;
}

/** Every defined vnat network against the uplink policy (core/input/policy.ts): what its next start would refuse. */
function policyChecks(specs: NetSpec[], config: Config, facts: HostFacts): Check[] {
  const out: Check[] = [];
  for (const s of specs) {
    // its own LAN bridge is no other network's
    const others = new Map([...facts.vnatLanBridges].filter(([, owner]) => owner !== s.name));
    try {
      checkPolicy(s, config, { ...facts, vnatLanBridges: others });
    } catch (e) {
      out.push(
        fail(`policy-${s.name}`, `policy: ${oneLine(e)}`, "change the network's metadata, or the config's policy keys"),
      );
    }
  }
  return out.length ? out : [ok("policy", `policy: ${specs.length} vnat network(s) within the uplink policy`)];
}

/** Two vnat networks defined with one uplink on one provider would fight over it when both run. */
function uplinkChecks(specs: NetSpec[]): Check[] {
  const byUplink = new Map<string, string[]>();
  for (const s of specs) {
    const key = `${formatCidr(s.uplink.address)} on ${s.uplink.bridge}`;
    byUplink.set(key, [...(byUplink.get(key) ?? []), s.name]);
  }
  const dups = [...byUplink].filter(([, names]) => names.length > 1);
  if (dups.length === 0)
    return [ok("uplinks", `uplinks: ${specs.length} vnat network(s), every uplink address distinct`)];
  return dups.map(([key, names]) =>
    fail(
      "uplinks",
      `uplinks: ${key} is used by ${names.join(", ")}`,
      "give each network its own uplink (vnat net create --uplink auto picks a free one)",
    ),
  );
}

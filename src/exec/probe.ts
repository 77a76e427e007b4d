// Observes every vnat network on this host, and every leftover of one: the networks
// libvirt knows (with vnat metadata), vnat-* namespaces and vnat state directories. Cost
// per network: one `ip` process (which forks one nft) plus file reads; one more nft
// process renders the reference rulesets of all networks at once.
import { readdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import type { Config } from "../core/config.ts";
import { desiredSpec, type Desired } from "../core/desired.ts";
import { wanted } from "../core/health.ts";
import { formatIp } from "../core/ipv4.ts";
import { parseLeases } from "../core/leases.ts";
import { hashName, isVnatLink, isVnatNetns, kernelNames, NETNS_PREFIX } from "../core/names.ts";
import type { NetObservation } from "../core/observed.ts";
import { netPaths, type Roots } from "../core/paths.ts";
import { NFT_TABLE, renderDnsmasqArgs } from "../core/render.ts";
import { parseCounters } from "../core/ruleset.ts";
import type { NetSpec } from "../core/spec.ts";
import { readIfExists } from "../adapters/files.ts";
import type { LibvirtNetwork } from "../adapters/libvirt-view.ts";
import { listPorts } from "../adapters/ports.ts";
import { listStates, readState } from "../adapters/state.ts";
import { bridgeExists, conntrackCount, inNetns, probeDnsmasq, probeVeth } from "./probe-host.ts";
import { probeDuplicate } from "./probe-dad.ts";
import { limiter, probeNetns, probeNetnsViaPid, type Limiter } from "./probe-netns.ts";
import { dnsmasqPid } from "../adapters/dnsmasq.ts";
import type { NetnsView } from "../core/netns-view.ts";
import { referenceRulesets } from "./probe-ruleset.ts";
import type { Runner } from "./run.ts";

export interface ProbeOptions {
  runner: Runner;
  roots: Roots;
  config: Config;
  /** libvirt's networks; a promise lets the namespace probes start while virsh still runs */
  networks: LibvirtNetwork[] | Promise<LibvirtNetwork[]>;
  /** only these networks (and no stray-interface sweep) */
  only?: string[];
  /** run the duplicate-address probe of every running uplink (about a second) */
  duplicate?: boolean;
}

export interface ProbeResult {
  observations: NetObservation[];
  /** vnl-/vnu- host interfaces whose network is unknown */
  strayLinks: string[];
}

type Inside = { view: NetnsView } | { error: string };

const listDir = (dir: string): Promise<string[]> => readdir(dir).catch(() => [] as string[]);

export async function probeAll(opts: ProbeOptions): Promise<ProbeResult> {
  const [nsList, stateNames, links] = await Promise.all([
    listDir("/run/netns"),
    listStates(opts.roots),
    listDir("/sys/class/net"),
  ]);
  const netnsSet = new Set(nsList.filter(isVnatNetns));
  const wantedName = (n: string): boolean => !opts.only || opts.only.includes(n);
  // 1. every namespace's probe starts now; they need nothing from libvirt
  const limit = limiter(Math.max(2, Math.min(8, availableParallelism() * 2)));
  const inside = new Map<string, Promise<Inside>>();
  for (const ns of netnsSet) {
    const name = ns.slice(NETNS_PREFIX.length);
    if (wantedName(name))
      inside.set(
        name,
        limit(async () => {
          const pid = await dnsmasqPid(netPaths(opts.roots, name).pidFile);
          const fast =
            pid !== undefined && inNetns(pid, ns)
              ? await probeNetnsViaPid(opts.runner, ns, pid).catch(() => undefined)
              : undefined;
          return fast ?? probeNetns(opts.runner, ns);
        }).then(
          (view) => ({ view }),
          (e: unknown) => ({ error: (e as Error).message }),
        ),
      );
  }
  // 2. meanwhile libvirt says which networks should run, and how
  const networks = await opts.networks;
  const libvirt = new Map(networks.map((n) => [n.name, n]));
  const desired = new Map<string, Desired>();
  for (const n of networks) desired.set(n.name, desiredSpec(n.xml, n.persistentXml, opts.config));
  const all = new Set<string>([
    ...networks.filter((n) => desired.get(n.name)?.vnat).map((n) => n.name),
    ...[...netnsSet].map((ns) => ns.slice(NETNS_PREFIX.length)),
    ...stateNames,
  ]);
  const names = [...all].filter(wantedName).sort();
  const refSpecs = names
    .filter((n) => libvirt.get(n)?.active && netnsSet.has(kernelNames(n).netns))
    .map((n) => desired.get(n)?.spec)
    .filter((s): s is NetSpec => s !== undefined);
  const [observations, refs] = await Promise.all([
    Promise.all(names.map((n) => observeOne(opts, n, libvirt.get(n), desired.get(n), inside.get(n)))),
    referenceRulesets(opts.runner, refSpecs),
  ]);
  for (const o of observations) if (wanted(o) && o.spec) o.expectedRuleset = refs.get(o.name);
  if (opts.duplicate) await probeDuplicates(opts.runner, observations, limit);

  const known = new Set([...all].map(hashName));
  const strayLinks = opts.only ? [] : links.filter((l) => isVnatLink(l) && !known.has(l.slice(4))).sort();
  return { observations, strayLinks };
}

async function observeOne(
  opts: ProbeOptions,
  name: string,
  lv: LibvirtNetwork | undefined,
  d: Desired | undefined,
  inside: Promise<Inside> | undefined,
): Promise<NetObservation> {
  const k = kernelNames(name);
  const paths = netPaths(opts.roots, name);
  const spec = d?.spec;
  const o: NetObservation = {
    name,
    ...(lv
      ? { libvirt: { active: lv.active, autostart: lv.autostart, persistent: lv.persistent, vnat: d?.vnat ?? false } }
      : {}),
    ...(spec ? { spec } : {}),
    ...(d?.error ? { specError: d.error } : {}),
    netns: { name: k.netns, present: inside !== undefined },
    lanHost: probeVeth(k.lanHost),
    uplinkHost: probeVeth(k.uplinkHost),
    bridges: {
      lan: spec ? bridgeExists(spec.lanBridge) : null,
      uplink: spec ? bridgeExists(spec.uplink.bridge) : null,
    },
    dnsmasq: await probeDnsmasq(paths.pidFile, k.netns, spec ? renderDnsmasqArgs(spec, paths) : null),
    counters: {},
    conntrack: null,
    leases: parseLeases((await readIfExists(paths.leases).catch(() => undefined)) ?? ""),
    ports: await listPorts(paths.ports).catch(() => []),
  };
  const state = await readState(opts.roots, name);
  if (state) o.state = { phase: state.phase, startedAt: state.startedAt };
  const seen = await inside;
  if (seen && "view" in seen) {
    o.inside = seen.view;
    o.counters = parseCounters(seen.view.ruleset, "ip", NFT_TABLE);
  } else if (seen) o.probeError = seen.error;
  if (o.dnsmasq.pid !== null && o.dnsmasq.inNamespace) o.conntrack = conntrackCount(o.dnsmasq.pid);
  return o;
}

async function probeDuplicates(runner: Runner, obs: NetObservation[], limit: Limiter): Promise<void> {
  const targets = obs.filter((o) => wanted(o) && o.spec && o.netns.present);
  await Promise.all(
    targets.map((o) =>
      limit(async () => {
        try {
          o.duplicate = {
            answeredBy: await probeDuplicate(runner, o.netns.name, formatIp(o.spec!.uplink.address.address)),
          };
        } catch {
          /* no verdict: the probe itself failed (e.g. wan0 missing, reported otherwise) */
        }
      }),
    ),
  );
}

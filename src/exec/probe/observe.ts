// Observes every vnat network on this host, and every leftover of one: the networks
// libvirt knows (with vnat metadata), vnat-* namespaces and vnat state directories. Cost
// per network: one `ip` process (which forks one nft) plus file reads; one more nft
// process renders the reference rulesets of all networks at once.
import { readdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import type { Config } from "../../core/input/config.ts";
import { desiredSpec, type Desired } from "../../core/input/desired.ts";
import { wanted } from "../../core/judge/health.ts";
import { formatIp } from "../../core/ipv4.ts";
import { parseLeases } from "../../core/observe/leases.ts";
import { fdbKey, inferAttachments, type FdbEntry } from "../../core/input/attach.ts";
import {
  hostLinkNames,
  isNetworkName,
  isSegmentLink,
  isVnatLink,
  isVnatMac,
  kernelNames,
  legacyKernelNames,
  netnsName,
  netnsNetwork,
  NFT_TABLE,
  type KernelNames,
} from "../../core/names.ts";
import type { NetObservation, VethState } from "../../core/observe/observed.ts";
import { netPaths, type Roots } from "../../core/paths.ts";
import { attachFdb, renderDnsmasqArgs } from "../../core/plan/render.ts";
import { parseCounters } from "../../core/judge/ruleset.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { parseState } from "../../core/input/state-schema.ts";
import { networkBusy, readSeq } from "../netlock.ts";
import type { LibvirtNetwork } from "../../adapters/libvirt/view.ts";
import { listPorts } from "../../adapters/store/ports.ts";
import { listStates } from "../../adapters/store/state.ts";
import { bridgeExists, conntrackCount, probeDnsmasq, probeVeth, readStateSync, readText } from "./host.ts";
import { probeDuplicate } from "./dad.ts";
import { listFdbLocals } from "../change/fdb.ts";
import { bridgeCallsIptables } from "./attach-facts.ts";
import { limiter, type Limiter } from "../../adapters/async.ts";
import { probeInside, type Inside } from "./inside.ts";
import { referenceRulesets } from "./reference-rulesets.ts";
import type { Runner } from "../run.ts";
import { linkOwner, recordedHostLinks } from "../change/teardown.ts";
import { probeSegmentStates } from "./segments.ts";

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
  /** probe processes at once (default: from the CPU count); the exporter runs one */
  parallel?: number;
  /** how the reference rulesets are made (default: referenceRulesets; the exporter caches them per spec) */
  references?: (runner: Runner, specs: NetSpec[]) => Promise<Map<string, string>>;
}

export interface ProbeResult {
  observations: NetObservation[];
  /** vnl-/vnu- host interfaces whose network (their alias's, else the one their name or a state file gives) is unknown */
  strayLinks: string[];
  /** bridge entries with vnat's MACs (02:76/02:77) that no known network accounts for */
  strayFdb: FdbEntry[];
}

const listDir = (dir: string): Promise<string[]> => readdir(dir).catch(() => [] as string[]);

export async function probeAll(opts: ProbeOptions): Promise<ProbeResult> {
  const fdbProbe = listFdbLocals(opts.runner);
  const [nsList, stateNames, links] = await Promise.all([
    listDir("/run/netns"),
    listStates(opts.roots),
    listDir("/sys/class/net"),
  ]);
  // vnat's namespaces, each with the network it is named after
  const vnatNetns = nsList.flatMap((netns) => {
    const name = netnsNetwork(netns);
    return name === undefined ? [] : [{ name, netns }];
  });
  const netnsSet = new Set(vnatNetns.map((t) => t.netns));
  const wantedName = (n: string): boolean => !opts.only || opts.only.includes(n);
  // 1. every namespace's probe starts now; they need nothing from libvirt
  // the exporter asks for fewer: a scrape may take longer, a hook event must not
  const cpus = availableParallelism();
  const limit = limiter(opts.parallel ?? Math.max(2, Math.min(8, cpus * 2)));
  const targets = vnatNetns.filter((t) => wantedName(t.name));
  const inside = probeInside(
    opts.runner,
    opts.roots,
    targets,
    limit,
    opts.parallel ?? Math.max(2, Math.min(4, cpus * 2)),
  );
  // 2. meanwhile libvirt says which networks should run, and how
  const networks = await opts.networks;
  const libvirt = new Map(networks.map((n) => [n.name, n]));
  const desired = new Map<string, Desired>();
  for (const n of networks) desired.set(n.name, desiredSpec(n.xml, n.persistentXml, opts.config));
  const all = new Set<string>([
    ...networks.filter((n) => desired.get(n.name)?.vnat).map((n) => n.name),
    ...vnatNetns.map((t) => t.name),
    ...stateNames,
  ]);
  const names = [...all].filter(wantedName).sort();
  const refSpecs = names
    .filter((n) => libvirt.get(n)?.active && netnsSet.has(netnsName(n)))
    .map((n) => desired.get(n)?.spec)
    .filter((s): s is NetSpec => s !== undefined);
  const fdb = await fdbProbe;
  const recorded = readRecorded(opts.roots, stateNames);
  const [observations, refs] = await Promise.all([
    Promise.all(names.map((n) => observeOne(opts, n, libvirt.get(n), desired.get(n), inside.get(n), fdb, recorded))),
    (opts.references ?? referenceRulesets)(opts.runner, refSpecs),
  ]);
  for (const o of observations) if (wanted(o) && o.spec) o.expectedRuleset = refs.get(o.name);
  if (opts.duplicate) await probeDuplicates(opts.runner, observations, limit);

  const strayLinks = opts.only ? [] : strays(links, all, recorded);
  const accounted = new Set(observations.flatMap((o) => (o.spec ? networkFdb(o.spec).map(fdbKey) : [])));
  const strayFdb =
    opts.only || !fdb
      ? []
      : [...fdb]
          .filter((k) => !accounted.has(k))
          .map((k) => k.split(" "))
          .filter(([, mac]) => isVnatMac(mac!))
          .map(([bridge, mac]) => ({ bridge: bridge!, mac: mac! }));
  return { observations, strayLinks, strayFdb };
}

type HostNames = Partial<Record<"lanHost" | "uplinkHost", string>>;

/** What the networks' state files record about host links (an older vnat's links carry no alias). */
interface Recorded {
  /** the host link names network NAME's spec was built with */
  names(name: string): HostNames | undefined;
  /** the network whose state file records host link IFNAME as built (every state file is read once, when first asked) */
  owner(ifname: string): string | undefined;
}

function readRecorded(roots: Roots, stateNames: string[]): Recorded {
  const states = new Map<string, { links: string[]; names: HostNames } | undefined>();
  const read = (name: string): { links: string[]; names: HostNames } | undefined => {
    if (states.has(name)) return states.get(name);
    let rec: { links: string[]; names: HostNames } | undefined;
    try {
      const path = netPaths(roots, name).state;
      const text = readText(path);
      const st = text === null ? undefined : parseState(path, name, text); // throws: unreadable, none recorded
      const names = st?.spec?.names;
      const valid = (v: string | undefined): v is string => v !== undefined && isVnatLink(v);
      rec = {
        links: recordedHostLinks(st),
        names: {
          ...(valid(names?.lanHost) ? { lanHost: names.lanHost } : {}),
          ...(valid(names?.uplinkHost) ? { uplinkHost: names.uplinkHost } : {}),
        },
      };
    } catch {
      rec = undefined;
    }
    states.set(name, rec);
    return rec;
  };
  let owners: Map<string, string> | undefined;
  return {
    names: (name) => (isNetworkName(name) ? read(name)?.names : undefined),
    owner: (ifname) => {
      owners ??= new Map(
        stateNames.filter(isNetworkName).flatMap((n) => (read(n)?.links ?? []).map((l) => [l, n] as const)),
      );
      return owners.get(ifname);
    },
  };
}

/**
 * The host links nobody owns: whose alias names no known network, or, without alias (an older
 * vnat made it), that no known network's state file records and no known network is named by.
 */
function strays(links: string[], known: Set<string>, rec: Recorded): string[] {
  let derived: Map<string, string> | undefined;
  const owner = (l: string): string | undefined => {
    const alias = linkOwner(l);
    if (alias !== undefined) return alias;
    const byState = rec.owner(l);
    if (byState !== undefined) return byState;
    derived ??= new Map([...known].flatMap((n) => hostLinkNames(n).map((h) => [h, n] as const)));
    return derived.get(l);
  };
  // a segment's veth pair (vsl-/vss-, issue 19) carries its network's alias like the others
  return links.filter((l) => (isVnatLink(l) || isSegmentLink(l)) && !known.has(owner(l) ?? "")).sort();
}

/**
 * Network NAME's host links as this host has them: the names its state file records (a network
 * an older vnat started keeps its 8-hex names), else today's name of a side, or an older vnat's
 * when only that one exists and is not another network's.
 */
function hostNames(name: string, rec: Recorded): Pick<KernelNames, "lanHost" | "uplinkHost"> {
  const k = kernelNames(name);
  const legacy = legacyKernelNames(name);
  const pick = (side: "lanHost" | "uplinkHost"): string => {
    const built = rec.names(name)?.[side];
    if (built !== undefined) return built;
    const old = legacy[side];
    return !probeVeth(k[side]).present && probeVeth(old).present && ownerOf(old, rec, name) === name ? old : k[side];
  };
  return { lanHost: pick("lanHost"), uplinkHost: pick("uplinkHost") };
}

/** Whose existing host link IFNAME is, seen from network NAME: its alias's, else a state file's, else NAME's. */
const ownerOf = (ifname: string, rec: Recorded, name: string): string => linkOwner(ifname) ?? rec.owner(ifname) ?? name;

/** Network NAME's host link IFNAME: absent when the link of that name is another network's. */
function ownVeth(name: string, ifname: string, rec: Recorded): VethState {
  const v = probeVeth(ifname);
  if (!v.present || ownerOf(ifname, rec, name) === name) return v;
  return { name: ifname, present: false, up: false, operstate: null, master: null };
}

/** The network's lock (taken and dropped at once when free: it is free unless an event runs) and its last event. */
async function probeEvents(roots: Roots, name: string): Promise<NonNullable<NetObservation["events"]>> {
  const { seq, event, outcome } = await readSeq(roots, name);
  return { busy: networkBusy(roots, name), seq, last: event, outcome };
}

/** Where a network's macvlans would have fdb entries, whichever way it is attached now. */
function networkFdb(spec: NetSpec): FdbEntry[] {
  return attachFdb(spec, { lan: "macvlan", uplink: "macvlan" });
}

async function observeOne(
  opts: ProbeOptions,
  name: string,
  lv: LibvirtNetwork | undefined,
  d: Desired | undefined,
  inside: Promise<Inside> | undefined,
  fdb: Set<string> | null,
  recorded: Recorded,
): Promise<NetObservation> {
  const k = kernelNames(name);
  const paths = netPaths(opts.roots, name);
  const spec = d?.spec;
  const state = readStateSync(paths.state, name);
  const host = hostNames(name, recorded);
  const [lanHost, uplinkHost] = [ownVeth(name, host.lanHost, recorded), ownVeth(name, host.uplinkHost, recorded)];
  const o: NetObservation = {
    name,
    ...(lv
      ? { libvirt: { active: lv.active, autostart: lv.autostart, persistent: lv.persistent, vnat: d?.vnat ?? false } }
      : {}),
    ...(spec ? { spec } : {}),
    ...(d?.error ? { specError: d.error } : {}),
    netns: { name: k.netns, present: inside !== undefined },
    events: await probeEvents(opts.roots, name),
    lanHost,
    uplinkHost,
    attach: state?.attach ?? inferAttachments(lanHost.present, uplinkHost.present, spec?.uplink.attach),
    fdb: { lan: null, uplink: null },
    bridges: {
      lan: spec ? bridgeExists(spec.lanBridge) : null,
      uplink: spec ? bridgeExists(spec.uplink.bridge) : null,
    },
    dnsmasq: probeDnsmasq(paths.pidFile, k.netns, spec ? renderDnsmasqArgs(spec, paths) : null),
    counters: {},
    conntrack: null,
    leases: parseLeases(readText(paths.leases) ?? ""),
    ports: await listPorts(paths.ports).catch(() => []),
  };
  if (state) o.state = { phase: state.phase, startedAt: state.startedAt };
  if (spec?.segments?.length) o.segments = probeSegmentStates(name, spec);
  if (spec)
    o.callsIptables = { lan: bridgeCallsIptables(spec.lanBridge), uplink: bridgeCallsIptables(spec.uplink.bridge) };
  if (spec && fdb) {
    const [lan, uplink] = networkFdb(spec).map((e) => fdb.has(fdbKey(e)));
    o.fdb = { lan: lan!, uplink: uplink! };
  }
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

// What `vnat metrics` and `vnat exporter` expose (docs/metrics.md lists every metric): the
// networks as `vnat status` observes and judges them, link statistics, the named nft
// counters of every forward and floating IP, conntrack, DHCP, the providers' pools, and the
// event counts the hook and reconcile keep. Pure: observations in, metric families out.
// Label values are few per metric (names of networks, providers, forwards, health states,
// reason codes, event kinds); nothing per guest, per lease or per connection.
import type { Config } from "../input/config.ts";
import { formatCidr, formatIp } from "../ipv4.ts";
import { HEALTHS, type Verdict } from "../judge/health.ts";
import type { NetObservation } from "../observe/observed.ts";
import { inboundCounterName } from "../plan/inbound-render.ts";
import { EVENT_BOUNDS, type EventStats, type ReconcileStats } from "./event-stats.ts";
import type { HistogramSample, MetricFamily, Sample } from "./exposition.ts";

/** A link's totals, as /proc/net/dev counts them. */
export interface LinkStats {
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
}

export interface NetworkMetrics {
  obs: NetObservation;
  verdict: Verdict;
  /** wan0's totals inside the namespace; undefined when not read */
  uplink?: LinkStats;
  /** the host's conntrack limit as the namespace sees it; null when not read */
  conntrackMax: number | null;
}

export interface MetricsInput {
  networks: NetworkMetrics[];
  config: Config;
  /** every network's hook event stats, summed */
  hook: EventStats;
  /** `start begin` events the shell hook answered from its cache (no Node, no duration) */
  hookCached: number;
  reconcile: ReconcileStats;
  /** how long collecting took (seconds) */
  collectSeconds: number;
}

const P = "vnat_";

type Fam = { name: string; help: string; type: "gauge" | "counter"; samples: Sample[] };

function fam(name: string, type: "gauge" | "counter", help: string): Fam {
  return { name: P + name, help, type, samples: [] };
}

/** The metric families of one collection, in a fixed order. */
export function buildMetrics(input: MetricsInput): MetricFamily[] {
  const f = {
    up: fam(
      "network_up",
      "gauge",
      "1 when the network is active in libvirt and its namespace serves (healthy or degraded)",
    ),
    info: fam(
      "network_info",
      "gauge",
      "always 1; the network's LAN, uplink address, provider bridge and LAN bridge as labels",
    ),
    health: fam(
      "network_health",
      "gauge",
      "1 for the network's health state, 0 for the others (as vnat status judges it)",
    ),
    reason: fam(
      "network_health_reason",
      "gauge",
      "1 for each reason vnat status gives for the health (stable codes, docs/status-json.md)",
    ),
    upTxB: fam("uplink_transmit_bytes_total", "counter", "bytes sent by the namespace's uplink (wan0)"),
    upTxP: fam("uplink_transmit_packets_total", "counter", "packets sent by the namespace's uplink (wan0)"),
    upRxB: fam("uplink_receive_bytes_total", "counter", "bytes received by the namespace's uplink (wan0)"),
    upRxP: fam("uplink_receive_packets_total", "counter", "packets received by the namespace's uplink (wan0)"),
    natTxB: fam(
      "nat_transmit_bytes_total",
      "counter",
      "bytes forwarded from guests to the uplink (nft counter nat_out)",
    ),
    natTxP: fam(
      "nat_transmit_packets_total",
      "counter",
      "packets forwarded from guests to the uplink (nft counter nat_out)",
    ),
    natRxB: fam("nat_receive_bytes_total", "counter", "bytes forwarded from the uplink to guests (nft counter nat_in)"),
    natRxP: fam(
      "nat_receive_packets_total",
      "counter",
      "packets forwarded from the uplink to guests (nft counter nat_in)",
    ),
    fwdB: fam("forward_bytes_total", "counter", "bytes of a port forward, both directions (its named nft counter)"),
    fwdP: fam("forward_packets_total", "counter", "packets of a port forward, both directions (its named nft counter)"),
    fipB: fam("floating_ip_bytes_total", "counter", "bytes to and from a floating IP (its named nft counter)"),
    fipP: fam("floating_ip_packets_total", "counter", "packets to and from a floating IP (its named nft counter)"),
    ctEntries: fam("conntrack_entries", "gauge", "connections tracked in the network's namespace"),
    ctLimit: fam("conntrack_limit", "gauge", "the most connections a namespace may track (nf_conntrack_max)"),
    leases: fam("dhcp_leases", "gauge", "DHCP leases dnsmasq holds for the network"),
    pool: fam("dhcp_pool_size", "gauge", "addresses in the network's DHCP range (0: DHCP off)"),
    provUsed: fam(
      "provider_pool_used_addresses",
      "gauge",
      "pool addresses held by vnat networks' uplinks and floating IPs",
    ),
    provFree: fam("provider_pool_free_addresses", "gauge", "pool addresses no vnat network holds"),
    recLast: fam(
      "reconcile_last_run_timestamp_seconds",
      "gauge",
      "when vnat reconcile last finished (0: never since boot)",
    ),
    recRuns: fam("reconcile_runs_total", "counter", "vnat reconcile runs that finished (dry runs excluded)"),
    recRepairs: fam("reconcile_repairs_total", "counter", "repairs vnat reconcile applied, by kind and result"),
    hookEvents: fam(
      "hook_events_total",
      "counter",
      "hook events vnat handled, by kind and result (result cached: answered by the shell hook)",
    ),
    collect: fam("metrics_collect_duration_seconds", "gauge", "how long this collection took"),
  };
  for (const n of input.networks) network(f, n);
  providers(f, input);
  f.recLast.samples.push({ labels: {}, value: input.reconcile.lastRun });
  f.recRuns.samples.push({ labels: {}, value: input.reconcile.runs });
  for (const [kind, byResult] of Object.entries(input.reconcile.repairs))
    for (const [result, v] of Object.entries(byResult))
      f.recRepairs.samples.push({ labels: { kind, result }, value: v });
  const hist: HistogramSample[] = [];
  for (const [event, byResult] of Object.entries(input.hook.events))
    for (const [result, s] of Object.entries(byResult)) {
      f.hookEvents.samples.push({ labels: { event, result }, value: s.count });
      hist.push({ labels: { event, result }, bounds: EVENT_BOUNDS, buckets: s.buckets, count: s.count, sum: s.sum });
    }
  if (input.hookCached > 0)
    f.hookEvents.samples.push({ labels: { event: "start-begin", result: "cached" }, value: input.hookCached });
  f.collect.samples.push({ labels: {}, value: input.collectSeconds });
  const duration: MetricFamily = {
    name: `${P}hook_event_duration_seconds`,
    help: "time from the hook's Node taking the event to its answer (lock wait included), by kind and result",
    type: "histogram",
    samples: hist,
  };
  const list: MetricFamily[] = Object.values(f);
  list.splice(list.indexOf(f.hookEvents) + 1, 0, duration);
  return list;
}

function network(f: Record<string, Fam>, n: NetworkMetrics): void {
  const { obs: o, verdict: v } = n;
  const network = o.name;
  const at = { network };
  const push = (k: string, value: number, labels: Record<string, string> = at): void => {
    f[k]!.samples.push({ labels, value });
  };
  push("up", v.health === "healthy" || v.health === "degraded" ? 1 : 0);
  const spec = o.spec;
  push("info", 1, {
    network,
    lan: spec ? formatCidr(spec.lan) : "",
    uplink: spec ? formatCidr(spec.uplink.address) : "",
    provider: spec ? spec.uplink.bridge : "",
    bridge: spec ? spec.lanBridge : "",
  });
  for (const h of HEALTHS) push("health", h === v.health ? 1 : 0, { network, health: h });
  for (const code of new Set(v.reasons.map((r) => r.code))) push("reason", 1, { network, reason: code });
  if (n.uplink) {
    push("upTxB", n.uplink.txBytes);
    push("upTxP", n.uplink.txPackets);
    push("upRxB", n.uplink.rxBytes);
    push("upRxP", n.uplink.rxPackets);
  }
  const out = o.counters.nat_out;
  const inn = o.counters.nat_in;
  if (out) {
    push("natTxB", out.bytes);
    push("natTxP", out.packets);
  }
  if (inn) {
    push("natRxB", inn.bytes);
    push("natRxP", inn.packets);
  }
  for (const fw of spec?.forwards ?? []) {
    const c = o.counters[inboundCounterName({ kind: "forward", ...fw })];
    if (!c) continue;
    const labels = {
      network,
      proto: fw.proto,
      port: fw.port === fw.portEnd ? `${fw.port}` : `${fw.port}-${fw.portEnd}`,
    };
    push("fwdB", c.bytes, labels);
    push("fwdP", c.packets, labels);
  }
  for (const fl of spec?.floating ?? []) {
    const address = formatIp(fl.address);
    const c = o.counters[inboundCounterName({ kind: "floating", address })];
    if (!c) continue;
    push("fipB", c.bytes, { network, address });
    push("fipP", c.packets, { network, address });
  }
  if (o.conntrack !== null) push("ctEntries", o.conntrack);
  if (o.conntrack !== null && n.conntrackMax !== null) push("ctLimit", n.conntrackMax);
  if (spec) {
    push("leases", o.leases.length);
    push("pool", spec.dhcp ? spec.dhcp.end - spec.dhcp.start + 1 : 0);
  }
}

/** Per provider with a pool: its addresses that a known network's uplink or floating IP holds. */
function providers(f: Record<string, Fam>, input: MetricsInput): void {
  for (const p of input.config.providers) {
    if (!p.pool) continue;
    const { start, end } = p.pool;
    const held = new Set<number>();
    for (const { obs } of input.networks) {
      const s = obs.spec;
      if (!s || s.uplink.bridge !== p.bridge) continue;
      for (const a of [s.uplink.address.address, ...(s.floating ?? []).map((x) => x.address)])
        if (a >= start && a <= end) held.add(a);
    }
    f.provUsed!.samples.push({ labels: { provider: p.bridge }, value: held.size });
    f.provFree!.samples.push({ labels: { provider: p.bridge }, value: end - start + 1 - held.size });
  }
}

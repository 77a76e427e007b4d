// `vnat net set NET key=value…` and `vnat provider set BR key=value…` as pure functions:
// the assignments are parsed (one line naming the key and what is allowed), turned into an
// edit of the metadata model or the config file, and the result is then validated by the
// same code `start begin` runs (buildSpec, checkPolicy) or the config's own parser.
import { canonicalCidr6, canonicalIp6, canonicalRange6 } from "./provider6.ts";
import { pickUplink } from "./allocate.ts";
import type { Config, ConfigFile, ProviderInput } from "../input/config.ts";
import { findProvider } from "../input/config.ts";
import { conflict, invalid, oneLine } from "../errors.ts";
import type { TakenAddress } from "../input/inbound.ts";
import { parseNetworkXml } from "../observe/inventory.ts";
import { checkPolicy, type HostFacts } from "../input/policy.ts";
import { buildSpec } from "../input/spec.ts";
import { formatCidr, formatIp, requireIp } from "../ipv4.ts";
import type { MetadataModel } from "../input/metadata.ts";
import { printable } from "../names.ts";
import type { NetSpec } from "../input/spec.ts";

/** Every key `net set` takes, with the values it allows (the help text and errors use these). */
export const NET_KEYS = {
  uplink: "A.B.C.D[/N] or auto (a free address of the provider's pool)",
  dns: "A.B.C.D[,A.B.C.D…] (at most 8), or default (the provider's)",
  dhcp: "on or off",
  "dhcp-range": "START-END inside the subnet, or default (the upper half)",
  "dhcp-lease": "a duration of at least 2m like 3600, 45m, 12h, 1d, or infinite",
  "isolation-host": "blocked or open",
  "isolation-provider": "blocked or open",
} as const;
export type NetKey = keyof typeof NET_KEYS;

/** The keys a running network takes without a restart, and the one that waits for it. */
export const LIVE_KEYS: readonly NetKey[] = [
  "dns",
  "dhcp",
  "dhcp-range",
  "dhcp-lease",
  "isolation-host",
  "isolation-provider",
];

export const PROVIDER_KEYS = {
  gateway: "A.B.C.D[/N] (the provider's router; the prefix gives the subnet, default /24)",
  pool: "START-END inside the subnet, or none",
  dns: "A.B.C.D[,A.B.C.D…], or none",
  attach: "auto, veth or macvlan",
  uplinksInPool: "true or false (true needs a pool)",
  gateway6: "ADDR/PREFIX (the provider's IPv6 router and prefix, /48 to /64), or none",
  pool6: "START-END inside the IPv6 prefix, or none",
  dns6: "ADDR[,ADDR…] (IPv6), or none",
} as const;
export type ProviderKey = keyof typeof PROVIDER_KEYS;

export interface Assignment<K extends string> {
  key: K;
  value: string;
}

/** Splits `key=value` words; unknown keys, a missing `=` and a key given twice are refused. */
export function parseAssignments<K extends string>(
  where: string,
  words: readonly string[],
  keys: Record<K, string>,
): Assignment<K>[] {
  const allowed = Object.keys(keys) as K[];
  if (words.length === 0) throw invalid(`${where}: nothing to set (keys: ${allowed.join(", ")})`);
  const seen = new Set<string>();
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) throw invalid(`${where}: "${printable(w, 40)}": expected key=value (keys: ${allowed.join(", ")})`);
    const key = w.slice(0, eq);
    if (!allowed.includes(key as K))
      throw invalid(`${where}: unknown key "${printable(key, 40)}" (keys: ${allowed.join(", ")})`);
    if (seen.has(key)) throw invalid(`${where}: key "${key}" given twice`);
    seen.add(key);
    return { key: key as K, value: w.slice(eq + 1) };
  });
}

const onOff = (where: string, v: string): boolean => {
  if (["on", "yes", "true"].includes(v)) return true;
  if (["off", "no", "false"].includes(v)) return false;
  throw invalid(`${where}: "${printable(v, 40)}": expected on or off`);
};

const reach = (where: string, v: string): "blocked" | "open" => {
  if (v === "blocked" || v === "open") return v;
  throw invalid(`${where}: "${printable(v, 40)}": expected blocked or open`);
};

function ipList(where: string, v: string): string[] {
  const list = v.split(",").map((s) => s.trim());
  return list.map((s) => formatIp(requireIp(where, s)));
}

function range(where: string, v: string): { start: string; end: string } {
  const [a, b, extra] = v.split("-");
  if (a === undefined || b === undefined || extra !== undefined)
    throw invalid(`${where}: "${printable(v, 40)}": expected START-END like 10.0.0.100-10.0.0.199, or default`);
  return { start: formatIp(requireIp(`${where} start`, a)), end: formatIp(requireIp(`${where} end`, b)) };
}

export interface NetSetContext {
  config: Config;
  /** addresses other vnat networks hold on the uplink's bridge (uplink=auto skips them) */
  taken: ReadonlySet<number>;
}

/**
 * Applies the assignments to the model. Checks each value's form; whether the whole
 * document is valid (the range inside the subnet, the uplink in the provider's subnet and
 * free, hosts needing DHCP…) is buildSpec's to say, on the result.
 */
export function applyNetSet(
  net: string,
  m: MetadataModel,
  assigns: readonly Assignment<NetKey>[],
  ctx: NetSetContext,
): MetadataModel {
  const where = (k: string) => `network "${net}": ${k}`;
  const lan = { ...m.lan, dhcp: { ...(m.lan.dhcp ?? {}) } };
  let uplink = { ...m.uplink };
  let dns = [...m.dns];
  let isolation = m.isolation ? { ...m.isolation } : undefined;
  for (const { key, value } of assigns) {
    const w = where(key);
    switch (key) {
      case "uplink": {
        const provider = findProvider(ctx.config, uplink.bridge);
        if (value === "auto") {
          if (!provider?.pool)
            throw invalid(
              `${w}: auto needs a pool on provider "${uplink.bridge ?? "(default)"}" (give A.B.C.D/N, or set one with vnat provider set BR pool=START-END)`,
            );
          const address = pickUplink(provider.bridge, provider.pool, new Set([...ctx.taken, provider.gateway.address]));
          uplink = { ...uplink, address: formatCidr({ address, prefix: provider.gateway.prefix }) };
          break;
        }
        const [ip, prefix, extra] = value.split("/");
        const addr = requireIp(w, ip ?? "");
        if (extra !== undefined || (prefix !== undefined && !/^\d{1,2}$/.test(prefix)))
          throw invalid(`${w}: "${printable(value, 40)}": expected A.B.C.D[/N] or auto`);
        const p = prefix !== undefined ? Number(prefix) : provider?.gateway.prefix;
        if (p === undefined)
          throw invalid(`${w}: "${printable(value, 40)}": give the prefix (A.B.C.D/N): the provider is not configured`);
        uplink = { ...uplink, address: `${formatIp(addr)}/${p}` };
        break;
      }
      case "dns":
        dns = value === "default" || value === "" ? [] : ipList(w, value);
        break;
      case "dhcp":
        lan.dhcp.enabled = onOff(w, value) ? undefined : "no";
        break;
      case "dhcp-range":
        if (value === "default") lan.dhcp = { ...lan.dhcp, start: undefined, end: undefined };
        else lan.dhcp = { ...lan.dhcp, ...range(w, value) };
        break;
      case "dhcp-lease":
        if (!/^(infinite|\d+[smhdw]?)$/.test(value))
          throw invalid(`${w}: "${printable(value, 40)}": expected ${NET_KEYS["dhcp-lease"]}`);
        lan.dhcp.lease = value;
        break;
      case "isolation-host":
        isolation = { ...isolation, host: reach(w, value) };
        break;
      case "isolation-provider":
        isolation = { ...isolation, provider: reach(w, value) };
        break;
    }
  }
  const dhcp = Object.fromEntries(Object.entries(lan.dhcp).filter(([, v]) => v !== undefined));
  const out: MetadataModel = {
    ...m,
    lan: { address: lan.address, ...(Object.keys(dhcp).length ? { dhcp } : {}) },
    uplink,
    dns,
  };
  if (isolation) out.isolation = isolation;
  return out;
}

/** Refuses an uplink another vnat network holds on the same bridge (its definition or a running claim). */
export function checkUplinkFree(spec: NetSpec, taken: readonly TakenAddress[]): void {
  const { bridge, address } = spec.uplink;
  const holder = taken.find((t) => t.bridge === bridge && t.ip === address.address && t.owner !== spec.name);
  if (holder)
    throw conflict(
      `network "${spec.name}": uplink ${formatIp(address.address)} on "${bridge}" is already used by vnat network "${holder.owner}"`,
    );
}

/** Each key's effective value in a spec (defaults filled in), for "from → to" lines and JSON. */
export function netKeyValue(spec: NetSpec, key: NetKey): string {
  switch (key) {
    case "uplink":
      return formatCidr(spec.uplink.address);
    case "dns":
      return spec.dns.map(formatIp).join(",");
    case "dhcp":
      return spec.dhcp ? "on" : "off";
    case "dhcp-range":
      return spec.dhcp ? `${formatIp(spec.dhcp.start)}-${formatIp(spec.dhcp.end)}` : "-";
    case "dhcp-lease":
      return spec.dhcp ? spec.dhcp.lease : "-";
    case "isolation-host":
      return spec.isolation?.host ?? "blocked";
    case "isolation-provider":
      return spec.isolation?.provider ?? "blocked";
  }
}

export interface KeyChange {
  key: NetKey;
  from: string | null;
  to: string;
  /** "live": applied to the running network; "next-start": waits for net-destroy/net-start; "definition": the network is inactive */
  applies: "live" | "next-start" | "definition" | "none";
}

/** What changes, key by key, between the definition's old spec (if it built) and the new one. */
export function netChanges(
  old: NetSpec | undefined,
  next: NetSpec,
  keys: readonly NetKey[],
  active: boolean,
): KeyChange[] {
  return keys.map((key) => {
    const from = old ? netKeyValue(old, key) : null;
    const to = netKeyValue(next, key);
    const applies = from === to ? "none" : !active ? "definition" : LIVE_KEYS.includes(key) ? "live" : "next-start";
    return { key, from, to, applies };
  });
}

/** The NetSpec fields `net set` may change on a running network (desired.ts keeps them from the definition). */
export const NET_SET_LIVE_FIELDS = ["dns", "dhcp", "isolation"] as const;

/** RUNNING with the live-settable fields of NEXT: what the namespace runs after a live `net set`. */
export function liveMerge(running: NetSpec, next: NetSpec): NetSpec {
  const merged: Record<string, unknown> = { ...running };
  for (const k of NET_SET_LIVE_FIELDS) {
    const v = (next as unknown as Record<string, unknown>)[k];
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return merged as unknown as NetSpec;
}

// ---- providers ----

/** Applies the assignments to provider BRIDGE's entry in the config file (validated afterwards by parseConfig). */
export function applyProviderSet(
  file: ConfigFile,
  bridge: string,
  assigns: readonly Assignment<ProviderKey>[],
): ConfigFile {
  const where = (k: string) => `provider "${bridge}": ${k}`;
  const list = file.providers ?? [];
  const i = list.findIndex((p) => p.bridge === bridge);
  if (i < 0)
    throw invalid(
      `provider "${bridge}": not in the config (providers: ${list.map((p) => p.bridge).join(", ") || "none"}; add it with vnat provider add)`,
    );
  const p: ProviderInput = { ...list[i]! };
  for (const { key, value } of assigns) {
    const w = where(key);
    switch (key) {
      case "gateway": {
        // no prefix given: the subnet keeps its size
        const prefix = /\/(\d+)$/.exec(p.gateway ?? "")?.[1] ?? "24";
        p.gateway = value.includes("/") ? value : `${value}/${prefix}`;
        break;
      }
      case "pool":
        if (value === "none" || value === "") delete p.pool;
        else {
          const r = range(w, value);
          p.pool = `${r.start}-${r.end}`;
        }
        break;
      case "dns":
        if (value === "none" || value === "") delete p.dns;
        else p.dns = ipList(w, value);
        break;
      case "attach":
        p.attach = value;
        break;
      case "uplinksInPool":
        if (onOff(w, value)) p.uplinksInPool = true;
        else delete p.uplinksInPool;
        break;
      // IPv6 (issue 17): checked by the config's parser (core/input/config6.ts) with the rest
      case "gateway6":
        if (value === "none" || value === "") delete p.gateway6;
        else p.gateway6 = canonicalCidr6(value);
        break;
      case "pool6":
        if (value === "none" || value === "") delete p.pool6;
        else p.pool6 = canonicalRange6(value);
        break;
      case "dns6":
        if (value === "none" || value === "") delete p.dns6;
        else p.dns6 = value.split(",").map(canonicalIp6);
        break;
    }
  }
  const providers = [...list];
  providers[i] = p;
  return { ...file, providers };
}

/**
 * Refuses a provider change that would leave a running network on BRIDGE unable to start
 * again (its uplink or a floating IP outside the new subnet or pool): each running
 * network's live definition is built and policy-checked with the new config, as its next
 * `start begin` would. ONE line naming the network.
 */
export function checkStranded(
  bridge: string,
  before: Config,
  after: Config,
  running: ReadonlyArray<{ name: string; xml: string }>,
): void {
  const noHost: HostFacts = { hostAddrs: [], vnatLanBridges: new Map() };
  for (const n of running) {
    const net = parseNetworkXml(n.xml);
    if (!net.metadata) continue;
    let spec: NetSpec;
    try {
      spec = buildSpec(net, before);
    } catch {
      continue; // does not build today either: not this change's doing
    }
    if (spec.uplink.bridge !== bridge) continue;
    try {
      checkPolicy(buildSpec(net, after), after, noHost);
    } catch (e) {
      throw conflict(`provider "${bridge}": would strand running network "${n.name}": ${oneLine(e)}`);
    }
  }
}

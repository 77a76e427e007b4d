// The sandbox world of vnat's integration tests: a small provider network and "internet"
// built entirely from network namespaces and bridges that this file creates, so tests can
// run vnat's hook for real without touching this machine's own network. It is test code,
// never bundled; `vnat demo` builds the same shape, with the same names, from its own
// src/demo/world.ts (this file's listDebris finds a demo's objects too).
//
//   guest ns ──veth── LAN bridge vtb-TAGn ──(vnat's NAT ns)── provider bridge vtp-TAG
//                                                               │  (no host address)
//   provider host ns (198.51.100.x) ──veth──────────────────────┤
//                                                               │ prov0 198.51.100.1/24
//                                                               │       2001:db8:100::1/64
//                                                     router ns vt-TAG-router (no NAT)
//                                                               │ inet0 198.18.0.1/24
//                                                               │       2001:db8:200::1/64
//                                                     internet ns vt-TAG-inet 198.18.0.10
//                                                       2001:db8:200::10
//                                                       dnsmasq :53 (A and AAAA), HTTP echo :80
//
// IPv6 lives only in the world's namespaces: the router forwards it (forwarding=1), every
// world namespace starts with accept_ra=0 / autoconf=0 (a guest takes router
// advertisements only when its test asks: addGuest(bridge, { slaac: true })), and the
// world's IPv6 addresses skip DAD (static ones nodad, link-local and SLAAC ones by
// accept_dad=0) so tests never wait for it.
//
// Safety: nothing gets an address or route in the host namespace (bridges and host-side
// veth ends get disable_ipv6=1 and no IPv6 link-local address), every namespace gets its own
// /etc/netns/NS/resolv.conf before anything runs in it, and every name carries a random
// per-world tag so concurrent worlds never collide and teardown can find its objects
// on the live system by name alone.
import { parseFdbLocals } from "../../src/core/input/attach.ts";
import { isVnatMac } from "../../src/core/names.ts";
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { nsExec, run, sh, sleep, waitFor, type ShOptions, type ShResult } from "./sh.ts";

export const INTERNET_IP = "198.18.0.10";
export const INTERNET_GATEWAY = "198.18.0.1";
export const DNS_NAME = "www.example.test";
export const UPSTREAM_DNS = INTERNET_IP;
export const PROVIDER_GATEWAY = "198.51.100.1";
export const PROVIDER_PREFIX = 24;
export const PROVIDER_SUBNET = "198.51.100.0/24";
export const INTERNET_IP6 = "2001:db8:200::10";
export const INTERNET_GATEWAY6 = "2001:db8:200::1";
export const PROVIDER_GATEWAY6 = "2001:db8:100::1";
export const PROVIDER_PREFIX6 = 64;
export const PROVIDER_SUBNET6 = "2001:db8:100::/64";
export const INTERNET_SUBNET6 = "2001:db8:200::/64";

const HTTP_SERVER_SCRIPT = fileURLToPath(new URL("../../src/demo/http-echo-server.mjs", import.meta.url));
export const UDHCPC_SCRIPT = fileURLToPath(new URL("../../src/demo/udhcpc-script.sh", import.meta.url));

/** Interface name inside guest / provider-host namespaces. */
const GUEST_IF = "eth0";
/** Router's interfaces (inside its namespace, so no tag needed for uniqueness). */
const ROUTER_PROVIDER_IF = "prov0";
const ROUTER_INTERNET_IF = "inet0";
const ROUTER_NFT_TABLE = "vt_world";

export interface Lease {
  ip: string;
  prefix: number;
  router: string | undefined;
  dns: string[];
}

export interface Neighbour {
  ip: string;
  mac: string | undefined;
  /** as `ip -j neigh` reports it, e.g. ["REACHABLE"] or ["STALE"] */
  state: string[];
}

export interface Guest {
  /** the guest's network namespace */
  readonly ns: string;
  /** interface inside the namespace ("eth0") */
  readonly ifname: string;
  /** host-side veth end, enslaved to `bridge` */
  readonly hostIfname: string;
  readonly bridge: string;
  /** MAC address of the guest's interface */
  mac(): Promise<string>;
  /** runs a command inside the guest namespace */
  exec(cmd: string, args: readonly string[], opts?: ShOptions): Promise<ShResult>;
  /** busybox udhcpc on eth0; applies the lease and returns it as read back from the kernel */
  dhcp(timeoutMs?: number): Promise<Lease>;
  /** A record of `name`, asking `server` (default: the guest's resolv.conf) */
  resolve(name: string, server?: string): Promise<string>;
  /** HTTP GET by busybox wget inside the namespace; throws when it fails */
  fetch(url: string, timeoutSec?: number): Promise<string>;
  /** true when at least one of `count` pings to `addr` is answered */
  ping(addr: string, count?: number): Promise<boolean>;
  /** static address (CIDR) and optional default gateway */
  addStaticAddress(cidr: string, gateway?: string): Promise<void>;
  /** the IPv4 address/prefix currently on eth0 */
  address(): Promise<{ ip: string; prefix: number } | undefined>;
  /** static IPv6 address (CIDR, nodad) and optional default gateway; only 2001:db8::/32 and fc00::/7 */
  addStaticAddress6(cidr: string, gateway?: string): Promise<void>;
  /** the global IPv6 address/prefix on eth0 that is usable now (not tentative), SLAAC or static */
  address6(): Promise<{ ip: string; prefix: number } | undefined>;
  /** waits until eth0 has a usable global IPv6 address (e.g. SLAAC after a router advertisement) */
  waitForAddress6(timeoutMs?: number): Promise<{ ip: string; prefix: number }>;
  /** the IPv6 default route's gateway (a router's link-local address after SLAAC) */
  defaultGateway6(): Promise<string | undefined>;
  /** the namespace's own resolv.conf (on the host: /etc/netns/NS/resolv.conf) */
  readonly resolvConf: string;
}

export interface StartedProcess {
  pid: number;
  logFile: string;
}

export interface World {
  readonly tag: string;
  readonly tmpDir: string;
  readonly providerBridge: string;
  readonly routerNs: string;
  readonly internetNs: string;
  readonly internetIp: string;
  readonly dnsName: string;
  readonly upstreamDns: string;
  readonly providerGateway: string;
  readonly providerPrefix: number;
  readonly providerSubnet: string;
  readonly internetIp6: string;
  readonly providerGateway6: string;
  readonly providerPrefix6: number;
  readonly providerSubnet6: string;
  /** a stand-in for a libvirt bridge (vtb-TAGn) in the host namespace; returns its name */
  addLanBridge(): Promise<string>;
  /**
   * a guest namespace vt-TAG-gN plugged into `bridge` (any bridge, e.g. a LAN bridge);
   * `slaac`: its eth0 accepts router advertisements and autoconfigures (off by default)
   */
  addGuest(bridge: string, opts?: GuestOptions): Promise<Guest>;
  /**
   * a namespace vt-TAG-hN on the provider bridge with address `addr` (198.51.100.x[/24]),
   * and with `addr6` (2001:db8:100::x[/64]) too when given, default routes via the router
   */
  addProviderHost(addr: string, addr6?: string): Promise<Guest>;
  /** a route in the router for `prefix` (an IPv6 prefix, e.g. a routed LAN /64) via `via` on the provider side */
  addUpstreamRoute6(prefix: string, via: string): Promise<void>;
  /** packets with a source in 10.0.0.0/8 that reached the router, from any side */
  privateSourcePackets(): Promise<number>;
  /** packets with a unique-local IPv6 source (fc00::/7) that reached the router, from any side */
  ulaSourcePackets(): Promise<number>;
  /** the router's neighbour table on its provider side */
  routerNeighbours(): Promise<Neighbour[]>;
  /** the router's IPv6 neighbour table on its provider side (link-local entries left out) */
  routerNeighbours6(): Promise<Neighbour[]>;
  /** client source addresses the internet HTTP server saw, in order */
  serverSources(): Promise<string[]>;
  /**
   * Starts a long-running command inside one of this world's namespaces, detached,
   * output in tmpDir/NAME.log; it is killed by destroy().
   */
  startProcess(ns: string, name: string, cmd: string, args: readonly string[]): Promise<StartedProcess>;
  /** pids of every process this world started (still running or not) */
  startedPids(): number[];
  /** tears everything down; safe to call twice; throws one summary if something remains */
  destroy(): Promise<void>;
}

/** pids each world started, by tag, with a text their /proc/PID/cmdline must contain. */
const startedByTag = new Map<string, Map<number, string>>();

/**
 * Host-side links of world TAG: vtp-TAG (provider bridge), vtr-TAG (router veth),
 * vtb-TAGn (LAN bridges), vtg-TAGn / vth-TAGn (guest / provider-host veths). Matched
 * exactly, so a world never claims a link of another world or of anyone else.
 */
function ownsLink(tag: string, name: string): boolean {
  return new RegExp(`^(vt[pr]-${tag}|vt[bgh]-${tag}[0-9]+)$`).test(name);
}

function nsPrefix(tag: string): string {
  return `vt-${tag}-`;
}

/** Steps of createWorld, in order; `faultAfter` makes it fail right after one (for tests of its undo). */
export type BuildStep = "provider-bridge" | "router" | "internet" | "dns" | "http";

export interface GuestOptions {
  /** accept router advertisements and autoconfigure a global address on eth0 (SLAAC) */
  slaac?: boolean;
}

export interface WorldOptions {
  faultAfter?: BuildStep;
  /** a fixed tag (1-6 of [a-z0-9]) instead of a random one, so another process can find and destroy the world later (`vnat demo`) */
  tag?: string;
}

/** Builds the world. On any failure it tears down what it made and rethrows. */
export async function createWorld(opts: WorldOptions = {}): Promise<World> {
  const w = new WorldImpl(await claimTag(opts.tag), opts.faultAfter);
  try {
    await w.build();
  } catch (err) {
    await w.destroy().catch((e: unknown) => {
      (err as Error).message += `; and teardown after the failure: ${(e as Error).message}`;
    });
    throw err;
  }
  return w;
}

/**
 * Picks a random tag no live object uses and claims it atomically by creating the
 * router's /etc/netns directory (mkdir fails if a concurrent world got there first).
 */
async function claimTag(fixed?: string): Promise<string> {
  if (fixed !== undefined && !/^[a-z0-9]{1,6}$/.test(fixed))
    throw new Error(`createWorld: tag "${fixed}": expected 1-6 of [a-z0-9]`);
  await mkdir("/etc/netns", { recursive: true });
  for (let attempt = 0; attempt < (fixed === undefined ? 20 : 1); attempt++) {
    const tag = fixed ?? randomBytes(2).toString("hex");
    if (startedByTag.has(tag)) continue;
    const debris = await listDebris(tag);
    if (debris.length > 0) continue;
    try {
      await mkdir(join("/etc/netns", `${nsPrefix(tag)}router`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw e;
    }
    startedByTag.set(tag, new Map());
    return tag;
  }
  throw new Error(
    fixed === undefined
      ? "createWorld: no free world tag after 20 attempts"
      : `createWorld: world "${fixed}" already exists (destroy it first)`,
  );
}

/**
 * Destroys world TAG from another process than the one that built it: everything is
 * found on the live system by name (processes through the namespaces they run in).
 */
export async function destroyWorld(tag: string): Promise<void> {
  const w = new WorldImpl(tag);
  const dirs = readdirSync(tmpdir()).filter((d) => d.startsWith(nsPrefix(tag)));
  for (const d of dirs.slice(1)) await rm(join(tmpdir(), d), { recursive: true, force: true });
  if (dirs[0] !== undefined) w.tmpDir = join(tmpdir(), dirs[0]);
  await w.destroy();
}

class WorldImpl implements World {
  readonly internetIp = INTERNET_IP;
  readonly dnsName = DNS_NAME;
  readonly upstreamDns = UPSTREAM_DNS;
  readonly providerGateway = PROVIDER_GATEWAY;
  readonly providerPrefix = PROVIDER_PREFIX;
  readonly providerSubnet = PROVIDER_SUBNET;
  readonly internetIp6 = INTERNET_IP6;
  readonly providerGateway6 = PROVIDER_GATEWAY6;
  readonly providerPrefix6 = PROVIDER_PREFIX6;
  readonly providerSubnet6 = PROVIDER_SUBNET6;
  readonly providerBridge: string;
  readonly routerNs: string;
  readonly internetNs: string;
  tmpDir = "";

  // Everything is recorded BEFORE it is created, so a half-built world is torn down too.
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];
  private readonly pidFiles: string[] = [];
  private readonly started: Map<number, string>;
  private lanBridges = 0;
  private guests = 0;
  private hosts = 0;
  private httpLog = "";

  constructor(
    readonly tag: string,
    private readonly faultAfter?: BuildStep,
  ) {
    this.providerBridge = `vtp-${tag}`;
    this.routerNs = `${nsPrefix(tag)}router`;
    this.internetNs = `${nsPrefix(tag)}inet`;
    this.started = startedByTag.get(tag) ?? new Map();
  }

  async build(): Promise<void> {
    this.tmpDir = await mkdtemp(join(tmpdir(), `${nsPrefix(this.tag)}`));
    this.httpLog = join(this.tmpDir, "http-sources.jsonl");

    // Provider bridge: host namespace, no address at all.
    await this.addBridge(this.providerBridge);
    this.checkpoint("provider-bridge");

    // Upstream router: provider side 198.51.100.1/24, internet side 198.18.0.1/24.
    await this.addNamespace(this.routerNs, "# vnat test world router: no resolver\n");
    const rHost = `vtr-${this.tag}`;
    await this.addVeth(rHost, this.providerBridge, this.routerNs, ROUTER_PROVIDER_IF);
    const r = this.routerNs;
    // The internet side lives wholly inside namespaces: no host-side name at all.
    await this.addNamespace(this.internetNs, `nameserver ${INTERNET_IP}\n`);
    await run("ip", [
      "-n",
      r,
      "link",
      "add",
      ROUTER_INTERNET_IF,
      "type",
      "veth",
      "peer",
      "name",
      GUEST_IF,
      "netns",
      this.internetNs,
    ]);
    await run("ip", ["-n", r, "addr", "add", `${PROVIDER_GATEWAY}/${PROVIDER_PREFIX}`, "dev", ROUTER_PROVIDER_IF]);
    await run("ip", ["-n", r, "addr", "add", `${INTERNET_GATEWAY}/24`, "dev", ROUTER_INTERNET_IF]);
    await addAddress6(r, ROUTER_PROVIDER_IF, `${PROVIDER_GATEWAY6}/${PROVIDER_PREFIX6}`);
    await addAddress6(r, ROUTER_INTERNET_IF, `${INTERNET_GATEWAY6}/64`);
    await run("ip", ["-n", r, "link", "set", ROUTER_PROVIDER_IF, "up"]);
    await run("ip", ["-n", r, "link", "set", ROUTER_INTERNET_IF, "up"]);
    // arp_accept: vnat announces its uplink by gratuitous ARP; tests check that the
    // router learnt it. rp_filter off: a leaked private source must reach the counter
    // below, not be dropped silently before it.
    await run("ip", [
      "netns",
      "exec",
      r,
      "sysctl",
      "-q",
      "-w",
      "net.ipv4.ip_forward=1",
      "net.ipv6.conf.all.forwarding=1",
      "net.ipv4.conf.all.arp_accept=1",
      `net.ipv4.conf.${ROUTER_PROVIDER_IF}.arp_accept=1`,
      "net.ipv4.conf.all.rp_filter=0",
      `net.ipv4.conf.${ROUTER_PROVIDER_IF}.rp_filter=0`,
    ]);
    await run("ip", ["netns", "exec", r, "nft", "-f", "-"], { input: routerRuleset() });
    this.checkpoint("router");

    // Internet host.
    const i = this.internetNs;
    await run("ip", ["-n", i, "addr", "add", `${INTERNET_IP}/24`, "dev", GUEST_IF]);
    await run("ip", ["-n", i, "link", "set", GUEST_IF, "up"]);
    await run("ip", ["-n", i, "route", "add", "default", "via", INTERNET_GATEWAY]);
    await addAddress6(i, GUEST_IF, `${INTERNET_IP6}/64`);
    await run("ip", ["-n", i, "-6", "route", "add", "default", "via", INTERNET_GATEWAY6, "dev", GUEST_IF]);
    this.checkpoint("internet");
    await this.startInternetDns();
    this.checkpoint("dns");
    await this.startHttpServer();
    this.checkpoint("http");
  }

  private checkpoint(step: BuildStep): void {
    if (this.faultAfter === step) throw new Error(`createWorld ${this.tag}: injected fault after step "${step}"`);
  }

  // --- building blocks -------------------------------------------------------------

  /**
   * /etc/netns/NS/resolv.conf first, then the namespace, then no router advertisements
   * for any link made in it later (a guest that wants SLAAC turns it on for its eth0)
   * and no DAD, then lo up.
   */
  private async addNamespace(ns: string, resolvConf: string): Promise<void> {
    this.namespaces.push(ns);
    await mkdir(join("/etc/netns", ns), { recursive: true });
    await writeFile(join("/etc/netns", ns, "resolv.conf"), resolvConf);
    await run("ip", ["netns", "add", ns]);
    await run("ip", [
      "netns",
      "exec",
      ns,
      "sysctl",
      "-q",
      "-w",
      "net.ipv6.conf.all.accept_ra=0",
      "net.ipv6.conf.default.accept_ra=0",
      "net.ipv6.conf.all.autoconf=0",
      "net.ipv6.conf.default.autoconf=0",
      // no duplicate address detection for the links' own (link-local, SLAAC) addresses either:
      // while a link-local address is tentative, neighbour solicitations for forwarded packets
      // go out without a usable source and the first packets of a test are lost
      "net.ipv6.conf.all.accept_dad=0",
      "net.ipv6.conf.default.accept_dad=0",
    ]);
    await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
  }

  private async addBridge(name: string): Promise<void> {
    this.links.push(name);
    await run("ip", ["link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"]);
    await quietHostLink(name);
    await run("ip", ["link", "set", name, "up"]);
  }

  /**
   * veth `hostEnd` enslaved to `bridge`; its peer created straight inside `ns` as `nsEnd`
   * (with `sysctls` for it, e.g. accept_ra, set before it comes up).
   */
  private async addVeth(
    hostEnd: string,
    bridge: string,
    ns: string,
    nsEnd: string,
    sysctls: readonly string[] = [],
  ): Promise<void> {
    this.links.push(hostEnd);
    await run("ip", ["link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd, "netns", ns]);
    await quietHostLink(hostEnd);
    await run("ip", ["link", "set", hostEnd, "master", bridge]);
    await run("ip", ["link", "set", hostEnd, "up"]);
    if (sysctls.length > 0) await run("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", ...sysctls]);
    await run("ip", ["-n", ns, "link", "set", nsEnd, "up"]);
  }

  private assertOwnNs(ns: string): void {
    if (!this.namespaces.includes(ns)) throw new Error(`namespace "${ns}" is not part of world ${this.tag}`);
  }

  async startProcess(ns: string, name: string, cmd: string, args: readonly string[]): Promise<StartedProcess> {
    this.assertOwnNs(ns);
    const logFile = join(this.tmpDir, `${name}.log`);
    const fd = openSync(logFile, "a");
    try {
      // `ip netns exec` execs the command in place, so the pid is the command's own.
      const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { detached: true, stdio: ["ignore", fd, fd] });
      const pid = child.pid;
      if (pid === undefined) throw new Error(`start ${name} in ${ns}: spawn ${cmd} failed`);
      child.on("error", () => undefined);
      child.unref();
      this.started.set(pid, cmd);
      return { pid, logFile };
    } finally {
      closeSync(fd);
    }
  }

  private async startInternetDns(): Promise<void> {
    const pidFile = join(this.tmpDir, "dnsmasq-inet.pid");
    this.pidFiles.push(pidFile);
    await run("ip", [
      "netns",
      "exec",
      this.internetNs,
      "dnsmasq",
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      "--port=53",
      `--listen-address=${INTERNET_IP}`,
      `--listen-address=${INTERNET_IP6}`,
      "--bind-interfaces",
      `--address=/${DNS_NAME}/${INTERNET_IP}`,
      `--address=/${DNS_NAME}/${INTERNET_IP6}`,
      `--pid-file=${pidFile}`,
    ]);
    // dnsmasq has daemonized by now; its pid file names the daemon.
    const pid = await waitFor(() => readPidFile(pidFile), 3000, `dnsmasq pid file ${pidFile}`);
    this.started.set(pid, pidFile);
  }

  private async startHttpServer(): Promise<void> {
    await writeFile(this.httpLog, "");
    const p = await this.startProcess(this.internetNs, "http-echo", process.execPath, [
      HTTP_SERVER_SCRIPT,
      this.httpLog,
      "80",
      "::", // both families: an IPv4 client is logged without its ::ffff: prefix
    ]);
    this.started.set(p.pid, this.httpLog);
    await waitFor(
      async () => {
        if (!isAlive(p.pid)) throw new Error(`http server exited: ${await readFile(p.logFile, "utf8")}`);
        return (await readFile(p.logFile, "utf8")).includes("listening");
      },
      5000,
      `HTTP echo server in ${this.internetNs}`,
    );
  }

  // --- public API ------------------------------------------------------------------

  async addLanBridge(): Promise<string> {
    const name = `vtb-${this.tag}${++this.lanBridges}`;
    await this.addBridge(name);
    return name;
  }

  async addGuest(bridge: string, opts: GuestOptions = {}): Promise<Guest> {
    const n = ++this.guests;
    const slaac = opts.slaac === true ? SLAAC_SYSCTLS : [];
    return this.addGuestNs(
      `${nsPrefix(this.tag)}g${n}`,
      `vtg-${this.tag}${n}`,
      bridge,
      "# vnat test guest: no resolver until DHCP\n",
      slaac,
    );
  }

  async addProviderHost(addr: string, addr6?: string): Promise<Guest> {
    const cidr = addr.includes("/") ? addr : `${addr}/${PROVIDER_PREFIX}`;
    if (!cidr.startsWith("198.51.100.") || !cidr.endsWith(`/${PROVIDER_PREFIX}`))
      throw new Error(`addProviderHost "${addr}": expected an address in ${PROVIDER_SUBNET}`);
    const cidr6 = addr6 === undefined ? undefined : addr6.includes("/") ? addr6 : `${addr6}/${PROVIDER_PREFIX6}`;
    if (cidr6 !== undefined && (!/^2001:db8:100::[0-9a-f:]*\/64$/i.test(cidr6) || cidr6.startsWith("2001:db8:100::/")))
      throw new Error(`addProviderHost "${addr6}": expected an address in ${PROVIDER_SUBNET6}`);
    const n = ++this.hosts;
    const g = await this.addGuestNs(
      `${nsPrefix(this.tag)}h${n}`,
      `vth-${this.tag}${n}`,
      this.providerBridge,
      `nameserver ${UPSTREAM_DNS}\n`,
    );
    await g.addStaticAddress(cidr, PROVIDER_GATEWAY);
    if (cidr6 !== undefined) await g.addStaticAddress6(cidr6, PROVIDER_GATEWAY6);
    return g;
  }

  private async addGuestNs(
    ns: string,
    hostEnd: string,
    bridge: string,
    resolvConf: string,
    sysctls: readonly string[] = [],
  ): Promise<Guest> {
    if (hostEnd.length > 15) throw new Error(`interface name "${hostEnd}" is longer than 15 characters`);
    await this.addNamespace(ns, resolvConf);
    await this.addVeth(hostEnd, bridge, ns, GUEST_IF, sysctls);
    return new GuestImpl(ns, hostEnd, bridge);
  }

  async addUpstreamRoute6(prefix: string, via: string): Promise<void> {
    if (!isTestRange6(prefix) || !/\/(\d+)$/.test(prefix))
      throw new Error(`addUpstreamRoute6 "${prefix}": expected an IPv6 prefix in 2001:db8::/32 or fc00::/7`);
    if (!isTestRange6(via) || via.includes("/"))
      throw new Error(`addUpstreamRoute6 via "${via}": expected an IPv6 address in ${PROVIDER_SUBNET6} or fe80::/10`);
    await run("ip", ["-n", this.routerNs, "-6", "route", "replace", prefix, "via", via, "dev", ROUTER_PROVIDER_IF]);
  }

  privateSourcePackets(): Promise<number> {
    return this.routerCounter("private_src");
  }

  ulaSourcePackets(): Promise<number> {
    return this.routerCounter("ula_src");
  }

  private async routerCounter(name: string): Promise<number> {
    const r = await run("ip", [
      "netns",
      "exec",
      this.routerNs,
      "nft",
      "-j",
      "list",
      "counter",
      "inet",
      ROUTER_NFT_TABLE,
      name,
    ]);
    const items = (JSON.parse(r.stdout) as { nftables: Array<{ counter?: { packets: number } }> }).nftables;
    const counter = items.find((x) => x.counter !== undefined)?.counter;
    if (!counter) throw new Error(`router ${this.routerNs}: counter ${name} not found`);
    return counter.packets;
  }

  async routerNeighbours(): Promise<Neighbour[]> {
    return this.neighbours("-4");
  }

  async routerNeighbours6(): Promise<Neighbour[]> {
    return (await this.neighbours("-6")).filter((n) => !n.ip.toLowerCase().startsWith("fe80:"));
  }

  private async neighbours(family: "-4" | "-6"): Promise<Neighbour[]> {
    const r = await run("ip", ["-n", this.routerNs, family, "-j", "neigh", "show", "dev", ROUTER_PROVIDER_IF]);
    const rows = parseJson<Array<{ dst: string; lladdr?: string; state?: string[] }>>(r.stdout, []);
    return rows.map((x) => ({ ip: x.dst, mac: x.lladdr, state: x.state ?? [] }));
  }

  async serverSources(): Promise<string[]> {
    const text = await readFile(this.httpLog, "utf8").catch(() => "");
    return text
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => (JSON.parse(l) as { source: string }).source);
  }

  startedPids(): number[] {
    return [...this.started.keys()];
  }

  /**
   * 1. kill the processes we started (checked by cmdline, so a recycled pid is never hit)
   * 2. kill whatever else runs in our namespaces: `ip netns del` would leave it running,
   *    holding the namespace and its veths alive
   * 3. delete the namespaces (their veths go with them, asynchronously)
   * 4. delete the host links that remain: bridges LAST, after their ports
   * 5. remove /etc/netns/NS and the temp dir
   * Objects are found from the live system by name as well as from our records, "not
   * found" counts as done, and every error is collected rather than stopping teardown.
   */
  async destroy(): Promise<void> {
    const errors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
      }
    };

    // vnat removes its macvlans' fdb entries when a network stops; deleting the bridges
    // below would hide one it left behind, so look first
    await attempt("check vnat fdb entries", async () => {
      const r = await sh("bridge", ["-j", "fdb", "show", "state", "permanent"]);
      const left = [...parseFdbLocals(r.stdout)]
        .map((k) => k.split(" "))
        .filter(([bridge, mac]) => ownsLink(this.tag, bridge!) && isVnatMac(mac!));
      if (left.length) throw new Error(`vnat left fdb entries: ${left.map(([b, m]) => `${m} on ${b}`).join(", ")}`);
    });

    // 1.
    for (const f of this.pidFiles) {
      const pid = readPidFile(f);
      if (pid !== undefined) this.started.set(pid, f);
    }
    await Promise.all(
      [...this.started].map(([pid, marker]) => attempt(`kill pid ${pid}`, () => killOwned(pid, marker))),
    );

    // 2. + 3.
    const liveNs = await listNamespaces().catch((e: unknown) => {
      errors.push(`list namespaces: ${(e as Error).message}`);
      return [] as string[];
    });
    const nss = unique([...this.namespaces, ...liveNs.filter((n) => n.startsWith(nsPrefix(this.tag)))]);
    await Promise.all(
      nss.map((ns) =>
        attempt(`delete namespace ${ns}`, async () => {
          if (!liveNs.includes(ns)) return;
          await killNamespacePids(ns);
          const r = await sh("ip", ["netns", "del", ns]);
          if (
            r.exitCode !== 0 &&
            !/No such file|Cannot remove namespace file/.test(r.stderr) &&
            (await listNamespaces()).includes(ns)
          )
            throw new Error(r.stderr.trim());
        }),
      ),
    );

    // 4. Host ends of veths whose namespace just died vanish by themselves, a few ms later.
    await attempt("delete host links", async () => {
      const live = (await listHostLinks()).filter((l) => ownsLink(this.tag, l.name));
      const ordered = [...live.filter((l) => l.kind !== "bridge"), ...live.filter((l) => l.kind === "bridge")];
      const failures: string[] = [];
      for (const l of ordered) {
        const r = await sh("ip", ["link", "del", l.name]);
        // gone meanwhile (its namespace's teardown took the peer) is what we wanted
        if (r.exitCode !== 0 && existsSync(join("/sys/class/net", l.name)))
          failures.push(`${l.name}: ${r.stderr.trim()}`);
      }
      await waitFor(
        async () => (await listHostLinks()).every((l) => !ownsLink(this.tag, l.name)),
        2000,
        `links of world ${this.tag} to disappear`,
      ).catch((e: unknown) => failures.push((e as Error).message));
      if (failures.length > 0) throw new Error(failures.join("; "));
    });

    // 5.
    const etcDirs = unique([...nss, ...listEtcNetns(this.tag)]);
    for (const ns of etcDirs)
      await attempt(`remove /etc/netns/${ns}`, () => rm(join("/etc/netns", ns), { recursive: true, force: true }));
    if (this.tmpDir !== "")
      await attempt(`remove ${this.tmpDir}`, () => rm(this.tmpDir, { recursive: true, force: true }));

    if (errors.length > 0)
      throw new Error(`destroy world ${this.tag}: ${errors.length} problem(s): ${errors.join("; ")}`);
  }
}

class GuestImpl implements Guest {
  readonly ifname = GUEST_IF;
  readonly resolvConf: string;

  constructor(
    readonly ns: string,
    readonly hostIfname: string,
    readonly bridge: string,
  ) {
    this.resolvConf = join("/etc/netns", ns, "resolv.conf");
  }

  exec(cmd: string, args: readonly string[], opts?: ShOptions): Promise<ShResult> {
    return nsExec(this.ns, cmd, args, opts);
  }

  async mac(): Promise<string> {
    const r = await run("ip", ["-n", this.ns, "-j", "link", "show", "dev", GUEST_IF]);
    const mac = parseJson<Array<{ address?: string }>>(r.stdout, [])[0]?.address;
    if (mac === undefined) throw new Error(`${this.ns}: no MAC on ${GUEST_IF}`);
    return mac;
  }

  async dhcp(timeoutMs = 15000): Promise<Lease> {
    const tries = String(Math.max(2, Math.floor(timeoutMs / 1000)));
    const r = await this.exec(
      "busybox",
      ["udhcpc", "-i", GUEST_IF, "-f", "-q", "-n", "-t", tries, "-T", "1", "-s", UDHCPC_SCRIPT],
      {
        env: { VT_NETNS: this.ns },
        timeoutMs: timeoutMs + 3000,
      },
    );
    if (r.exitCode !== 0)
      throw new Error(
        `dhcp in ${this.ns}: udhcpc exit ${r.exitCode}: ${(r.stderr + r.stdout).trim().split("\n").slice(-4).join(" | ")}`,
      );
    const addr = await this.address();
    if (addr === undefined) throw new Error(`dhcp in ${this.ns}: udhcpc succeeded but ${GUEST_IF} has no IPv4 address`);
    return { ...addr, router: await this.defaultGateway(), dns: await this.nameservers() };
  }

  async address(): Promise<{ ip: string; prefix: number } | undefined> {
    const r = await run("ip", ["-n", this.ns, "-4", "-j", "addr", "show", "dev", GUEST_IF]);
    const info = parseJson<Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>>(r.stdout, [])[0]
      ?.addr_info?.[0];
    return info ? { ip: info.local, prefix: info.prefixlen } : undefined;
  }

  private async defaultGateway(): Promise<string | undefined> {
    const r = await run("ip", ["-n", this.ns, "-4", "-j", "route", "show", "default"]);
    return parseJson<Array<{ gateway?: string }>>(r.stdout, [])[0]?.gateway;
  }

  async defaultGateway6(): Promise<string | undefined> {
    const r = await run("ip", ["-n", this.ns, "-6", "-j", "route", "show", "default"]);
    return parseJson<Array<{ gateway?: string }>>(r.stdout, [])[0]?.gateway;
  }

  async address6(): Promise<{ ip: string; prefix: number } | undefined> {
    const r = await run("ip", ["-n", this.ns, "-6", "-j", "addr", "show", "dev", GUEST_IF, "scope", "global"]);
    const infos = parseJson<Array<{ addr_info?: Array<Addr6Info> }>>(r.stdout, [])[0]?.addr_info ?? [];
    const ok = infos.find((a) => a.family === "inet6" && a.tentative !== true && a.dadfailed !== true);
    return ok ? { ip: ok.local, prefix: ok.prefixlen } : undefined;
  }

  waitForAddress6(timeoutMs = 10000): Promise<{ ip: string; prefix: number }> {
    return waitFor(() => this.address6(), timeoutMs, `a global IPv6 address on ${GUEST_IF} in ${this.ns}`, 50);
  }

  async addStaticAddress6(cidr: string, gateway?: string): Promise<void> {
    if (!isTestRange6(cidr) || (gateway !== undefined && !isTestRange6(gateway)))
      throw new Error(
        `addStaticAddress6 ${cidr}: expected 2001:db8::/32 or fc00::/7 (and a gateway there or in fe80::/10)`,
      );
    await addAddress6(this.ns, GUEST_IF, cidr);
    if (gateway !== undefined)
      await run("ip", ["-n", this.ns, "-6", "route", "replace", "default", "via", gateway, "dev", GUEST_IF]);
  }

  private async nameservers(): Promise<string[]> {
    const text = await readFile(this.resolvConf, "utf8");
    return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1] ?? "");
  }

  async resolve(name: string, server?: string): Promise<string> {
    const args = ["10", "busybox", "nslookup", "-type=a", name, ...(server !== undefined ? [server] : [])];
    const r = await this.exec("timeout", args);
    // busybox prints the server as "Address:\t198.18.0.10:53" and answers without a port.
    const answers = [...r.stdout.matchAll(/^Address:\s*(\d+\.\d+\.\d+\.\d+)\s*$/gm)].map((m) => m[1] ?? "");
    if (r.exitCode !== 0 || answers.length === 0)
      throw new Error(
        `resolve ${name} via ${server ?? "resolv.conf"} in ${this.ns}: exit ${r.exitCode}: ${(r.stdout + r.stderr).trim().replace(/\s+/g, " ")}`,
      );
    return answers[0] ?? "";
  }

  async fetch(url: string, timeoutSec = 10): Promise<string> {
    // `timeout`, not wget -T: busybox 1.35's wget -T segfaults. -Y off: never a proxy.
    const r = await this.exec("timeout", [String(timeoutSec), "busybox", "wget", "-q", "-Y", "off", "-O", "-", url]);
    if (r.exitCode !== 0)
      throw new Error(
        `fetch ${url} in ${this.ns}: ${r.exitCode === 124 ? `timed out after ${timeoutSec} s` : `exit ${r.exitCode}`}: ${r.stderr.trim()}`,
      );
    return r.stdout;
  }

  async ping(addr: string, count = 1): Promise<boolean> {
    const r = await this.exec("busybox", ["ping", "-c", String(count), "-W", "1", addr]);
    return r.exitCode === 0;
  }

  async addStaticAddress(cidr: string, gateway?: string): Promise<void> {
    for (const banned of ["192.0.2.", "203.0.113."])
      if (cidr.startsWith(banned) || gateway?.startsWith(banned))
        throw new Error(`addStaticAddress ${cidr}: ${banned}0/24 is this machine's own network range`);
    await run("ip", ["-n", this.ns, "addr", "add", cidr, "dev", GUEST_IF]);
    if (gateway !== undefined)
      await run("ip", ["-n", this.ns, "route", "replace", "default", "via", gateway, "dev", GUEST_IF]);
  }
}

/**
 * Router firewall: accept everything, count what arrives with a private source. Counted
 * at prerouting (not only forward) so a leaked packet the router would drop still counts.
 */
function routerRuleset(): string {
  return `table inet ${ROUTER_NFT_TABLE} {
  counter private_src {
  }
  counter private_fwd {
  }
  counter ula_src {
  }
  chain prerouting {
    type filter hook prerouting priority raw; policy accept;
    ip saddr 10.0.0.0/8 counter name "private_src"
    ip6 saddr fc00::/7 counter name "ula_src"
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip saddr 10.0.0.0/8 counter name "private_fwd"
  }
}
`;
}

/**
 * No IPv6 on a host-namespace link: the host must get no address at all, not even a
 * link-local one, and must never learn a route or address from a router advertisement
 * crossing a world's bridge (disable_ipv6 only stops the host's own IPv6 on the link;
 * the bridge still carries the namespaces' IPv6 frames). Set before the link comes up.
 */
async function quietHostLink(name: string): Promise<void> {
  await run("ip", ["link", "set", name, "addrgenmode", "none"]);
  await writeFile(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, "1\n");
}

/** accept_ra / autoconf on a guest's eth0, before it comes up (so its router solicitation goes out at once). */
const SLAAC_SYSCTLS = [`net.ipv6.conf.${GUEST_IF}.accept_ra=1`, `net.ipv6.conf.${GUEST_IF}.autoconf=1`];

interface Addr6Info {
  family: string;
  local: string;
  prefixlen: number;
  tentative?: boolean;
  dadfailed?: boolean;
}

/** A world's IPv6 stays in documentation (2001:db8::/32) and unique-local (fc00::/7) space, routers by link-local. */
function isTestRange6(addr: string): boolean {
  return /^(2001:db8:|f[cd][0-9a-f]{2}:|fe80:)/i.test(addr) && addr.includes(":");
}

/** A static IPv6 address without duplicate address detection (usable at once). */
async function addAddress6(ns: string, dev: string, cidr: string): Promise<void> {
  await run("ip", ["-n", ns, "-6", "addr", "add", cidr, "dev", dev, "nodad"]);
}

// --- live-system probes -----------------------------------------------------------

function parseJson<T>(text: string, empty: T): T {
  return text.trim() === "" ? empty : (JSON.parse(text) as T);
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

async function listNamespaces(): Promise<string[]> {
  const r = await run("ip", ["-j", "netns", "list"]);
  return parseJson<Array<{ name: string }>>(r.stdout, []).map((x) => x.name);
}

async function listHostLinks(): Promise<Array<{ name: string; kind: string | undefined }>> {
  const r = await run("ip", ["-j", "-d", "link", "show"]);
  return parseJson<Array<{ ifname: string; linkinfo?: { info_kind?: string } }>>(r.stdout, []).map((l) => ({
    name: l.ifname,
    kind: l.linkinfo?.info_kind,
  }));
}

function listEtcNetns(tag: string): string[] {
  try {
    return readdirSync("/etc/netns").filter((n) => n.startsWith(nsPrefix(tag)));
  } catch {
    return [];
  }
}

function readPidFile(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive = /proc/PID exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return undefined;
  }
}

/** SIGTERM, wait, SIGKILL — only if the pid still runs a command containing `marker`. */
async function killOwned(pid: number, marker: string): Promise<void> {
  if (!isAlive(pid)) return;
  const cl = cmdline(pid);
  if (cl === undefined || !cl.includes(marker)) return; // gone, or pid reused by someone else
  await killAndWait(pid);
}

async function killAndWait(pid: number): Promise<void> {
  signal(pid, "SIGTERM");
  const deadline = Date.now() + 2000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(10);
  if (!isAlive(pid)) return;
  signal(pid, "SIGKILL");
  await waitFor(() => !isAlive(pid), 2000, `pid ${pid} to exit after SIGKILL`);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

/** Every process in namespace `ns` (ours: the namespace is ours), by pid. */
async function killNamespacePids(ns: string): Promise<void> {
  const r = await sh("ip", ["netns", "pids", ns]);
  const pids = r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .filter((p) => p !== process.pid);
  await Promise.all(pids.map((p) => killAndWait(p)));
}

/** Names of everything of world `tag` still present on this machine (empty = clean). */
export async function listDebris(tag: string): Promise<string[]> {
  const found: string[] = [];
  for (const ns of await listNamespaces()) if (ns.startsWith(nsPrefix(tag))) found.push(`namespace ${ns}`);
  for (const l of await listHostLinks()) if (ownsLink(tag, l.name)) found.push(`link ${l.name}`);
  for (const d of listEtcNetns(tag)) found.push(`/etc/netns/${d}`);
  for (const [pid] of startedByTag.get(tag) ?? [])
    if (isAlive(pid)) found.push(`process ${pid} (${cmdline(pid)?.trim() ?? "?"})`);
  // Anything else whose command line names the world (e.g. paths under its temp dir).
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cl = cmdline(Number(entry));
    if (cl?.includes(nsPrefix(tag)) && isAlive(Number(entry)) && !found.some((f) => f.startsWith(`process ${entry} `)))
      found.push(`process ${entry} (${cl.trim()})`);
  }
  for (const d of readdirSync(tmpdir())) if (d.startsWith(nsPrefix(tag))) found.push(`temp dir ${join(tmpdir(), d)}`);
  return found;
}

/** Throws, naming every leftover, unless nothing of world `tag` remains. */
export async function assertNoWorldDebris(tag: string): Promise<void> {
  const debris = await listDebris(tag);
  if (debris.length > 0) throw new Error(`world ${tag} left debris: ${debris.join(", ")}`);
}

/** For tests that must not run without root: the reason to skip, or undefined. */
export function worldUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  const path = (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":");
  for (const bin of ["ip", "nft", "dnsmasq", "busybox", "timeout"])
    if (!path.some((dir) => existsSync(join(dir, bin)))) return `${bin} is not installed (or not on PATH)`;
  return undefined;
}

/**
 * Runs `fn` in a fresh world, then destroys it and asserts nothing is left, even when
 * `fn` fails. A teardown problem fails the test too; when `fn` already failed, the
 * teardown problem is printed to stderr instead of hiding that first error.
 */
export async function withWorld<T>(fn: (w: World) => Promise<T>): Promise<T> {
  const w = await createWorld();
  let failed = false;
  try {
    return await fn(w);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    try {
      await w.destroy();
      await assertNoWorldDebris(w.tag);
    } catch (cleanup) {
      if (!failed) throw cleanup;
      console.error(`world ${w.tag}: teardown after a failed test: ${(cleanup as Error).message}`);
    }
  }
}

// The sandbox `vnat demo` runs against, and nothing more: a provider bridge with no host
// address, an upstream router namespace and an "internet" namespace with DNS and an HTTP
// server that answers with the caller's address, plus a guest namespace per libvirt bridge.
//
//   guest ns vt-TAG-gN ──veth vtg-TAGn── libvirt bridge ──(vnat)── provider bridge vtp-TAG
//   router ns vt-TAG-router: prov0 198.51.100.1/24 (veth vtr-TAG on vtp-TAG), inet0 198.18.0.1/24
//   internet ns vt-TAG-inet: eth0 198.18.0.10/24, dnsmasq :53, HTTP echo :80
//
// The names are those of the test world (test/support/sandbox.ts), whose debris check
// therefore sees a demo too. Every command goes through the product's Runner. Safety: the
// host namespace gets no address (bridges and veths not even an IPv6 link-local one), every
// namespace gets /etc/netns/NS/resolv.conf before anything runs in it, and teardown finds
// everything by the tag alone, so `vnat demo --cleanup` works from any later process.
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { invalid } from "../core/errors.ts";
import { printable } from "../core/names.ts";
import { netnsPids } from "../exec/change/ip.ts";
import { firstLine, processRunner, spawnDetached, type RunOptions, type Runner } from "../exec/run.ts";

export const PROVIDER_GATEWAY = "198.51.100.1";
export const PROVIDER_SUBNET = "198.51.100.0/24";
export const INTERNET_IP = "198.18.0.10";
const INTERNET_GATEWAY = "198.18.0.1";
export const DNS_NAME = "www.example.test";
const IF = "eth0";
// next to this module: src/demo in a checkout, dist/ in the bundle (scripts/build.mjs copies them)
const HTTP_SERVER = fileURLToPath(new URL("./http-echo-server.mjs", import.meta.url));
const UDHCPC_SCRIPT = fileURLToPath(new URL("./udhcpc-script.sh", import.meta.url));

export interface Lease {
  ip: string;
  prefix: number;
  router: string | undefined;
  dns: string[];
}

export interface DemoGuest {
  readonly ns: string;
  /** busybox udhcpc on eth0; the lease as the kernel then holds it */
  dhcp(): Promise<Lease>;
  /** the A record of NAME, asking the resolver DHCP gave */
  resolve(name: string): Promise<string>;
  /** HTTP GET by busybox wget */
  fetch(url: string): Promise<string>;
}

export interface DemoWorld {
  readonly tag: string;
  readonly providerBridge: string;
  /** a guest namespace plugged into BRIDGE */
  addGuest(bridge: string): Promise<DemoGuest>;
}

const nsPrefix = (tag: string): string => `vt-${tag}-`;
const ownsLink = (tag: string, name: string): boolean =>
  new RegExp(`^(vt[pr]-${tag}|vt[bgh]-${tag}[0-9]+)$`).test(name);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs a command that must succeed: throws "ARGV: first line of its error output". */
async function must(runner: Runner, cmd: string, args: readonly string[], opts?: RunOptions): Promise<string> {
  const r = await runner.run(cmd, args, opts);
  if (r.exitCode !== 0) throw new Error(`${[cmd, ...args].join(" ")}: ${firstLine(r.stderr || r.stdout)}`);
  return r.stdout;
}

const json = <T>(text: string, empty: T): T => (text.trim() === "" ? empty : (JSON.parse(text) as T));

/** Builds demo world TAG (1-6 of [a-z0-9]); on a failure removes what it made and rethrows. */
export async function createDemoWorld(tag: string, runner: Runner = processRunner): Promise<DemoWorld> {
  if (!/^[a-z0-9]{1,6}$/.test(tag))
    throw invalid(`demo: tag "${printable(tag, 16)}" (VNAT_DEMO_TAG): expected 1-6 of [a-z0-9]`);
  try {
    return await build(tag, runner);
  } catch (e) {
    await destroyDemoWorld(tag, runner).catch((d: unknown) => {
      (e as Error).message += `; and removing the half-built sandbox: ${(d as Error).message}`;
    });
    throw e;
  }
}

async function build(tag: string, runner: Runner): Promise<DemoWorld> {
  const ip = (...args: string[]) => must(runner, "ip", args);
  const addNamespace = async (ns: string, resolv: string): Promise<void> => {
    await mkdir(join("/etc/netns", ns), { recursive: true });
    await writeFile(join("/etc/netns", ns, "resolv.conf"), resolv);
    await ip("netns", "add", ns);
    await ip("-n", ns, "link", "set", "lo", "up");
  };
  /** veth HOSTEND on BRIDGE, its peer NSEND made straight inside NS */
  const addVeth = async (hostEnd: string, bridge: string, ns: string, nsEnd: string): Promise<void> => {
    await ip("link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd, "netns", ns);
    await ip("link", "set", hostEnd, "addrgenmode", "none");
    await ip("link", "set", hostEnd, "master", bridge);
    await ip("link", "set", hostEnd, "up");
    await ip("-n", ns, "link", "set", nsEnd, "up");
  };
  const tmp = await mkdtemp(join(tmpdir(), nsPrefix(tag)));
  const bridge = `vtp-${tag}`;
  await ip("link", "add", bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0");
  await ip("link", "set", bridge, "addrgenmode", "none");
  await ip("link", "set", bridge, "up");

  const router = `${nsPrefix(tag)}router`;
  const inet = `${nsPrefix(tag)}inet`;
  await addNamespace(router, "# vnat demo router: no resolver\n");
  await addNamespace(inet, `nameserver ${INTERNET_IP}\n`);
  await addVeth(`vtr-${tag}`, bridge, router, "prov0");
  await ip("-n", router, "link", "add", "inet0", "type", "veth", "peer", "name", IF, "netns", inet);
  await ip("-n", router, "addr", "add", `${PROVIDER_GATEWAY}/24`, "dev", "prov0");
  await ip("-n", router, "addr", "add", `${INTERNET_GATEWAY}/24`, "dev", "inet0");
  await ip("-n", router, "link", "set", "inet0", "up");
  await must(runner, "ip", ["netns", "exec", router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  await ip("-n", inet, "addr", "add", `${INTERNET_IP}/24`, "dev", IF);
  await ip("-n", inet, "link", "set", IF, "up");
  await ip("-n", inet, "route", "add", "default", "via", INTERNET_GATEWAY);

  // dnsmasq daemonizes; teardown kills every process in the namespace
  await must(runner, "ip", [
    ...["netns", "exec", inet, "dnsmasq", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=53"],
    ...[`--listen-address=${INTERNET_IP}`, "--bind-interfaces", `--address=/${DNS_NAME}/${INTERNET_IP}`],
    `--pid-file=${join(tmp, "dnsmasq.pid")}`,
  ]);
  const log = join(tmp, "http-sources.jsonl");
  const http = ["netns", "exec", inet, process.execPath, HTTP_SERVER, log, "80", "0.0.0.0"];
  if (!(await spawnDetached("ip", http))) throw new Error(`demo: could not start ${HTTP_SERVER}`);
  const listening = ["netns", "exec", inet, "ss", "-H", "-l", "-t", "-n", "sport", "=", ":80"];
  for (let i = 0; (await must(runner, "ip", listening)).trim() === ""; i++) {
    if (i >= 250) throw new Error(`demo: the HTTP server in ${inet} did not listen on :80 within 5 s`);
    await sleep(20);
  }

  let guests = 0;
  return {
    tag,
    providerBridge: bridge,
    async addGuest(lanBridge: string): Promise<DemoGuest> {
      const n = ++guests;
      const ns = `${nsPrefix(tag)}g${n}`;
      await addNamespace(ns, "# vnat demo guest: no resolver until DHCP\n");
      await addVeth(`vtg-${tag}${n}`, lanBridge, ns, IF);
      return guest(runner, ns);
    },
  };
}

function guest(runner: Runner, ns: string): DemoGuest {
  const inNs = (args: string[], opts?: RunOptions) => must(runner, "ip", ["netns", "exec", ns, ...args], opts);
  return {
    ns,
    async dhcp() {
      const udhcpc = ["busybox", "udhcpc", "-i", IF, "-f", "-q", "-n", "-t", "15", "-T", "1", "-s", UDHCPC_SCRIPT];
      await inNs(["env", `VT_NETNS=${ns}`, ...udhcpc], { timeoutMs: 18000 });
      const addr = json<Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>>(
        await must(runner, "ip", ["-n", ns, "-4", "-j", "addr", "show", "dev", IF]),
        [],
      )[0]?.addr_info?.[0];
      if (!addr) throw new Error(`demo: dhcp in ${ns}: udhcpc succeeded but ${IF} has no IPv4 address`);
      const route = await must(runner, "ip", ["-n", ns, "-4", "-j", "route", "show", "default"]);
      const resolv = await readFile(join("/etc/netns", ns, "resolv.conf"), "utf8");
      return {
        ip: addr.local,
        prefix: addr.prefixlen,
        router: json<Array<{ gateway?: string }>>(route, [])[0]?.gateway,
        dns: [...resolv.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1] ?? ""),
      };
    },
    async resolve(name) {
      const out = await inNs(["timeout", "10", "busybox", "nslookup", "-type=a", name]);
      // busybox prints the server as "Address:\t198.18.0.10:53" and answers without a port
      const answer = /^Address:\s*(\d+\.\d+\.\d+\.\d+)\s*$/m.exec(out)?.[1];
      if (answer === undefined) throw new Error(`demo: resolve ${name} in ${ns}: no address in the answer`);
      return answer;
    },
    fetch(url) {
      // `timeout`, not wget -T (busybox 1.35's wget -T segfaults); -Y off: never a proxy
      return inNs(["timeout", "10", "busybox", "wget", "-q", "-Y", "off", "-O", "-", url]);
    },
  };
}

async function namespaces(runner: Runner, tag: string): Promise<string[]> {
  const list = json<Array<{ name: string }>>(await must(runner, "ip", ["-j", "netns", "list"]), []);
  return list.map((n) => n.name).filter((n) => n.startsWith(nsPrefix(tag)));
}

async function hostLinks(runner: Runner, tag: string): Promise<Array<{ name: string; bridge: boolean }>> {
  const list = json<Array<{ ifname: string; linkinfo?: { info_kind?: string } }>>(
    await must(runner, "ip", ["-j", "-d", "link", "show"]),
    [],
  );
  return list
    .filter((l) => ownsLink(tag, l.ifname))
    .map((l) => ({ name: l.ifname, bridge: l.linkinfo?.info_kind === "bridge" }));
}

const etcDirs = (tag: string): string[] =>
  existsSync("/etc/netns") ? readdirSync("/etc/netns").filter((d) => d.startsWith(nsPrefix(tag))) : [];
const tmpDirs = (tag: string): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith(nsPrefix(tag)));

/** What of demo world TAG is still on this machine (empty: nothing). */
export async function demoWorldDebris(tag: string, runner: Runner = processRunner): Promise<string[]> {
  return [
    ...(await namespaces(runner, tag)).map((n) => `namespace ${n}`),
    ...(await hostLinks(runner, tag)).map((l) => `link ${l.name}`),
    ...etcDirs(tag).map((d) => `/etc/netns/${d}`),
    ...tmpDirs(tag).map((d) => `temp dir ${join(tmpdir(), d)}`),
  ];
}

/**
 * Removes demo world TAG, found by name: 1. every process in its namespaces (SIGTERM, then
 * SIGKILL after 2 s) 2. the namespaces 3. the host links left, bridges last 4. /etc/netns
 * and temp dirs. Not found counts as done; every problem is collected into one error.
 */
export async function destroyDemoWorld(tag: string, runner: Runner = processRunner): Promise<void> {
  const errors: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    await fn().catch((e: unknown) => errors.push(`${what}: ${(e as Error).message}`));
  };
  for (const ns of await namespaces(runner, tag))
    await attempt(`namespace ${ns}`, async () => {
      for (const signal of ["TERM", "KILL"]) {
        const pids = (await netnsPids(runner, ns)).filter((p) => p !== process.pid);
        if (pids.length === 0) break;
        await runner.run("kill", [`-${signal}`, ...pids.map(String)]);
        for (let i = 0; i < 100 && (await netnsPids(runner, ns)).length > 0; i++) await sleep(20);
      }
      const r = await runner.run("ip", ["netns", "del", ns]);
      if (r.exitCode !== 0 && (await namespaces(runner, tag)).includes(ns)) throw new Error(firstLine(r.stderr));
    });
  await attempt("host links", async () => {
    const links = await hostLinks(runner, tag);
    for (const l of [...links.filter((x) => !x.bridge), ...links.filter((x) => x.bridge)]) {
      const r = await runner.run("ip", ["link", "del", l.name]);
      // a veth whose namespace just went takes its host end with it
      if (r.exitCode !== 0 && existsSync(`/sys/class/net/${l.name}`))
        throw new Error(`${l.name}: ${firstLine(r.stderr)}`);
    }
    for (let i = 0; (await hostLinks(runner, tag)).length > 0; i++) {
      if (i >= 100)
        throw new Error(`still present after 2 s: ${(await hostLinks(runner, tag)).map((l) => l.name).join(", ")}`);
      await sleep(20);
    }
  });
  for (const d of etcDirs(tag))
    await attempt(`/etc/netns/${d}`, () => rm(join("/etc/netns", d), { recursive: true, force: true }));
  for (const d of tmpDirs(tag))
    await attempt(`${tmpdir()}/${d}`, () => rm(join(tmpdir(), d), { recursive: true, force: true }));
  if (errors.length) throw new Error(`removing the demo sandbox ${tag}: ${errors.join("; ")}`);
}

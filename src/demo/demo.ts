// The demo: a sandboxed provider network (a bridge with no host address, an upstream
// router namespace 198.51.100.1, an "internet" namespace 198.18.0.10 with DNS and an HTTP
// server that answers with the caller's address), two vnat networks both on 10.0.0.0/24
// made with `vnat provider add` / `vnat net create --uplink auto` and started with
// `virsh net-start`, and a guest namespace on each libvirt bridge. It stays up for
// exploring; `vnat demo --cleanup` removes all of it. Nothing touches the host's network.
import { existsSync } from "node:fs";
import { loadConfig } from "../adapters/store/config-file.ts";
import { probeNetworks } from "../adapters/libvirt/host-view.ts";
import { destroyNetwork, startNetwork, undefineNetwork } from "../adapters/libvirt/virsh.ts";
import { removeCacheEntries } from "../adapters/store/hookcache.ts";
import { roots } from "../adapters/store/roots.ts";
import { netCreate } from "../cli/net/create.ts";
import { providerAdd, providerRemove } from "../cli/provider/actions.ts";
import { invalid, oneLine } from "../core/errors.ts";
import {
  createDemoWorld,
  demoWorldDebris,
  destroyDemoWorld,
  DNS_NAME,
  INTERNET_IP,
  PROVIDER_GATEWAY,
  PROVIDER_SUBNET,
  type DemoWorld,
} from "./world.ts";
import { netnsName } from "../core/names.ts";

// VNAT_DEMO_TAG (1-6 of [a-z0-9]) runs a second demo beside the user's, with its own names
// (networks TAG-a and TAG-b, bridge vtp-TAG): the demo's e2e test uses it.
const TAG = process.env.VNAT_DEMO_TAG || "demo";
const NETWORKS = [`${TAG}-a`, `${TAG}-b`];
const HOOK = "/etc/libvirt/hooks/network.d/vnat";
const say = (line = ""): boolean => process.stdout.write(line + "\n");

async function step<T>(command: string, fn: () => Promise<T>): Promise<T> {
  say(`$ ${command}`);
  return fn();
}

export async function runDemo(): Promise<void> {
  if (!existsSync(HOOK)) throw invalid(`demo: vnat's hook ${HOOK} is not installed (run: sudo ./install.sh --demo)`);
  if ((await demoWorldDebris(TAG)).length || (await demoNetworks()).length) {
    say("an earlier demo is still here: removing it first");
    await cleanupDemo();
  }
  try {
    say("building the sandbox: provider bridge (no host address), upstream router, internet host…");
    const w: DemoWorld = await createDemoWorld(TAG);
    say(`  provider network ${PROVIDER_SUBNET} on bridge ${w.providerBridge}, router ${PROVIDER_GATEWAY}`);
    say(`  internet host ${INTERNET_IP}: DNS (${DNS_NAME}) and an HTTP server that answers with your source address`);
    say();
    const pool = "198.51.100.10-198.51.100.99";
    await step(
      `vnat provider add ${w.providerBridge} --gateway ${PROVIDER_GATEWAY}/24 --pool ${pool} --dns ${INTERNET_IP}`,
      () => providerAdd(w.providerBridge, { gateway: `${PROVIDER_GATEWAY}/24`, pool, dns: [INTERNET_IP] }),
    );
    for (const name of NETWORKS)
      await step(`vnat net create ${name} --subnet 10.0.0.0/24 --provider ${w.providerBridge} --uplink auto`, () =>
        netCreate(name, { subnet: "10.0.0.0/24", provider: w.providerBridge, uplink: "auto", dns: [] }),
      );
    for (const name of NETWORKS) await step(`virsh net-start ${name}`, () => startNetwork(name));
    say();
    const nets = await demoNetworks();
    const results: string[] = [];
    for (const name of NETWORKS) {
      const net = nets.find((n) => n.name === name);
      if (!net?.bridge) throw new Error(`demo: network ${name} has no bridge`);
      const guest = await w.addGuest(net.bridge);
      const lease = await guest.dhcp();
      const resolved = await guest.resolve(DNS_NAME);
      const seen = (await guest.fetch(`http://${DNS_NAME}/`)).trim();
      results.push(
        `${name}: guest ${guest.ns} on ${net.bridge} leased ${lease.ip}/${lease.prefix} (gateway ${lease.router}, DNS ${lease.dns.join(",")}); ` +
          `${DNS_NAME} → ${resolved}; the internet server saw it come from ${seen} (vnat uplink ${net.vnat?.uplink.address})`,
      );
    }
    say("what happened:");
    for (const r of results) say(`  ${r}`);
    say("  two networks, one guest subnet (10.0.0.0/24), each guest NATed behind its own uplink address.");
    say();
    say(
      `look around: vnat net list · virsh net-list · ip netns list · ip netns exec ${netnsName(NETWORKS[0]!)} nft list ruleset`,
    );
    say("remove it all: sudo ./install.sh --demo --cleanup   (or: vnat demo --cleanup)");
  } catch (e) {
    say(`demo failed: ${oneLine(e)}; removing what it made`);
    await cleanupDemo().catch((c: unknown) => say(`cleanup: ${oneLine(c)}`));
    throw e;
  }
}

async function demoNetworks(): Promise<Awaited<ReturnType<typeof probeNetworks>>> {
  const nets = await probeNetworks(await loadConfig(roots().config));
  return nets.filter((n) => NETWORKS.includes(n.name) && n.vnat);
}

/** 1. the networks (the hook removes their namespaces) 2. the provider entry 3. the sandbox. */
export async function cleanupDemo(): Promise<void> {
  const errors: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    await fn().catch((e: unknown) => errors.push(`${what}: ${oneLine(e)}`));
  };
  for (const n of await demoNetworks()) {
    if (n.state.active) await attempt(`virsh net-destroy ${n.name}`, () => destroyNetwork(n.name));
    if (n.state.persistent) await attempt(`virsh net-undefine ${n.name}`, () => undefineNetwork(n.name));
  }
  for (const n of NETWORKS) await attempt(`forget ${n}`, () => removeCacheEntries(roots(), n));
  const config = await loadConfig(roots().config);
  if (config.providers.some((p) => p.bridge === `vtp-${TAG}`))
    await attempt("vnat provider remove", () => providerRemove(`vtp-${TAG}`, { force: true }));
  await attempt("sandbox", () => destroyDemoWorld(TAG));
  const left = await demoWorldDebris(TAG);
  if (left.length) errors.push(`still present: ${left.join(", ")}`);
  if (errors.length) throw new Error(`demo cleanup: ${errors.join("; ")}`);
  say("demo removed");
}

// Throwaway kernel objects for integration tests of single exec modules: network namespaces
// (each with its own /etc/netns/NS/resolv.conf before anything runs in it) and host links
// named vtq-TAG…, all removed by cleanup(), which then asserts that none is left.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import type { Roots } from "../../src/core/paths.ts";
import { run, sh } from "./sh.ts";

export class Scratch {
  readonly tag = randomBytes(3).toString("hex");
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];

  /** A host link name of this scratch (vtq-TAGsuffix, at most 15 characters). */
  link(suffix: string): string {
    const name = `vtq${this.tag}${suffix}`;
    assert.ok(name.length <= 15, name);
    this.links.push(name);
    return name;
  }

  /** A new network namespace vt-TAG-SUFFIX with loopback up. */
  async netns(suffix: string): Promise<string> {
    const ns = `vt-${this.tag}-${suffix}`;
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/resolv.conf`, "nameserver 127.0.0.1\n");
    this.namespaces.push(ns);
    await run("ip", ["netns", "add", ns]);
    await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    return ns;
  }

  /** A bridge in the host namespace, up, without addresses (no IPv6 link-local either). */
  async bridge(suffix: string): Promise<string> {
    const name = this.link(suffix);
    await run("ip", ["link", "add", name, "type", "bridge"]);
    await run("sysctl", ["-q", "-w", `net.ipv6.conf.${name}.disable_ipv6=1`]);
    await run("ip", ["link", "set", name, "up"]);
    return name;
  }

  async cleanup(): Promise<void> {
    for (const l of this.links.reverse()) if (existsSync(`/sys/class/net/${l}`)) await sh("ip", ["link", "del", l]);
    for (const ns of this.namespaces) {
      await sh("ip", ["netns", "del", ns]);
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    const left = [
      ...this.links.filter((l) => existsSync(`/sys/class/net/${l}`)),
      ...this.namespaces.filter((n) => existsSync(`/run/netns/${n}`)),
    ];
    assert.deepEqual(left, [], "scratch objects left behind");
  }
}

/**
 * Runs one hook event in this process, from source (hook/handlers.ts runEvent, the entry
 * hook/main.ts and the agent share), with ROOTS (a temp dir) instead of the host's: the
 * network's namespace is real, its files are the test's.
 */
export async function hookEventInProcess(roots: Roots, argv: [string, string, string], doc: string): Promise<void> {
  const [{ runEvent }, { openLog }, { processRunner }] = await Promise.all([
    import("../../src/hook/handlers.ts"),
    import("../../src/adapters/log/log.ts"),
    import("../../src/exec/run.ts"),
  ]);
  await runEvent(argv, doc, { runner: processRunner, roots, log: await openLog(roots.log, "hook") });
}

// Puts running guests back on a network's bridge after the network was restarted, and
// tells them where their gateway now is. libvirt 9.0 does neither (docs/adopt.md).
import { LAN_IF } from "../../core/names.ts";
import { spawnDetached, type Runner } from "../run.ts";

/** `ip link set TAP master BRIDGE`; the error's first line, or undefined when it worked. */
export async function attachTap(runner: Runner, tap: string, bridge: string): Promise<string | undefined> {
  const r = await runner.run("ip", ["link", "set", "dev", tap, "master", bridge], { timeoutMs: 10_000 });
  return r.exitCode === 0 ? undefined : (r.stderr.trim().split("\n")[0] ?? `exit ${r.exitCode}`);
}

/**
 * Gratuitous ARP for the guests' gateway, so guests drop the old gateway's MAC at once
 * instead of after their neighbour entry goes stale (a minute and more without a way out):
 * from vnat's namespace (netns given) or from the host's bridge (libvirt NAT). Two
 * announcements a second apart, detached as the hook's own (exec/change/apply.ts): false when
 * arping cannot start.
 */
export function announceGateway(gateway: string, on: { netns: string } | { bridge: string }): Promise<boolean> {
  const arping = ["arping", "-U", "-q", "-c", "2", "-w", "3", "-I"];
  return "netns" in on
    ? spawnDetached("ip", ["netns", "exec", on.netns, ...arping, LAN_IF, gateway])
    : spawnDetached(arping[0]!, [...arping.slice(1), on.bridge, gateway]);
}

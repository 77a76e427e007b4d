// `start begin` checks of a network's IPv6 side (issue 17): its uplink6 and floating6
// addresses are exclusive on the provider bridge, like the IPv4 uplink (claims), and so is an
// nptv6 or routed network's /64.
import { conflict } from "../core/errors.ts";
import type { Roots } from "../core/paths.ts";
import type { NetSpec } from "../core/input/spec.ts";
import { claimedIps6, claimLabel6 } from "../core/plan/start6.ts";
import { claimHolderLive } from "../adapters/store/claims.ts";
import { claimOwner } from "../adapters/store/state.ts";

export async function preflight6(spec: NetSpec, roots: Roots): Promise<void> {
  const { bridge } = spec.uplink;
  for (const [i, ip] of claimedIps6(spec).entries()) {
    const owner = await claimOwner(roots, bridge, ip);
    if (owner !== undefined && owner !== spec.name && claimHolderLive(roots, owner))
      throw conflict(
        `network "${spec.name}": ${claimLabel6(spec, i)} on bridge "${bridge}" is already used by active vnat network "${owner}"`,
      );
  }
}

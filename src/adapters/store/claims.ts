// Every claim in /run/vnat/claims (BRIDGE@IP → owning network) whose owner still runs:
// the addresses running vnat networks hold, uplinks and floating IPs alike. And the one
// answer to "is a claim's owner live?", which claims, preflight and this list share.
import { readdir } from "node:fs/promises";
import type { TakenAddress } from "../../core/input/inbound.ts";
import { parseIp } from "../../core/ipv4.ts";
import { netnsName } from "../../core/names.ts";
import { claimsDir, type Roots } from "../../core/paths.ts";
import { heldFlocks, networkBusy } from "../../exec/netlock.ts";
import { readIfExists } from "./files.ts";
import { netnsExists } from "../sysfs.ts";

/**
 * Whether network OWNER still holds its claims: an event of it runs right now (its kernel
 * lock is held: a build that has claimed but has no namespace yet) or its namespace exists.
 * The lock is looked at first: a build that ends between the two looks has its namespace
 * by then, or has released its claims. `held`: one /proc/locks snapshot for many owners.
 */
export function claimHolderLive(roots: Roots, owner: string, held: Set<string> = heldFlocks()): boolean {
  return networkBusy(roots, owner, held) || netnsExists(netnsName(owner));
}

export async function listLiveClaims(roots: Roots): Promise<TakenAddress[]> {
  const dir = claimsDir(roots);
  const out: TakenAddress[] = [];
  const held = heldFlocks();
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const at = f.lastIndexOf("@");
    const ip = parseIp(f.slice(at + 1));
    const owner = (await readIfExists(`${dir}/${f}`).catch(() => undefined))?.trim();
    if (at > 0 && ip !== undefined && owner && claimHolderLive(roots, owner, held))
      out.push({ bridge: f.slice(0, at), ip, owner });
  }
  return out;
}

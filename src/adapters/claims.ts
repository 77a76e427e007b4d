// Every claim in /run/vnat/claims (BRIDGE@IP → owning network) whose owner still runs:
// the addresses running vnat networks hold, uplinks and floating IPs alike.
import { readdir } from "node:fs/promises";
import type { TakenAddress } from "../core/inbound.ts";
import { parseIp } from "../core/ipv4.ts";
import { claimsDir, type Roots } from "../core/paths.ts";
import { readIfExists } from "./files.ts";
import { netnsExists } from "./sysfs.ts";

export async function listLiveClaims(roots: Roots): Promise<TakenAddress[]> {
  const dir = claimsDir(roots);
  const out: TakenAddress[] = [];
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const at = f.lastIndexOf("@");
    const ip = parseIp(f.slice(at + 1));
    const owner = (await readIfExists(`${dir}/${f}`).catch(() => undefined))?.trim();
    if (at > 0 && ip !== undefined && owner && netnsExists(`vnat-${owner}`))
      out.push({ bridge: f.slice(0, at), ip, owner });
  }
  return out;
}

// The reference each namespace's ruleset is compared with: every network's rendered
// ruleset, its tables renamed per network, loaded side by side into ONE throwaway network
// namespace (`unshare --net`: no name, gone when nft exits) and listed by the same nft
// and kernel that list the live ones. One process for all networks.
//
// nft runs interactively (`-i`), one line per transaction: `include` of each network's
// file, then `list ruleset`. In a single `nft -f` transaction a trailing `list` shows the
// chains but not yet their rules (nft 1.0.6, measured).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderNft } from "../core/render.ts";
import { normalizeRuleset, suffixTables, unsuffixListing } from "../core/ruleset.ts";
import type { NetSpec } from "../core/spec.ts";
import { probeHostAddresses } from "./host-addrs.ts";
import type { Runner } from "./run.ts";

/** Normalized expected ruleset per network name; networks whose reference failed to load are absent. */
export async function referenceRulesets(runner: Runner, specs: NetSpec[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (specs.length === 0) return out;
  const dir = await mkdtemp(join(tmpdir(), "vnat-ref-"));
  try {
    const files = specs.map((_, i) => join(dir, `${i}.nft`));
    const host = await probeHostAddresses(runner);
    await Promise.all(specs.map((s, i) => writeFile(files[i]!, suffixTables(renderNft(s, host), i), { mode: 0o600 })));
    const input = files.map((f) => `include "${f}"\n`).join("") + "list ruleset\n";
    const r = await runner.run("unshare", ["--net", "nft", "-i"], { input, timeoutMs: 20_000 });
    const byIndex = unsuffixListing(r.stdout);
    specs.forEach((s, i) => {
      const listing = byIndex.get(i);
      if (listing !== undefined) out.set(s.name, normalizeRuleset(listing));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

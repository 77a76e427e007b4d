// The reference each namespace's ruleset is compared with: every network's rendered
// ruleset, its tables renamed per network, loaded side by side into ONE throwaway network
// namespace (`unshare --net`: no name, gone when nft exits) and listed by the same nft
// and kernel that list the live ones. One process for all networks.
//
// nft runs interactively (`-i`), one line per transaction: `include` of the rendered
// rulesets, then `list table` of each. In a single `nft -f` transaction a trailing `list` shows the
// chains but not yet their rules (nft 1.0.6, measured).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderNft } from "../../core/plan/render.ts";
import { renderNft6 } from "../../core/plan/render6.ts";
import { normalizeRuleset, suffixTables, unsuffixListing } from "../../core/judge/ruleset.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { probeHostAddresses } from "./host-addrs.ts";
import { probeHostAddresses6 } from "./host-addrs6.ts";
import type { Runner } from "../run.ts";

/** Normalized expected ruleset per network name; networks whose reference failed to load are absent. */
export async function referenceRulesets(runner: Runner, specs: NetSpec[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (specs.length === 0) return out;
  const dir = await mkdtemp(join(tmpdir(), "vnat-ref-"));
  try {
    const host = await probeHostAddresses(runner);
    // a dual-stack network's namespace holds `table ip6 vnat` too (issue 17), loaded with the
    // IPv4 table in one transaction (core/plan/plan.ts loadRuleset): the reference has both
    const dual = specs.find((s) => s.v6 !== undefined);
    const host6 = dual ? await probeHostAddresses6(runner, dual) : [];
    const texts = specs.map((s, i) => suffixTables(renderNft(s, host) + renderNft6(s, host6), i));
    // all networks in one transaction (nft refreshes its cache per command: one include
    // per network costs O(n²)); only when that fails, one transaction each
    let listing = await loadAndList(runner, dir, [texts.join("\n")]);
    if (unsuffixListing(listing).size < specs.length) listing = await loadAndList(runner, dir, texts);
    const byIndex = unsuffixListing(listing);
    specs.forEach((s, i) => {
      const tables = byIndex.get(i);
      if (tables !== undefined) out.set(s.name, normalizeRuleset(tables));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

/**
 * Loads each text as its own transaction into a fresh namespace, then lists its tables one
 * by one: `list ruleset` of n tables costs O(n²) in nft 1.0.6 (100 tables: 0.55 s), one
 * `list table` per table does not (100 tables: 0.16 s with the load).
 */
async function loadAndList(runner: Runner, dir: string, texts: string[]): Promise<string> {
  const files = texts.map((_, i) => join(dir, `${i}.nft`));
  await Promise.all(texts.map((t, i) => writeFile(files[i]!, t, { mode: 0o600 })));
  const tables = texts.flatMap((t) =>
    [...t.matchAll(/^table (\S+) (\S+) \{/gm)].map((m) => `list table ${m[1]} ${m[2]}`),
  );
  const input = [...files.map((f) => `include "${f}"`), ...tables].join("\n") + "\n";
  const r = await runner.run("unshare", ["--net", "nft", "-i"], { input, timeoutMs: 30_000 });
  return r.stdout;
}

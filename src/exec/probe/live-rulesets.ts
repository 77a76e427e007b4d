// The live rulesets of many namespaces through a few `ip -o -force -batch -` processes:
// each namespace is one `netns exec NS nft list ruleset` line (ip forks nft, a cheap fork
// of a small process, where a spawn from Node costs its main thread ~4 ms; measured), and
// `link show dev lo` after each prints one known line that separates their outputs.
// -force goes on past a failing line; "Command failed -:N" names it.
import { parseRulesetBatch } from "../../core/observe/netns-view.ts";
import type { Runner } from "../run.ts";

export type Listed = { ruleset: string } | { error: string };

export async function listRulesets(
  runner: Runner,
  netnsList: string[],
  processes: number,
): Promise<Map<string, Listed>> {
  const out = new Map<string, Listed>();
  const n = Math.max(1, Math.min(processes, netnsList.length));
  const chunks = Array.from({ length: n }, (_, k) => netnsList.filter((_, i) => i % n === k));
  await Promise.all(
    chunks.map(async (chunk) => {
      if (chunk.length === 0) return;
      const input = chunk.map((ns) => `netns exec ${ns} nft list ruleset\nlink show dev lo\n`).join("");
      const r = await runner.run("ip", ["-o", "-force", "-batch", "-"], { input, timeoutMs: 30_000 });
      const parsed = parseRulesetBatch(r.stdout, r.stderr, chunk.length);
      chunk.forEach((ns, i) => out.set(ns, parsed[i] ?? { error: "no output from ip -batch" }));
    }),
  );
  return out;
}

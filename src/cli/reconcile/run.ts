// Runs `vnat reconcile`: one reconcile at a time on a host (a lock in /run/vnat); progress
// on stderr, the summary on stdout. Exit 4 (apply-failed) when a repair failed; exit 1
// (needs attention) when problems are left that reconcile cannot repair.
import { loadConfig } from "../../adapters/store/config-file.ts";
import { readLibvirtNetworks } from "../../adapters/libvirt/view.ts";
import { withLock } from "../../adapters/store/lock.ts";
import { roots } from "../../adapters/store/roots.ts";
import { VnatError } from "../../core/errors.ts";
import { reconcile, type ReconcileReport } from "../../exec/reconcile.ts";
import { readAllSeqs } from "../../exec/netlock.ts";
import { processRunner } from "../../exec/run.ts";
import { requireRoot } from "../root.ts";
import { writeOut } from "../output.ts";

export async function reconcileCommand(
  networks: string[],
  o: { dryRun?: boolean; quiet?: boolean; force?: boolean; json?: boolean },
): Promise<void> {
  requireRoot("reconcile");
  const r = roots();
  const t0 = performance.now();
  const report = await withLock(
    `${r.run}/reconcile.lock`,
    async () => {
      // before libvirt is asked: a network whose sequence moves after this is not repaired from this look
      const seqBefore = await readAllSeqs(r);
      const nets = readLibvirtNetworks();
      nets.catch(() => {}); // awaited by the probe, which starts before virsh answers
      const config = await loadConfig(r.config);
      return reconcile({
        runner: processRunner,
        roots: r,
        config,
        networks: nets,
        seqBefore,
        ...(networks.length ? { only: networks } : {}),
        dryRun: o.dryRun === true,
        force: o.force === true,
        progress: (line) => {
          // a dry run's plan is its output; a real run's progress is a side channel
          // (with --json it is in the document, and stdout is the document's alone)
          if (o.dryRun && !o.json) process.stdout.write(line + "\n");
          else if (o.dryRun) process.stderr.write(line + "\n");
          else if (!o.quiet || /FAILED/.test(line)) process.stderr.write(line + "\n");
        },
        ...(process.env.VNAT_FAILPOINT ? { failpoint: process.env.VNAT_FAILPOINT } : {}),
      });
    },
    { what: "reconcile (lock)", timeoutMs: 120_000 },
  );
  const text = summarize(report, o.dryRun === true, performance.now() - t0);
  if (o.json) await writeOut(JSON.stringify(reportJson(report, o.dryRun === true), null, 2) + "\n");
  else if (!o.quiet || text.failed) await writeOut(text.lines.join("\n") + "\n");
  if (text.failed && !o.dryRun)
    throw new VnatError(
      text.repairFailed ? "apply-failed" : "needs-attention",
      `reconcile: ${text.failed} network(s) still not healthy (see above)`,
    );
}

export function summarize(
  report: ReconcileReport,
  dryRun: boolean,
  ms: number,
): { lines: string[]; failed: number; repairFailed: boolean } {
  const lines: string[] = [];
  let failed = 0;
  for (const o of report.outcomes) {
    if (o.skipped) lines.push(`${o.name}: skipped (${o.skipped})`);
    for (const f of o.failed) lines.push(`${o.name}: failed: ${f}`);
    for (const r of o.remaining) lines.push(`${o.name}: ${dryRun ? "cannot repair" : "still"}: ${r.message}`);
    if (o.failed.length || o.remaining.length) failed++;
  }
  for (const f of report.strayFailed) lines.push(`stray interfaces: ${f}`);
  const repaired = report.outcomes.filter((o) => o.planned.length && !o.failed.length).length;
  const verb = dryRun ? "would repair" : "repaired";
  lines.push(
    `reconcile: ${report.checked} network(s) checked, ${repaired} ${verb}, ${failed} with problems left` +
      (report.strayLinks.length ? `, ${report.strayLinks.length} stray interface(s)` : "") +
      (report.strayFdb.length
        ? `, ${report.strayFdb.length} stray fdb entr${report.strayFdb.length === 1 ? "y" : "ies"}`
        : "") +
      ` (${(ms / 1000).toFixed(2)} s)`,
  );
  return {
    lines,
    failed: failed + (report.strayFailed.length ? 1 : 0),
    repairFailed: report.strayFailed.length > 0 || report.outcomes.some((o) => o.failed.length > 0),
  };
}

/** `reconcile --json`: per network what was repaired (dry run: would be), what failed, what is left */
export function reportJson(report: ReconcileReport, dryRun: boolean): Record<string, unknown> {
  return {
    checked: report.checked,
    networks: report.outcomes.map((o) => ({
      network: o.name,
      repairs: o.planned,
      failed: o.failed,
      remaining: o.remaining,
      ...(o.skipped ? { skipped: o.skipped } : {}),
    })),
    strayLinks: report.strayLinks,
    strayFdb: report.strayFdb,
    strayFailed: report.strayFailed,
    ...(dryRun ? { dryRun: true } : {}),
  };
}

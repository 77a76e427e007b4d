// Runs `vnat doctor`: one line per check; exit 1 (needs attention) when any check failed
// (warnings do not).
import { loadConfig } from "../../adapters/store/config-file.ts";
import { readLibvirtNetworks } from "../../adapters/libvirt/view.ts";
import { roots } from "../../adapters/store/roots.ts";
import type { Check, CheckStatus } from "../../core/judge/doctor.ts";
import { exitCode, oneLine } from "../../core/errors.ts";
import { runDoctor } from "../../exec/doctor.ts";
import { daemonVersion as probeDaemonVersion } from "../../exec/probe/doctor-facts.ts";
import { processRunner } from "../../exec/run.ts";
import { colourEnabled, paint, type Colour } from "../color.ts";
import { requireRoot } from "../root.ts";
import { writeOut } from "../output.ts";

const LABEL: Record<CheckStatus, [string, Colour]> = {
  ok: ["ok  ", "green"],
  warn: ["warn", "yellow"],
  fail: ["FAIL", "red"],
};

const settle = <T>(p: Promise<T>): Promise<T | { error: string }> => p.catch((e: unknown) => ({ error: oneLine(e) }));

export async function doctor(o: { json?: boolean }): Promise<void> {
  requireRoot("doctor");
  const r = roots();
  const [config, networks, daemonVersion] = await Promise.all([
    settle(loadConfig(r.config)),
    settle(readLibvirtNetworks()),
    probeDaemonVersion(processRunner),
  ]);
  const checks = await runDoctor({ runner: processRunner, roots: r, config, networks, daemonVersion });
  const failed = checks.filter((c) => c.status === "fail").length;
  await writeOut(
    o.json ? JSON.stringify({ ok: failed === 0, checks }, null, 2) + "\n" : formatChecks(checks, colourEnabled()),
  );
  if (failed) process.exitCode = exitCode("needs-attention");
}

export function formatChecks(checks: Check[], colour: boolean): string {
  const lines = checks.map((c) => {
    const [label, col] = LABEL[c.status];
    return `${paint(colour, col, label)}  ${c.message}${c.fix ? `  (fix: ${c.fix})` : ""}`;
  });
  const failed = checks.filter((c) => c.status === "fail").length;
  const warned = checks.filter((c) => c.status === "warn").length;
  lines.push(
    "",
    failed
      ? `${failed} check(s) failed, ${warned} warning(s)`
      : `all checks passed${warned ? ` (${warned} warning(s))` : ""}`,
  );
  return lines.join("\n") + "\n";
}

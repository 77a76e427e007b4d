// Judges a network the way `vnat status` does (the same probe and the same verdict),
// for tests that drive the hook directly and have no libvirt to ask: the caller says
// which networks libvirt would report active, with the XML it would report.
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { evaluate, type Verdict } from "../../src/core/judge/health.ts";
import type { Roots } from "../../src/core/paths.ts";
import { roots as defaultRoots } from "../../src/adapters/store/roots.ts";
import { probeAll } from "../../src/exec/probe/observe.ts";
import { processRunner } from "../../src/exec/run.ts";

export interface ActiveNetwork {
  name: string;
  /** the network XML (not hookData) */
  xml: string;
  active: boolean;
}

/** The verdict on each named network (healthy, degraded, down, orphan, stopped, invalid). */
export async function verdicts(nets: ActiveNetwork[], roots: Roots = defaultRoots()): Promise<Map<string, Verdict>> {
  const { observations } = await probeAll({
    runner: processRunner,
    roots,
    config: EMPTY_CONFIG,
    networks: nets.map((n) => ({ name: n.name, active: n.active, autostart: false, persistent: false, xml: n.xml })),
    only: nets.map((n) => n.name),
  });
  return new Map(observations.map((o) => [o.name, evaluate(o)]));
}

/** "healthy", or the verdict with its reasons in one line (for assertion messages). */
export async function healthOf(net: ActiveNetwork, roots?: Roots): Promise<string> {
  const v = (await verdicts([net], roots)).get(net.name);
  if (!v) return "not observed";
  return v.health === "healthy" ? "healthy" : `${v.health}: ${v.reasons.map((r) => r.message).join("; ")}`;
}

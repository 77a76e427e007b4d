// Shared by the benchmarks: figures (a median of several samples, its baseline measured
// in the same run, the target), timing, and the machine the figures came from.
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { sh } from "../test/support/sh.ts";

export interface Target {
  /** what the target bounds: the figure itself, or its ratio to the baseline */
  of: "value" | "ratio";
  op: "<=" | ">=";
  limit: number;
}

export interface Figure {
  /** stable key, e.g. "throughput.p1.vnat" */
  id: string;
  /** section of the table ("libvirt", "hook", "throughput", "scale") */
  group: string;
  label: string;
  unit: string;
  /** median of samples */
  value: number;
  samples: number[];
  /** id of the figure this one is compared with (measured in the same run) */
  baseline?: string;
  ratio?: number;
  /**
   * samples[i] and the baseline's samples[i] were taken back to back: the ratio is the
   * median of the pairs' ratios, which a load change between pairs does not skew
   */
  paired?: boolean;
  target?: Target;
  met?: boolean;
  note?: string;
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** A figure from its samples; ratio and target verdict are filled in by `compare`. */
export function figure(
  group: string,
  id: string,
  label: string,
  unit: string,
  samples: number[],
  extra: Partial<Pick<Figure, "baseline" | "target" | "note" | "paired">> = {},
): Figure {
  return { id, group, label, unit, value: median(samples), samples, ...extra };
}

/** Fills ratio (to the baseline in the same list) and whether the target is met. */
export function compare(figs: Figure[]): Figure[] {
  const byId = new Map(figs.map((f) => [f.id, f]));
  for (const f of figs) {
    const base = f.baseline !== undefined ? byId.get(f.baseline) : undefined;
    if (base !== undefined && base.value > 0) f.ratio = f.value / base.value;
    if (base !== undefined && f.paired && base.samples.length === f.samples.length && f.samples.length > 0)
      f.ratio = median(f.samples.map((x, i) => x / base.samples[i]!));
    if (f.target !== undefined) {
      const x = f.target.of === "ratio" ? f.ratio : f.value;
      f.met = x === undefined ? undefined : f.target.op === "<=" ? x <= f.target.limit : x >= f.target.limit;
    }
  }
  return figs;
}

export interface Machine {
  host: string;
  kernel: string;
  cpu: string;
  cores: number;
  memGiB: number;
  node: string;
  libvirt?: string;
  os?: string;
  /**
   * The host's own firewall at the end of the run: with bridge-nf-call-iptables=1 every
   * bridged frame walks it (libvirt adds rules per network), vnat's path crosses two bridges
   */
  hostRules?: number;
  libvirtNetworksActive?: number;
  bridgeNfCallIptables?: string;
}

export async function machine(): Promise<Machine> {
  const os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1];
  const lv = await sh("libvirtd", ["--version"]).catch(() => undefined);
  const rules = await sh("nft", ["-j", "list", "ruleset"]).catch(() => undefined);
  const nets = await sh("virsh", ["-q", "-c", "qemu:///system", "net-list", "--name"]).catch(() => undefined);
  let bnf: string | undefined;
  try {
    bnf = readFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "utf8").trim();
  } catch {
    /* no br_netfilter */
  }
  return {
    host: readFileSync("/proc/sys/kernel/hostname", "utf8").trim(),
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    ...(lv?.exitCode === 0 ? { libvirt: lv.stdout.trim().split(/\s+/).pop() } : {}),
    ...(os !== undefined ? { os } : {}),
    ...(rules?.exitCode === 0
      ? {
          hostRules: (JSON.parse(rules.stdout) as { nftables: Array<{ rule?: unknown }> }).nftables.filter(
            (x) => x.rule,
          ).length,
        }
      : {}),
    ...(nets?.exitCode === 0 ? { libvirtNetworksActive: nets.stdout.split("\n").filter((l) => l.trim()).length } : {}),
    ...(bnf !== undefined ? { bridgeNfCallIptables: bnf } : {}),
  };
}

/** 1-minute load average: the benchmarks share 2 cores with other people's tests. */
export function loadAvg(): number {
  return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

/** kB of MemAvailable in /proc/meminfo. */
export function memAvailableKb(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
  if (!m) throw new Error("/proc/meminfo: no MemAvailable line");
  return Number(m[1]);
}

/** Resident set size of PID in kB (VmRSS), or 0 when it is gone. */
export function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Progress on stderr, with the load average: a figure taken under load says so. */
export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)} load ${loadAvg().toFixed(2)}] ${msg}\n`);
}

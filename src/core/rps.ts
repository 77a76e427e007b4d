// Receive packet steering for vnat's namespace. A veth hands each packet to the receiving
// CPU's backlog: without RPS, every hop of a guest's stream (LAN bridge, NAT namespace,
// provider bridge, …) runs on the CPU that sent it, the guest's. With the namespace's
// default RPS mask set to every CPU before its veth ends exist, the forwarding and NAT work
// of each flow moves to a CPU chosen by the flow's hash (a flow keeps its CPU: no
// reordering). Measured with bench/throughput.ts on 2 cores: vnat's throughput went from
// 0.62-0.82 to 0.83-0.95 of the same path without vnat. Pure.

/** "0-3,6,8-9" (the kernel's CPU list format) → [0, 1, 2, 3, 6, 8, 9]. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    for (let c = lo; c <= hi && c < 8192; c++) out.push(c);
  }
  return out;
}

/**
 * The kernel's CPU bitmap text for CPUS: hex, in 32-bit groups separated by commas, most
 * significant first ([0, 1] → "3", [0, 33] → "2,00000001"). Undefined for fewer than two
 * CPUs: steering to the only CPU there is would only cost.
 */
export function rpsMask(cpus: number[]): string | undefined {
  if (new Set(cpus).size < 2) return undefined;
  const groups = new Array<number>(Math.floor(Math.max(...cpus) / 32) + 1).fill(0);
  for (const c of cpus) groups[Math.floor(c / 32)]! |= 2 ** (c % 32);
  return groups
    .map((g) => (g >>> 0).toString(16))
    .reverse()
    .map((h, i) => (i === 0 ? h : h.padStart(8, "0")))
    .join(",");
}

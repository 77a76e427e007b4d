// One interface's totals from /proc/PID/net/dev (the namespace of PID): receive bytes and
// packets are columns 1-2, transmit bytes and packets columns 9-10. Pure.
import type { LinkStats } from "./model.ts";

export function parseNetDevStats(text: string, ifname: string): LinkStats | undefined {
  for (const line of text.split("\n").slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] !== ifname) continue;
    const cols = m[2]!.trim().split(/\s+/).map(Number);
    if (cols.length < 16 || !cols.every((c) => Number.isSafeInteger(c) && c >= 0)) return undefined;
    return { rxBytes: cols[0]!, rxPackets: cols[1]!, txBytes: cols[8]!, txPackets: cols[9]! };
  }
  return undefined;
}

// dnsmasq's processes as tests count them. A network with DHCP runs two: the daemon and,
// for --dhcp-script (libvirt's lease status file, core/plan/lease-status.ts), the helper it forks
// before dropping privileges, which runs the script as root. "One dnsmasq" means one daemon.
import { readFileSync } from "node:fs";

const comm = (pid: number | string): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
};

/** True when PID is dnsmasq's script helper: a dnsmasq whose parent is a dnsmasq. */
export function isDnsmasqHelper(pid: number | string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
    return ppid !== undefined && comm(pid) === "dnsmasq" && comm(ppid) === "dnsmasq";
  } catch {
    return false;
  }
}

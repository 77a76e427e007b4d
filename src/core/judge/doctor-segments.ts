// `vnat doctor` on segments (issue 19): what stands between the hosts on an attached
// segment and the network's namespace. vnat never edits the host's firewall to get around
// any of it: each check says what is in the way and what the administrator can do. Pure.
import { fail, ok, warn, type Check } from "./doctor.ts";

export interface SegmentFacts {
  network: string;
  /** "docker:lab" */
  label: string;
  device: string;
  present: boolean;
  takeAddresses: boolean;
  /** the network's guest subnet, "10.0.0.0/24", and whether each host address on DEVICE lies in it */
  lanSubnet: string;
  hostAddresses: Array<{ cidr: string; inLan: boolean }>;
  /** DHCP servers other than vnat's serving on DEVICE: "dnsmasq (pid 123)" */
  dhcpServers: string[];
  /** `iptables -S` / nft lines of Docker's isolation chains that name DEVICE */
  isolationRules: string[];
  /** br_netfilter passes frames bridged on DEVICE (or the network's bridge) to the host's iptables */
  callsIptables: boolean;
  /** the host's forward chains that drop by default (iptables FORWARD policy, nft forward hooks) */
  dropForward: string[];
}

export function judgeSegment(f: SegmentFacts): Check[] {
  const id = `segment-${f.network}-${f.label}`;
  const what = `segment ${f.label} of ${f.network}`;
  if (!f.present)
    return [
      fail(
        id,
        `${what}: "${f.device}" does not exist (the network does not start; a running one reports segment-missing)`,
        f.label.startsWith("docker:")
          ? `create the Docker network again and run vnat attach ${f.network} ${f.label} (it resolves the bridge again), or vnat detach it`
          : `create it, or vnat detach ${f.network} ${f.label}`,
      ),
    ];
  const out: Check[] = [];
  if (f.isolationRules.length)
    out.push(
      warn(
        `${id}-docker-isolation`,
        `${what}: Docker's isolation chains name ${f.device} (${f.isolationRules.length} rule(s), e.g. "${f.isolationRules[0]}"); with br_netfilter they drop frames between its hosts and vnat's gateway`,
        "run dockerd with --iptables=false (or keep the network off Docker's firewall); vnat does not edit the host's firewall",
      ),
    );
  if (f.dhcpServers.length)
    out.push(
      warn(
        `${id}-dhcp`,
        `${what}: another DHCP server serves ${f.device} (${f.dhcpServers.join(", ")}); its hosts may lease from it instead of vnat`,
        `stop that server on ${f.device}, or disable its DHCP there`,
      ),
    );
  if (f.callsIptables && f.dropForward.length)
    out.push(
      warn(
        `${id}-forward`,
        `${what}: br_netfilter passes its frames to the host's forward chains, which drop by default (${f.dropForward.join(", ")})`,
        "accept traffic bridged between the segment and the network's bridge in the host firewall, or sysctl -w net.bridge.bridge-nf-call-iptables=0; vnat does not edit the host's firewall",
      ),
    );
  const clash = f.hostAddresses.filter((a) => a.inLan);
  if (!f.takeAddresses && clash.length)
    out.push(
      warn(
        `${id}-addresses`,
        `${what}: ${f.device} carries host address ${clash.map((a) => a.cidr).join(", ")} inside the network's subnet ${f.lanSubnet}`,
        `vnat attach ${f.network} ${f.label} --take-addresses (put back at detach and stop), or remove the address`,
      ),
    );
  if (!out.length)
    out.push(
      ok(
        id,
        `${what}: ${f.device} present${f.callsIptables ? " (its frames pass the host's forward chains, which accept them)" : ""}; no other DHCP server, no Docker isolation rule`,
      ),
    );
  return out;
}

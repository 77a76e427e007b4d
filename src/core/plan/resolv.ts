// The resolver configuration of a network's namespace, for commands run in it by `vnat exec`
// (`ip netns exec` puts /etc/netns/NS/resolv.conf over /etc/resolv.conf). Pure.
import { formatIp } from "../ipv4.ts";
import type { NetSpec } from "../input/spec.ts";

/**
 * The namespace's dnsmasq, on the guests' gateway address (it listens nowhere else), answers
 * for the names guests give in their DHCP requests and forwards the rest upstream. A vnat
 * network has no DNS domain (dnsmasq runs without --domain, so guests' names are bare):
 * `search .` keeps glibc from appending the host's own domain (taken from its hostname when
 * resolv.conf names none) to a bare name and sending that upstream first.
 */
export function renderResolvConf(spec: NetSpec): string {
  return [
    `# written by vnat for network "${spec.name}" and removed when it stops: the namespace's dnsmasq`,
    `nameserver ${formatIp(spec.lan.address)}`,
    "search .",
    "",
  ].join("\n");
}

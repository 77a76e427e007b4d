// The man page's prose around the generated command reference (docgen.ts manPage).
import type { ManPageText } from "./docgen.ts";

export const MAN_TEXT: ManPageText = {
  description: [
    "vnat gives every libvirt network its own NAT network namespace. When libvirt starts a network " +
      "that carries vnat metadata, vnat's network hook builds a namespace vnat-NET with the guests' " +
      "gateway, DHCP and DNS (dnsmasq) on one side, the network's own uplink address on a provider " +
      "bridge on the other, and one nftables ruleset for SNAT, a drop-by-default forward policy, " +
      "port forwards and floating IPs. virsh net-destroy removes all of it. Any number of networks " +
      "can use the same guest subnet.",
    "The vnat command defines such networks (through virsh), edits the provider networks in the " +
      "config file and a network's inbound rules, shows what runs (status, net show), repairs it (reconcile), " +
      "prints the hook's log (log), serves metrics for Prometheus (metrics, exporter) and finds what is in the way (doctor). Start a network with virsh net-start NAME.",
  ],
  files: [
    ["/etc/vnat/config.json", "provider networks and the uplink policy (vnat provider add|remove edit it)"],
    ["/etc/libvirt/hooks/network.d/vnat", "vnat's libvirt network hook (install.sh)"],
    ["/usr/local/lib/vnat", "the installed bundle; MANIFEST lists what install.sh added"],
    ["/run/vnat", "runtime state: per-network state, claims, locks, the hook's cache and agent"],
    ["/run/vnat/stats", "hook events and reconcile runs counted for vnat metrics (gone at reboot)"],
    ["/var/log/vnat/hook.log", "the hook's log (JSON lines; vnat log prints them for people)"],
    ["/etc/logrotate.d/vnat", "rotation of the hook's log (install.sh)"],
  ],
  environment: [
    ["VNAT_CONFIG", "the config file to use instead of /etc/vnat/config.json"],
    ["LIBVIRT_DEFAULT_URI", "the libvirt to use when -c/--connect is not given (this host's system libvirt only)"],
    ["NO_COLOR", "no colour in vnat status"],
  ],
  seeAlso: ["virsh(1)", "libvirtd(8)", "nft(8)", "dnsmasq(8)", "ip-netns(8)"],
};

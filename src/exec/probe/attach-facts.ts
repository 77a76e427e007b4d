// What "auto" attachment (core/input/attach.ts) asks of the host when a network starts: whether
// the provider bridge carries a host address (one `ip` process, skipped when the provider
// forces the uplink's kind) and whether br_netfilter passes either bridge's frames to the
// host's iptables (file reads only). `vnat status` and `vnat doctor` read the same switches.
import { callsIptables, type AttachFacts } from "../../core/input/attach.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { bridgeHasAddress } from "./host-addrs.ts";
import { readText } from "./host.ts";
import type { Runner } from "../run.ts";

/** The global switch path; absent while br_netfilter is not loaded. */
export const BRIDGE_NF_CALL_IPTABLES = "/proc/sys/net/bridge/bridge-nf-call-iptables";

const flag = (text: string | null): boolean | null => (text === null ? null : text === "1");

/**
 * net.bridge.bridge-nf-call-iptables: null when br_netfilter is not loaded. Tests that
 * exercise macvlans on a machine where it is on set VNAT_BRIDGE_NF_CALL_IPTABLES=0, which
 * stands in for the switch (as VNAT_HOST_NETNS stands in for the host's namespace): the
 * hook they run and the status they read then judge as on a host without br_netfilter.
 */
export function globalNfCall(env: NodeJS.ProcessEnv = process.env): boolean | null {
  const given = env.VNAT_BRIDGE_NF_CALL_IPTABLES;
  return given === "0" || given === "1" ? given === "1" : flag(readText(BRIDGE_NF_CALL_IPTABLES));
}

/** BRIDGE's own nf_call_iptables: null when there is no such bridge. */
export const bridgeNfCall = (bridge: string): boolean | null =>
  flag(readText(`/sys/class/net/${bridge}/bridge/nf_call_iptables`));

/** BRIDGE passes its IPv4 frames to the host's iptables (and so to the host's conntrack). */
export const bridgeCallsIptables = (bridge: string): boolean => callsIptables(globalNfCall(), bridgeNfCall(bridge));

export async function attachFacts(runner: Runner, spec: NetSpec): Promise<AttachFacts> {
  const uplinkHasAddress = spec.uplink.attach ? false : await bridgeHasAddress(runner, spec.uplink.bridge);
  return {
    uplinkHasAddress,
    lanCallsIptables: bridgeCallsIptables(spec.lanBridge),
    uplinkCallsIptables: bridgeCallsIptables(spec.uplink.bridge),
  };
}

// Isolation: what a guest may reach THROUGH its namespace besides the outside world.
// By default nothing of the machine it runs on (the host's own addresses) and nothing on
// the provider network (other vnat networks' uplinks and floating IPs live there) except
// the gateway, its route out. <vnat:isolation host="open" provider="open"/> opts in. Pure.
//
// Only new connections a guest starts are refused (`ct state established,related` is
// accepted earlier in the chain): replies to what reached the guest through a port
// forward or a floating IP still flow, and NAT loopback is DNATed to a guest address
// before the forward chain sees it.
import { invalid } from "../errors.ts";
import { formatIp, formatSubnet, type Cidr } from "../ipv4.ts";
import { LAN_IF } from "../names.ts";
import { printable } from "../names.ts";
import { attr, type XmlNode } from "./xml.ts";

export type Reach = "blocked" | "open";

export interface IsolationSpec {
  host: Reach;
  provider: Reach;
}

export const ALLOWED_ISOLATION = ["@host", "@provider"];
export const DEFAULT_ISOLATION: IsolationSpec = { host: "blocked", provider: "blocked" };

export function parseIsolation(where: string, el: XmlNode | undefined): IsolationSpec {
  const reach = (name: "host" | "provider"): Reach => {
    const v = attr(el, name) ?? "blocked";
    if (v !== "blocked" && v !== "open")
      throw invalid(`${where}: isolation ${name}="${printable(v)}" (expected "blocked" or "open")`);
    return v;
  };
  return { host: reach("host"), provider: reach("provider") };
}

export const HOST_SET = "host_addrs";
const REFUSE = "reject with icmp type admin-prohibited";

/** The set of the host's own addresses, declared in the table (empty when host reach is open). */
export function renderHostSet(iso: IsolationSpec, hostAddrs: readonly number[]): string {
  if (iso.host === "open") return "";
  const elements = [...new Set(hostAddrs)].sort((a, b) => a - b).map(formatIp);
  const body = elements.length ? `    elements = { ${elements.join(", ")} }\n` : "";
  return `  set ${HOST_SET} {\n    type ipv4_addr\n${body}  }\n\n`;
}

/** Forward-chain rules refusing guests' new connections to what isolation keeps out. */
export function renderIsolationRules(iso: IsolationSpec, uplink: Cidr, gateway: number): string[] {
  const rules: string[] = [];
  if (iso.host === "blocked") rules.push(`iifname "${LAN_IF}" ip daddr @${HOST_SET} ${REFUSE}`);
  if (iso.provider === "blocked")
    rules.push(`iifname "${LAN_IF}" ip daddr ${formatSubnet(uplink)} ip daddr != ${formatIp(gateway)} ${REFUSE}`);
  return rules;
}

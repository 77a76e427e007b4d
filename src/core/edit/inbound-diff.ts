// What changes on a running network when its inbound configuration changes: which
// floating addresses come and go, which conntrack entries must be deleted (a connection
// keeps its NAT binding until its entry goes), and whether the hosts file changed. Pure.
import type { FloatingSpec, ForwardSpec } from "../input/inbound.ts";
import type { NetSpec } from "../input/spec.ts";

export type ConntrackFlush =
  /** connections to UPLINK:PORT..PORT_END (inbound and NAT loopback) */
  | { kind: "forward"; proto: ForwardSpec["proto"]; uplink: number; port: number; portEnd: number }
  /** connections to a floating address, and its guest's connections SNATed to it */
  | { kind: "floating"; address: number };

export interface InboundChange {
  /** anything the nft ruleset renders differs */
  rules: boolean;
  addAddresses: number[];
  removeAddresses: number[];
  flush: ConntrackFlush[];
  hosts: boolean;
}

const key = (x: unknown): string => JSON.stringify(x);

/** Everything but the inbound fields: when this differs, the network needs a restart. */
export function baseOf(spec: NetSpec): Omit<NetSpec, "forwards" | "floating" | "hosts"> {
  const base: Partial<NetSpec> = { ...spec };
  delete base.forwards;
  delete base.floating;
  delete base.hosts;
  return base as Omit<NetSpec, "forwards" | "floating" | "hosts">;
}

export function sameBase(a: NetSpec, b: NetSpec): boolean {
  return key(baseOf(a)) === key(baseOf(b));
}

export function diffInbound(old: NetSpec, next: NetSpec): InboundChange {
  const oldFwd = old.forwards ?? [];
  const newFwd = new Set((next.forwards ?? []).map(key));
  const oldFl = old.floating ?? [];
  const newFl = next.floating ?? [];
  const newFlKeys = new Set(newFl.map(key));
  const oldAddr = new Set(oldFl.map((f) => f.address));
  const newAddr = new Set(newFl.map((f) => f.address));
  const uplink = old.uplink.address.address;
  const flush: ConntrackFlush[] = [
    // a removed forward, or one whose target changed (its old key is gone)
    ...oldFwd
      .filter((f) => !newFwd.has(key(f)))
      .map((f): ConntrackFlush => ({ kind: "forward", proto: f.proto, uplink, port: f.port, portEnd: f.portEnd })),
    ...oldFl
      .filter((f: FloatingSpec) => !newFlKeys.has(key(f)))
      .map((f): ConntrackFlush => ({ kind: "floating", address: f.address })),
  ];
  return {
    rules: key([oldFwd, oldFl]) !== key([next.forwards ?? [], newFl]),
    addAddresses: [...newAddr].filter((a) => !oldAddr.has(a)),
    removeAddresses: [...oldAddr].filter((a) => !newAddr.has(a)),
    flush,
    hosts: key(old.hosts ?? []) !== key(next.hosts ?? []),
  };
}

/** True when nothing needs to be done. */
export function isEmptyChange(c: InboundChange): boolean {
  return !c.rules && !c.hosts && c.addAddresses.length + c.removeAddresses.length + c.flush.length === 0;
}

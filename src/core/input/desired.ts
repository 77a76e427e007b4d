// The desired state of a running vnat network. The live XML (what libvirt started the
// network with, what the hook built from) decides everything, except the inbound lists
// (port forwards, floating IPs, static hosts) and what `vnat net set` applies live (DNS
// upstreams, DHCP, isolation): libvirt 9.0 cannot change a running network's metadata, so
// vnat's CLI writes those to the persistent XML and applies them live; a reconcile must
// keep them, not roll them back. An isolation the config does not allow to be opened is
// kept from the live XML (a hand edit must not open it through a reconcile). Pure.
import type { Config } from "./config.ts";
import { oneLine } from "../errors.ts";
import { parseNetworkXml } from "../observe/inventory.ts";
import { buildSpec, type NetSpec } from "./spec.ts";

/** NetSpec fields that vnat's CLI changes on a running network (issue 5; net set, issue 16). */
export const LIVE_EDITABLE = ["forwards", "floating", "hosts", "dns", "dhcp", "isolation", "segments"] as const;
/** an element of the metadata that fills one of them (any namespace prefix) */
const INBOUND_RE = /<[A-Za-z_][\w.-]*:(forward|floating|host|dns|dhcp|isolation|segment)[\s/>]/;

export interface Desired {
  spec?: NetSpec;
  error?: string;
  /** the XML carries vnat metadata */
  vnat: boolean;
}

export function desiredSpec(liveXml: string, persistentXml: string | undefined, config: Config): Desired {
  let vnat = false;
  try {
    const live = parseNetworkXml(liveXml);
    vnat = live.metadata !== undefined;
    if (!vnat) return { vnat };
    const spec = buildSpec(live, config);
    // parsing costs ~1 ms a document: skip it when neither side lists inbound settings
    if (persistentXml === undefined || persistentXml === liveXml) return { spec, vnat };
    if (!INBOUND_RE.test(persistentXml) && !INBOUND_RE.test(liveXml)) return { spec, vnat };
    let persistent: NetSpec;
    try {
      persistent = buildSpec(parseNetworkXml(persistentXml), config);
    } catch {
      return { spec, vnat }; // a broken edit waiting for the next start changes nothing live
    }
    const merged: Record<string, unknown> = { ...spec };
    for (const key of LIVE_EDITABLE) {
      const value = (persistent as unknown as Record<string, unknown>)[key];
      if (key === "isolation" && opens(persistent) && !opens(spec) && config.allowOpenIsolation !== true) continue;
      if (value === undefined) delete merged[key];
      else merged[key] = value;
    }
    return { spec: merged as unknown as NetSpec, vnat };
  } catch (e) {
    return { error: oneLine(e), vnat: vnat || /urn:vnat:network:1/.test(liveXml) };
  }
}

const opens = (s: NetSpec): boolean => s.isolation?.host === "open" || s.isolation?.provider === "open";

// Where vnat keeps its files. Pure: the roots are passed in (the adapters read them from
// the environment), so plans and golden tests never depend on the machine.

export interface Roots {
  /** runtime state: /run/vnat (gone at reboot, like the namespaces it describes) */
  run: string;
  config: string;
  log: string;
}

export interface NetPaths {
  dir: string;
  state: string;
  pidFile: string;
  leases: string;
  dhcpHosts: string;
  dnsmasqLog: string;
  ports: string;
}

export function netPaths(roots: Roots, name: string): NetPaths {
  const dir = `${roots.run}/net/${name}`;
  return {
    dir,
    state: `${dir}/state.json`,
    pidFile: `${dir}/dnsmasq.pid`,
    leases: `${dir}/dnsmasq.leases`,
    dhcpHosts: `${dir}/dhcp-hosts`,
    dnsmasqLog: `${dir}/dnsmasq.log`,
    ports: `${dir}/ports`,
  };
}

export function claimsDir(roots: Roots): string {
  return `${roots.run}/claims`;
}

/** One file per claimed uplink: the same address may be used on two different provider bridges. */
export function claimPath(roots: Roots, bridge: string, ip: string): string {
  return `${claimsDir(roots)}/${bridge}@${ip}`;
}

/**
 * A `started` event the hook runs in the background (config "start": "background"): the
 * hook data waits in XML while the build runs, PID names the process building it, and a
 * build that failed leaves its one-line reason in FAILED until the network stops or starts.
 */
export interface BuildPaths {
  dir: string;
  xml: string;
  pid: string;
  failed: string;
}

export function buildPaths(roots: Roots, name: string): BuildPaths {
  const dir = `${roots.run}/starting`;
  return { dir, xml: `${dir}/${name}.xml`, pid: `${dir}/${name}.pid`, failed: `${roots.run}/failed/${name}` };
}

/**
 * A background teardown (`stopped`, hooks/network): the same files as a build's, under
 * stopping/; the network's state directory holds STOP_BACKGROUND while its stop may run so.
 */
export function stopPaths(roots: Roots, name: string): Omit<BuildPaths, "failed"> {
  const dir = `${roots.run}/stopping`;
  return { dir, xml: `${dir}/${name}.xml`, pid: `${dir}/${name}.pid` };
}

export const STOP_BACKGROUND = "stop-background";

/** Documents vnat has validated, by hash, for the shell hook's fast path (core/hookcache.ts). */
export function hookCacheDir(roots: Roots): string {
  return `${roots.run}/hook-cache`;
}

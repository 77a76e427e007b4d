// Where vnat keeps its files. Pure: the roots are passed in (the adapters read them from
// the environment), so plans and golden tests never depend on the machine.

export interface Roots {
  /** runtime state: /run/vnat (gone at reboot, like the namespaces it describes) */
  run: string;
  config: string;
  log: string;
  /**
   * where `ip netns exec NS` finds the namespace's own /etc files (NS/resolv.conf); absent:
   * /etc/netns, the only place ip reads them (tests with a fake runner point it elsewhere)
   */
  netnsEtc?: string;
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

/** The resolver configuration `ip netns exec NETNS` puts over /etc/resolv.conf (`vnat exec`). */
export function netnsResolvConfPath(roots: Roots, netns: string): { dir: string; file: string } {
  const dir = `${roots.netnsEtc ?? "/etc/netns"}/${netns}`;
  return { dir, file: `${dir}/resolv.conf` };
}

export function claimsDir(roots: Roots): string {
  return `${roots.run}/claims`;
}

/** One file per claimed uplink: the same address may be used on two different provider bridges. */
export function claimPath(roots: Roots, bridge: string, ip: string): string {
  return `${claimsDir(roots)}/${bridge}@${ip}`;
}

/**
 * A network's kernel-held lock (exec/netlock.ts) and its event sequence. The lock files are
 * never removed while the host runs; /run goes at reboot. BEGUN exists from the moment a
 * `started` reaches vnat until it succeeds or the network stops: libvirt keeps the bridge of
 * a start whose `started` failed (or whose hook was killed), and the next `start begin`
 * removes that bridge, or libvirt could not create it again.
 */
export function netLockPaths(roots: Roots, name: string): { dir: string; lock: string; seq: string; begun: string } {
  const dir = `${roots.run}/locks/net`;
  return { dir, lock: `${dir}/${name}.lock`, seq: `${dir}/${name}.seq`, begun: `${dir}/${name}.begun` };
}

/** The hook's resident agent of one bundle (hook/agent.ts): its socket, its lock and "PID STARTTIME". */
export function agentPaths(roots: Roots, buildId: string): { dir: string; socket: string; lock: string; pid: string } {
  const dir = `${roots.run}/agent`;
  return { dir, socket: `${dir}/${buildId}.sock`, lock: `${dir}/${buildId}.lock`, pid: `${dir}/${buildId}.pid` };
}

/** Documents vnat has validated, by hash, for the shell hook's fast path (core/hookcache.ts). */
export function hookCacheDir(roots: Roots): string {
  return `${roots.run}/hook-cache`;
}

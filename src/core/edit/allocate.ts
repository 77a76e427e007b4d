// Picking what a new network needs and nobody else holds: an uplink address from a
// provider's pool, a bridge name for libvirt. Pure: the caller passes what is taken, and
// holds the allocation lock from reading that until the network is defined.
import { conflict } from "../errors.ts";
import { formatIp } from "../ipv4.ts";

export const BRIDGE_PREFIX = "vnatbr";

/** The lowest address of the pool that is not taken. */
export function pickUplink(bridge: string, pool: { start: number; end: number }, taken: ReadonlySet<number>): number {
  for (let ip = pool.start; ip <= pool.end; ip++) if (!taken.has(ip)) return ip;
  throw conflict(
    `provider "${bridge}": every address of pool ${formatIp(pool.start)}-${formatIp(pool.end)} is held by a vnat network (widen the pool or delete a network)`,
  );
}

/** The first vnatbrN that no network and no interface uses. */
export function pickBridgeName(used: ReadonlySet<string>): string {
  for (let n = 0; n < 10000; n++) {
    const name = `${BRIDGE_PREFIX}${n}`;
    if (!used.has(name)) return name;
  }
  throw conflict(`no free bridge name ${BRIDGE_PREFIX}0-${BRIDGE_PREFIX}9999`);
}

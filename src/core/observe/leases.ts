// dnsmasq's lease file, one lease a line: `EXPIRY MAC IP HOSTNAME CLIENTID` (EXPIRY in
// seconds since the epoch, 0 for an infinite lease; "*" for an unknown hostname). Pure.

export interface Lease {
  mac: string;
  ip: string;
  hostname: string | null;
  /** seconds since the epoch; null for an infinite lease */
  expires: number | null;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/** IPv4 leases only; malformed lines (and dnsmasq's IPv6 "duid" line) are skipped. */
export function parseLeases(text: string): Lease[] {
  const leases: Lease[] = [];
  for (const line of text.split("\n")) {
    const [expiry, mac, ip, hostname] = line.trim().split(/\s+/);
    if (!expiry || !/^\d+$/.test(expiry) || !mac || !MAC_RE.test(mac) || !ip || !IPV4_RE.test(ip)) continue;
    const seconds = Number(expiry);
    leases.push({
      mac: mac.toLowerCase(),
      ip,
      hostname: hostname && hostname !== "*" ? hostname : null,
      expires: seconds === 0 ? null : seconds,
    });
  }
  return leases;
}

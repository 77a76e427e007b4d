// Leases in libvirt (docs/DESIGN.md "Leases in libvirt"). libvirt answers `virsh
// net-dhcp-leases NET` and `virsh domifaddr VM --source lease` from
// /var/lib/libvirt/dnsmasq/BRIDGE.status, a JSON array of leases, for a network without <ip>
// as well. A vnat network's dnsmasq keeps that file for the network's own bridge through
// --dhcp-script: the script below, written into the network's state directory. Pure.
import { validateIfname } from "../input/ifname.ts";
import type { NetPaths } from "../paths.ts";
import type { NetSpec } from "../input/spec.ts";

/** libvirt's dnsmasq state directory (qemu:///system): it reads BRIDGE.status from here. */
export const LIBVIRT_DNSMASQ_DIR = "/var/lib/libvirt/dnsmasq";

/** The status file libvirt reads for the network on BRIDGE (a kernel name: no "/"). */
export function leaseStatusPath(bridge: string): string {
  return `${LIBVIRT_DNSMASQ_DIR}/${validateIfname("lease status: bridge", bridge)}.status`;
}

/** The script's temp file next to the status file (renamed over it, so a reader never sees half). */
export function leaseStatusTemp(bridge: string): string {
  return `${leaseStatusPath(bridge)}.vnat-new`;
}

/** dnsmasq's --dhcp-script of a network: in its state directory, gone with it at teardown. */
export function leaseScriptPath(paths: Pick<NetPaths, "dir">): string {
  return `${paths.dir}/lease-status.sh`;
}

/** A shell word: single-quoted, each ' written as '\''. */
const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * dnsmasq's lease file (`EXPIRY MAC IP HOSTNAME|* CLIENTID|*` a line) to libvirt's JSON
 * array. Byte-wise (LC_ALL=C); no single quote inside (it sits in one in the script).
 */
const LEASE_AWK = String.raw`
BEGIN {
  for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i
  h = "[0-9A-Fa-f][0-9A-Fa-f]"
  mac = "^" h ":" h ":" h ":" h ":" h ":" h "$"
  d = "[0-9][0-9]?[0-9]?"
  ip = "^" d "\\." d "\\." d "\\." d "$"
  n = 0
  printf "["
}
function esc(s,    out, i, c, o) {
  out = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    o = ord[c] + 0
    if (c == "\"" || c == "\\") out = out "\\" c
    else if (o < 32 || o > 126) out = out sprintf("\\u%04x", o)
    else out = out c
  }
  return out
}
NF >= 4 && n < 65536 && $1 ~ /^(0|[1-9][0-9]*)$/ && length($1) <= 15 && $2 ~ mac && $3 ~ ip {
  printf "%s\n{\"ip-address\":\"%s\",\"mac-address\":\"%s\",\"expiry-time\":%s", (n++ ? "," : ""), $3, tolower($2), $1
  if ($4 != "*" && length($4) <= 255) printf ",\"hostname\":\"%s\"", esc($4)
  if (NF >= 5 && $5 != "*" && $5 ~ /^[0-9A-Fa-f:]+$/ && length($5) <= 767) printf ",\"client-id\":\"%s\"", $5
  printf "}"
}
END { printf "%s]\n", (n ? "\n" : "") }
`;

/**
 * The --dhcp-script of network SPEC. dnsmasq's helper process (root: it forks before dnsmasq
 * drops to its user) runs it inside the namespace after each lease change, one run at a time
 * and after dnsmasq has rewritten its lease file (measured: dnsmasq 2.90; `--script-on-renewal`
 * adds renewals). It ignores its arguments and rewrites the whole status file from the lease
 * file, through a temp file and rename(2), so every run converges on dnsmasq's own state. The
 * lease file is treated as hostile (a guest picks its hostname, and dnsmasq writes it): a line
 * whose expiry, MAC or address does not parse is skipped, and in a hostname every quote,
 * backslash and byte outside printable ASCII is escaped, so the output is ASCII-only JSON
 * whatever the bytes (libvirt rejects the whole file, every lease, on one bad entry).
 */
export function renderLeaseScript(spec: Pick<NetSpec, "lanBridge">, paths: Pick<NetPaths, "leases">): string {
  return leaseScriptText({
    leases: paths.leases,
    status: leaseStatusPath(spec.lanBridge),
    tmp: leaseStatusTemp(spec.lanBridge),
  });
}

/** The script for these files (tests point it at a directory of their own). */
export function leaseScriptText(files: { leases: string; status: string; tmp: string }): string {
  return `#!/bin/sh
# vnat: dnsmasq's --dhcp-script for one network (src/core/plan/lease-status.ts; docs/DESIGN.md
# "Leases in libvirt"). Rewrites libvirt's lease status file from dnsmasq's lease file.
export LC_ALL=C
umask 077
case "$1" in add | old | del) ;; *) exit 0 ;; esac
leases=${shQuote(files.leases)}
status=${shQuote(files.status)}
tmp=${shQuote(files.tmp)}
# teardown removes the lease file before the status file: a run after it writes nothing
[ -f "$leases" ] || exit 0
if awk '${LEASE_AWK}' "$leases" 2> /dev/null > "$tmp"; then
  mv -f "$tmp" "$status"
else
  rm -f "$tmp"
fi
exit 0
`;
}

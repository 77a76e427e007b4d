#!/bin/sh
# vnat: dnsmasq's --dhcp-script for one network (src/core/plan/lease-status.ts; docs/DESIGN.md
# "Leases in libvirt"). Rewrites libvirt's lease status file from dnsmasq's lease file.
export LC_ALL=C
umask 077
case "$1" in add | old | del) ;; *) exit 0 ;; esac
leases='/run/vnat/net/golden/dnsmasq.leases'
status='/var/lib/libvirt/dnsmasq/virbr5.status'
tmp='/var/lib/libvirt/dnsmasq/virbr5.status.vnat-new'
# teardown removes the lease file before the status file: a run after it writes nothing
[ -f "$leases" ] || exit 0
if awk '
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
' "$leases" 2> /dev/null > "$tmp"; then
  mv -f "$tmp" "$status"
else
  rm -f "$tmp"
fi
exit 0

#!/bin/sh
# busybox udhcpc event script for the guest namespaces of `vnat demo` (src/demo/world.ts) and
# of the test world (test/support/sandbox.ts).
# udhcpc passes: $1 = deconfig|bound|renew|leasefail|nak, and in the environment
# interface, ip, mask (prefix length), router, dns (space separated).
#
# It rewrites /etc/resolv.conf, which is only safe inside `ip netns exec NS`, where that
# path is the bind-mounted /etc/netns/NS/resolv.conf. Run elsewhere, it would replace
# this machine's own resolver configuration (that happened once), so it first checks it
# really is in the namespace named by VT_NETNS and refuses to do anything otherwise.
set -eu

here="$(ip netns identify 2>/dev/null || true)"
if [ -z "${VT_NETNS:-}" ] || [ "$here" != "$VT_NETNS" ]; then
  echo "udhcpc-script: refusing to run outside the test namespace (VT_NETNS='${VT_NETNS:-}', here='$here')" >&2
  exit 1
fi
# `ip netns exec` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf only when
# that file existed when it started: then both paths are the same file.
if [ ! /etc/resolv.conf -ef "/etc/netns/$VT_NETNS/resolv.conf" ]; then
  echo "udhcpc-script: /etc/resolv.conf is not /etc/netns/$VT_NETNS/resolv.conf; refusing to write it" >&2
  exit 1
fi

case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "${router:-}" ]; then
      # only the first router: a second default route would fail
      set -- $router
      ip route replace default via "$1" dev "$interface"
    fi
    {
      echo "# written by udhcpc-script.sh in $VT_NETNS"
      for server in ${dns:-}; do echo "nameserver $server"; done
    } > /etc/resolv.conf
    ;;
  leasefail|nak)
    ;;
esac
exit 0

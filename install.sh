#!/usr/bin/env bash
# Installs vnat on this host (Debian 12), idempotently:
#   sudo ./install.sh                  install (or update) vnat
#   sudo ./install.sh --demo           install, then run the demo (vnat demo)
#   sudo ./install.sh --demo --cleanup remove the demo; uninstall vnat too if the demo installed it
#   sudo ./install.sh --uninstall      remove exactly what install.sh added (see MANIFEST)
# Options: --no-apt (install no Debian packages), --remove-packages (with --uninstall: also
# remove the Debian packages install.sh installed), --force (uninstall although vnat
# networks are active). NODE=/path/to/node picks the Node.js to use (>= 20.10).
#
# Safe on a working hypervisor: it never touches /etc/libvirt/hooks/network or other hooks
# (vnat's hook is its own file in network.d), never restarts a running libvirt daemon
# (a SIGHUP, only when the hook is new), and writes the config only when there is none.
set -euo pipefail

PREFIX=/usr/local/lib/vnat
BIN=/usr/local/bin/vnat
HOOK_DIR=/etc/libvirt/hooks/network.d
HOOK=$HOOK_DIR/vnat
CONFIG=/etc/vnat/config.json
MANIFEST=$PREFIX/MANIFEST
HOOK_MARK="# vnat network hook, installed by vnat's install.sh"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# the runtime package list is shared with .ci/run
mapfile -t PACKAGES < <(grep -Ev '^(#|$)' "$SRC/scripts/debian-packages.txt")
# the demo's guests and the test suite use a few more (busybox, virt-install, iperf3)
mapfile -t DEMO_PACKAGES < <(grep -Ev '^(#|$)' "$SRC/scripts/debian-packages-test.txt")

say() { printf 'vnat install: %s\n' "$*"; }
die() { printf 'vnat install: %s\n' "$*" >&2; exit 1; }

mode=install demo=0 cleanup=0 apt=1 remove_pkgs=0 force=0
for arg in "$@"; do
  case "$arg" in
    --uninstall) mode=uninstall ;;
    --demo) demo=1 ;;
    --cleanup) cleanup=1 ;;
    --no-apt) apt=0 ;;
    --remove-packages) remove_pkgs=1 ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown option $arg (see --help)" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 $*)"

# --- the manifest: what this script added, so --uninstall removes exactly that ---------
declare -a added=()
note() { added+=("$*"); }
manifest_has() { [ -f "$MANIFEST" ] && grep -qxF -- "$*" "$MANIFEST"; }
write_manifest() {
  # entries of earlier runs (packages, directories, the config) stay: they were added then
  local old=()
  [ -f "$MANIFEST" ] && mapfile -t old < <(grep -E '^(pkg|dir|config|installed-by) ' "$MANIFEST" || true)
  { echo "# files and packages vnat's install.sh added; read by install.sh --uninstall"
    printf '%s\n' "${old[@]}" "${added[@]}" | { grep -v '^$' || true; } | LC_ALL=C sort -u; } > "$MANIFEST.tmp"
  mv "$MANIFEST.tmp" "$MANIFEST"
}

mkdir_noted() { # creates a directory (and its parents) and notes each one it created
  local d=$1 missing=()
  while [ ! -d "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for d in "${missing[@]}"; do mkdir -m 0755 "$d"; note "dir $d"; done
}

daemon_pids() { pgrep -x libvirtd || true; pgrep -x virtnetworkd || true; }

find_node() {
  local node=${NODE:-$(command -v node || true)}
  if [ -z "$node" ] || ! "$node" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=10)?0:1)' 2>/dev/null; then
    cat >&2 <<EOF
vnat install: vnat needs Node.js >= 20.10; found: ${node:-none}${node:+ ($("$node" --version 2>/dev/null))}.
  Debian 12's own nodejs package is 18.x, too old. Install Node 20 (or newer), then run this again:
    - from NodeSource's Debian repository (nodejs 20.x), or
    - with nvm: nvm install 20, then: sudo NODE=\$(command -v node) $0 $*
EOF
    exit 3
  fi
  readlink -f "$node"
}

# --- uninstall --------------------------------------------------------------------------
uninstall() {
  [ -f "$MANIFEST" ] || { say "nothing to remove: $MANIFEST not found"; return 0; }
  if [ -x "$BIN" ] && [ "$force" -eq 0 ]; then
    local active
    active=$("$BIN" net list --json 2>/dev/null | grep -c '"state": "active"' || true)
    [ "${active:-0}" -eq 0 ] || die "$active vnat network(s) are active: stop them first (virsh net-destroy NAME), or use --force"
  fi
  local kind path sum pkgs=()
  # 1. the hook first, only if it is still vnat's (libvirt stops calling it)
  if [ -f "$HOOK" ] && grep -qF "$HOOK_MARK" "$HOOK"; then rm -f "$HOOK"; say "removed $HOOK"; fi
  # 2. files, then the config if the user never changed it, then directories deepest first
  while read -r kind path sum; do
    case "$kind" in
      file) [ "$path" = "$HOOK" ] || rm -f "$path" ;;
      config)
        if [ -f "$path" ] && [ "$(sha256sum < "$path" | cut -d' ' -f1)" = "$sum" ]; then rm -f "$path"
        elif [ -f "$path" ]; then say "kept $path: it was changed since install (remove it yourself if unwanted)"; fi ;;
      pkg) pkgs+=("$path") ;;
    esac
  done < "$MANIFEST"
  local dirs
  dirs=$(awk '$1=="dir"{print $2}' "$MANIFEST" | sort -r)
  rm -rf "$PREFIX"
  for path in $dirs; do [ "$path" = "$PREFIX" ] || rmdir "$path" 2>/dev/null || true; done
  for pid in $(daemon_pids); do kill -HUP "$pid"; done
  say "removed vnat"
  if [ ${#pkgs[@]} -gt 0 ]; then
    if [ "$remove_pkgs" -eq 1 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get remove -y "${pkgs[@]}"
    else
      say "Debian packages install.sh installed (kept): ${pkgs[*]} (apt-get remove them, or rerun with --remove-packages)"
    fi
  fi
}

# --- install ----------------------------------------------------------------------------
install_packages() {
  local want=("${PACKAGES[@]}") missing=() p
  [ "$demo" -eq 1 ] && want+=("${DEMO_PACKAGES[@]}")
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$apt" -eq 1 ] || die "missing Debian packages: ${missing[*]} (rerun without --no-apt, or install them)"
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  for p in "${missing[@]}"; do note "pkg $p"; done
}

build() {
  local node=$1 npm
  npm=$(dirname "$node")/npm
  [ -x "$npm" ] || npm=$(command -v npm) || die "npm not found next to $node"
  cd "$SRC"
  if [ ! -d node_modules ] || ! PATH="$(dirname "$node"):$PATH" "$npm" ls --depth=0 >/dev/null 2>&1; then
    say "npm ci"
    PATH="$(dirname "$node"):$PATH" "$npm" ci --no-audit --no-fund
  fi
  PATH="$(dirname "$node"):$PATH" "$npm" run -s build
}

put() { # put MODE SOURCE DEST: copy a file and note it
  install -m "$1" "$2" "$3.vnat-tmp" && mv "$3.vnat-tmp" "$3"
  note "file $3"
}

install_files() {
  local node=$1 f
  mkdir_noted "$PREFIX/dist"
  mkdir_noted "$PREFIX/xml-templates"
  mkdir_noted "$PREFIX/hooks"
  note "dir $PREFIX"
  # The build id keys every answer the shell hook remembers and names the resident agent's
  # socket: without it the hook asks Node for everything. It goes first and comes back last,
  # so no mix of old and new files ever accepts an answer the old code cached.
  rm -f "$PREFIX/dist/build-id"
  for f in cli.js hook.js http-echo-server.mjs udhcpc-script.sh; do put 0755 "$SRC/dist/$f" "$PREFIX/dist/$f"; done
  # the shell wrapper decides no-op events (most guest-port events, networks without vnat
  # metadata) in ~5 ms without starting Node (~100 ms); it finds ../dist/hook.js itself
  put 0755 "$SRC/hooks/network" "$PREFIX/hooks/network"
  put 0644 "$SRC/xml-templates/vnat-network.xml" "$PREFIX/xml-templates/vnat-network.xml"
  put 0644 "$SRC/dist/build-id" "$PREFIX/dist/build-id"
  printf '{ "type": "module", "private": true }\n' > "$PREFIX/package.json"; note "file $PREFIX/package.json"
  # node by absolute path: libvirt runs hooks with a bare PATH, and sudo resets it
  printf '#!/bin/sh\nexec %s %s/dist/cli.js "$@"\n' "$node" "$PREFIX" > "$BIN.vnat-tmp"
  chmod 0755 "$BIN.vnat-tmp"; mv "$BIN.vnat-tmp" "$BIN"; note "file $BIN"

  if [ ! -f "$CONFIG" ]; then
    mkdir_noted "$(dirname "$CONFIG")"
    printf '{\n  "providers": []\n}\n' > "$CONFIG"
    note "config $CONFIG $(sha256sum < "$CONFIG" | cut -d' ' -f1)"
    say "wrote $CONFIG (add providers with: vnat provider add)"
  fi
}

# True when the daemon runs vnat's hook: a transient network whose vnat metadata the hook
# refuses at `start begin` fails to start with vnat's message (and leaves nothing).
hook_seen() {
  local name="vnat-hookprobe-$$" xml out
  xml=$(mktemp)
  printf '<network><name>%s</name><bridge name="vhp-%s"/><metadata><vnat:network xmlns:vnat="urn:vnat:network:1"><vnat:lan address="hook-probe"/></vnat:network></metadata></network>\n' "$name" "$$" > "$xml"
  if out=$(virsh -q -c qemu:///system net-create "$xml" 2>&1); then
    virsh -q -c qemu:///system net-destroy "$name" >/dev/null 2>&1 || true
    out=""
  fi
  rm -f "$xml"
  case $out in *vnat:*) return 0 ;; *) return 1 ;; esac
}

# The daemon looks for hooks at start and on SIGHUP; a SIGHUP that arrives while a reload
# still runs is dropped, so reload until the hook is really seen.
reload_until_hook_seen() {
  local i pid
  for i in $(seq 1 20); do
    for pid in $(daemon_pids); do kill -HUP "$pid"; done
    sleep 1
    if hook_seen; then say "libvirt daemon reloaded (SIGHUP): it runs the hook"; return 0; fi
  done
  say "warning: the libvirt daemon does not run $HOOK yet (restart it)"
}

install_hook() {
  local node=$1 new=0 tmp
  mkdir_noted "$HOOK_DIR"
  # the temp file lives beside network.d, not in it: libvirt runs every executable there
  tmp=$(mktemp "$(dirname "$HOOK_DIR")/.vnat-hook.XXXXXX")
  printf '#!/bin/sh\n%s (remove with install.sh --uninstall)\nVNAT_NODE=%s exec %s/hooks/network "$@"\n' "$HOOK_MARK" "$node" "$PREFIX" > "$tmp"
  chmod 0755 "$tmp"
  if [ -f "$HOOK" ] && cmp -s "$tmp" "$HOOK"; then rm -f "$tmp"; else
    [ -f "$HOOK" ] || new=1
    mv "$tmp" "$HOOK"; say "installed $HOOK"
  fi
  note "file $HOOK"
  # 1. virtlogd first: libvirt needs it to start guests; 2. the daemon looks for hooks when it
  #    starts or reloads, so a new hook needs a SIGHUP; a changed one is read at each call.
  if [ -z "$(pgrep -x virtlogd || true)" ] && [ ! -d /run/systemd/system ]; then virtlogd -d; say "started virtlogd"; fi
  local pids; pids=$(daemon_pids)
  if [ -n "$pids" ]; then
    if [ "$new" -eq 1 ]; then reload_until_hook_seen; fi
  elif [ -d /run/systemd/system ]; then
    systemctl start libvirtd.service 2>/dev/null || systemctl start virtnetworkd.service
  else
    libvirtd -d; say "started libvirtd (no init system manages it here)"
  fi
  local i
  for i in $(seq 1 40); do virsh -q -c qemu:///system version >/dev/null 2>&1 && return 0; sleep 0.5; done
  say "warning: libvirtd does not answer on qemu:///system yet"
}

run_demo() {
  [ -x "$BIN" ] || die "vnat is not installed"
  if [ "$cleanup" -eq 1 ]; then
    "$BIN" demo --cleanup
    if manifest_has "installed-by demo"; then remove_pkgs=1; uninstall; fi
  else
    "$BIN" demo
  fi
}

if [ "$mode" = uninstall ]; then uninstall; exit 0; fi
if [ "$demo" -eq 1 ] && [ "$cleanup" -eq 1 ]; then run_demo; exit 0; fi

first_install=0; [ -f "$MANIFEST" ] || first_install=1
# whatever happens below, what was added so far is recorded for --uninstall
trap '[ ${#added[@]} -eq 0 ] || { mkdir -p "$PREFIX"; write_manifest; }' EXIT
install_packages
NODE_BIN=$(find_node)
build "$NODE_BIN"
install_files "$NODE_BIN"
install_hook "$NODE_BIN"
if [ "$demo" -eq 1 ] && [ "$first_install" -eq 1 ]; then note "installed-by demo"; fi
say "vnat installed: $BIN, hook $HOOK, config $CONFIG"
if [ "$demo" -eq 1 ]; then write_manifest; run_demo; fi
exit 0

#!/usr/bin/env bash
# Installs vnat on this host (Debian 12), idempotently:
#   sudo ./install.sh                  install (or update) vnat
#   sudo ./install.sh --demo           install, then run the demo (vnat demo)
#   sudo ./install.sh --demo --cleanup remove the demo; uninstall vnat too if the demo installed it
#   sudo ./install.sh --uninstall      remove exactly what install.sh added (see MANIFEST)
# Options: --no-apt (install no Debian packages), --remove-packages (with --uninstall: also
# remove the Debian packages install.sh installed), --force (uninstall although vnat
# networks are active). NODE=/path/to/node picks the Node.js to use (>= 20.10).
# Where it installs (the same options again for --uninstall of such an installation):
#   --prefix DIR          vnat's files and MANIFEST (default /usr/local/lib/vnat)
#   --bin-dir DIR         the vnat command (default /usr/local/bin)
#   --hook-dir DIR        the hook (default libvirt's /etc/libvirt/hooks/network.d; in any
#                         other directory the libvirt daemon is neither started nor told)
#   --config FILE         the config file (default /etc/vnat/config.json; another one is
#                         given to the command and the hook as VNAT_CONFIG)
#   --completion-dir DIR  bash completion (default /usr/share/bash-completion/completions)
#   --man-dir DIR         the man page goes to DIR/man1/vnat.1 (default /usr/local/share/man)
#   --logrotate-dir DIR   logrotate's rules for /var/log/vnat (default /etc/logrotate.d)
#
# Safe on a working hypervisor: it never touches /etc/libvirt/hooks/network or other hooks
# (vnat's hook is its own file in network.d, and another installation's vnat hook is never
# replaced), never restarts a running libvirt daemon (a SIGHUP, only when the hook is new),
# and writes the config only when there is none.
set -euo pipefail

LIBVIRT_HOOK_DIR=/etc/libvirt/hooks/network.d
DEFAULT_PREFIX=/usr/local/lib/vnat
DEFAULT_CONFIG=/etc/vnat/config.json
PREFIX=$DEFAULT_PREFIX
BIN_DIR=/usr/local/bin
HOOK_DIR=$LIBVIRT_HOOK_DIR
CONFIG=$DEFAULT_CONFIG
COMPLETION_DIR=/usr/share/bash-completion/completions
MAN_DIR=/usr/local/share/man
LOGROTATE_DIR=/etc/logrotate.d
HOOK_MARK="# vnat network hook, installed by vnat's install.sh"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# the runtime package list is shared with .ci/run
mapfile -t PACKAGES < <(grep -Ev '^(#|$)' "$SRC/scripts/debian-packages.txt")
# the demo's guests and the test suite use a few more (busybox, virt-install, iperf3)
mapfile -t DEMO_PACKAGES < <(grep -Ev '^(#|$)' "$SRC/scripts/debian-packages-test.txt")

say() { printf 'vnat install: %s\n' "$*"; }
die() { printf 'vnat install: %s\n' "$*" >&2; exit 1; }

mode=install demo=0 cleanup=0 apt=1 remove_pkgs=0 force=0
args=("$@")
while [ $# -gt 0 ]; do
  arg=$1 value= takes=0
  case "$arg" in
    --prefix=*|--bin-dir=*|--hook-dir=*|--config=*|--completion-dir=*|--man-dir=*|--logrotate-dir=*) value=${arg#*=} arg=${arg%%=*} takes=1 ;;
    --prefix|--bin-dir|--hook-dir|--config|--completion-dir|--man-dir|--logrotate-dir)
      [ $# -ge 2 ] || die "$arg needs a value (see --help)"
      value=$2 takes=1; shift ;;
  esac
  if [ "$takes" -eq 1 ]; then
    # paths go into shell scripts (the command, the hook): plain absolute paths only
    case "$value" in /?*) ;; *) die "$arg: an absolute path, not '$value'" ;; esac
    case "$value" in *[!A-Za-z0-9._/+-]*|*/../*|*/..) die "$arg: '$value' has characters install.sh does not put in scripts" ;; esac
    value=${value%/}
  fi
  case "$arg" in
    --uninstall) mode=uninstall ;;
    --demo) demo=1 ;;
    --cleanup) cleanup=1 ;;
    --no-apt) apt=0 ;;
    --remove-packages) remove_pkgs=1 ;;
    --force) force=1 ;;
    --prefix) PREFIX=$value ;;
    --bin-dir) BIN_DIR=$value ;;
    --hook-dir) HOOK_DIR=$value ;;
    --config) CONFIG=$value ;;
    --completion-dir) COMPLETION_DIR=$value ;;
    --man-dir) MAN_DIR=$value ;;
    --logrotate-dir) LOGROTATE_DIR=$value ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
    *) die "unknown option $arg (see --help)" ;;
  esac
  shift
done
set -- "${args[@]}"
BIN=$BIN_DIR/vnat
HOOK=$HOOK_DIR/vnat
MANIFEST=$PREFIX/MANIFEST
COMPLETION=$COMPLETION_DIR/vnat
MANPAGE=$MAN_DIR/man1/vnat.1
LOGROTATE=$LOGROTATE_DIR/vnat
# the hook in libvirt's own directory is the one the daemon runs: only then is it told
libvirt_hook() { [ "$HOOK_DIR" = "$LIBVIRT_HOOK_DIR" ]; }
if [ "$demo" -eq 1 ] && ! libvirt_hook; then die "--demo needs the hook in $LIBVIRT_HOOK_DIR (no --hook-dir)"; fi
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
# A file that carries the hook mark is this installation's hook only if it runs this
# prefix's hooks/network: another installation's hook (another --prefix) is never removed.
our_hook() { grep -qF "$HOOK_MARK" "$1" && grep -qF " exec $PREFIX/hooks/network " "$1"; }

uninstall() {
  [ -f "$MANIFEST" ] || { say "nothing to remove: $MANIFEST not found"; return 0; }
  # active networks run this installation's hook only where the daemon runs it
  if [ -x "$BIN" ] && [ "$force" -eq 0 ] && libvirt_hook; then
    local active
    active=$("$BIN" net list --json 2>/dev/null | grep -c '"state": "active"' || true)
    [ "${active:-0}" -eq 0 ] || die "$active vnat network(s) are active: stop them first (virsh net-destroy NAME), or use --force"
  fi
  local kind path sum pkgs=() hup=0
  # 1. the hook first, only if it is still this installation's (libvirt stops calling it)
  while read -r kind path sum; do
    if [ "$kind" = file ] && [ -f "$path" ] && grep -qF "$HOOK_MARK" "$path"; then
      if our_hook "$path"; then
        rm -f "$path"; say "removed $path"
        [ "$(dirname "$path")" != "$LIBVIRT_HOOK_DIR" ] || hup=1
      else
        say "kept $path: it is another vnat installation's hook"
      fi
    fi
  done < "$MANIFEST"
  # 2. files, then the config if the user never changed it, then directories deepest first
  while read -r kind path sum; do
    case "$kind" in
      file) [ ! -f "$path" ] || grep -qF "$HOOK_MARK" "$path" || rm -f "$path" ;;
      config)
        if [ -f "$path" ] && [ "$(sha256sum < "$path" | cut -d' ' -f1)" = "$sum" ]; then rm -f "$path"
        elif [ -f "$path" ]; then say "kept $path: it was changed since install (remove it yourself if unwanted)"; fi ;;
      pkg) pkgs+=("$path") ;;
    esac
  done < "$MANIFEST"
  local dirs
  dirs=$(awk '$1=="dir"{print $2}' "$MANIFEST" | sort -r)
  # the prefix goes as a whole only where install.sh created it (never a --prefix that was there)
  if grep -qxF "dir $PREFIX" "$MANIFEST"; then rm -rf "$PREFIX"; else rm -f "$MANIFEST"; fi
  for path in $dirs; do [ "$path" = "$PREFIX" ] || rmdir "$path" 2>/dev/null || true; done
  if [ "$hup" -eq 1 ]; then for pid in $(daemon_pids); do kill -HUP "$pid"; done; fi
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

# `VNAT_CONFIG=VALUE ` for the command and the hook when the config is not the default one
config_env() { [ "$CONFIG" = "$DEFAULT_CONFIG" ] || printf 'VNAT_CONFIG=%s ' "$1"; }

put() { # put MODE SOURCE DEST: copy a file and note it
  install -m "$1" "$2" "$3.vnat-tmp" && mv "$3.vnat-tmp" "$3"
  note "file $3"
}

install_files() {
  local node=$1 f
  mkdir_noted "$PREFIX/dist"
  mkdir_noted "$PREFIX/xml-templates"
  mkdir_noted "$PREFIX/hooks"
  mkdir_noted "$BIN_DIR"
  # The build id keys every answer the shell hook remembers and names the resident agent's
  # socket: without it the hook asks Node for everything. It goes first and comes back last,
  # so no mix of old and new files ever accepts an answer the old code cached.
  rm -f "$PREFIX/dist/build-id"
  for f in cli.js hook.js exporter.js http-echo-server.mjs udhcpc-script.sh; do put 0755 "$SRC/dist/$f" "$PREFIX/dist/$f"; done
  # the shell wrapper decides no-op events (most guest-port events, networks without vnat
  # metadata) in ~5 ms without starting Node (~100 ms); it finds ../dist/hook.js itself
  put 0755 "$SRC/hooks/network" "$PREFIX/hooks/network"
  put 0644 "$SRC/xml-templates/vnat-network.xml" "$PREFIX/xml-templates/vnat-network.xml"
  # bash completion and the man page, both generated by the build from the CLI's commands
  mkdir_noted "$COMPLETION_DIR"
  put 0644 "$SRC/dist/vnat.bash" "$COMPLETION"
  mkdir_noted "$(dirname "$MANPAGE")"
  put 0644 "$SRC/dist/vnat.1" "$MANPAGE"
  # the hook's log grows with every event: logrotate keeps a month of it (copytruncate: the
  # resident agent holds the file open, see the file's comment)
  mkdir_noted "$LOGROTATE_DIR"
  put 0644 "$SRC/packaging/logrotate/vnat" "$LOGROTATE"
  put 0644 "$SRC/dist/build-id" "$PREFIX/dist/build-id"
  printf '{ "type": "module", "private": true }\n' > "$PREFIX/package.json"; note "file $PREFIX/package.json"
  # node by absolute path: libvirt runs hooks with a bare PATH, and sudo resets it. `vnat
  # exporter` (a long-running server: contrib/systemd/vnat-exporter.service) runs its own small
  # bundle, which loads none of the other commands (docs/metrics.md)
  local env
  env=$(config_env "\${VNAT_CONFIG:-$CONFIG}")
  printf '#!/bin/sh\nif [ "$1" = exporter ]; then shift; %sexec %s %s/dist/exporter.js "$@"; fi\n%sexec %s %s/dist/cli.js "$@"\n' \
    "$env" "$node" "$PREFIX" "$env" "$node" "$PREFIX" > "$BIN.vnat-tmp"
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
  printf '#!/bin/sh\n%s (remove with install.sh --uninstall)\n%sVNAT_NODE=%s exec %s/hooks/network "$@"\n' "$HOOK_MARK" "$(config_env "$CONFIG")" "$node" "$PREFIX" > "$tmp"
  chmod 0755 "$tmp"
  if [ -f "$HOOK" ] && cmp -s "$tmp" "$HOOK"; then rm -f "$tmp"; else
    # one vnat hook per daemon, or vnat would run twice per event: another installation's
    # hook stays; so does any other hook (vnat's tests' own) unless this is the default one
    if [ -f "$HOOK" ] && { { grep -qF "$HOOK_MARK" "$HOOK" && ! our_hook "$HOOK"; } ||
        { ! grep -qF "$HOOK_MARK" "$HOOK" && [ "$PREFIX" != "$DEFAULT_PREFIX" ]; }; }; then
      rm -f "$tmp"
      die "$HOOK is not this installation's hook (it runs $(grep -o ' exec [^ ]*' "$HOOK" | head -n1 | cut -c7-)): not replaced (uninstall that one, or choose another --hook-dir)"
    fi
    [ -f "$HOOK" ] || new=1
    mv "$tmp" "$HOOK"; say "installed $HOOK"
  fi
  note "file $HOOK"
  # only libvirt's own hook directory concerns the daemon
  libvirt_hook || { say "hook in $HOOK_DIR: not libvirt's hook directory, the libvirt daemon is left alone"; return 0; }
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
say "vnat installed: $BIN, hook $HOOK, config $CONFIG, man page $MANPAGE, bash completion $COMPLETION, log rotation $LOGROTATE"
if [ "$demo" -eq 1 ]; then write_manifest; run_demo; fi
exit 0

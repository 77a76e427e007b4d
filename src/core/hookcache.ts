// The shell hook's fast path (hooks/network). Starting Node costs ~60 ms, and libvirt
// waits for the hook at `start begin` and `started`, so a document vnat has already
// validated is recognised by the shell alone: after a successful validation vnat writes an
// entry named by the hash of (build id, hook data) that the shell can check with builtins.
//
// Each line is "KIND VALUE". The shell accepts only when every line holds; anything it
// does not understand, or any doubt at all, sends the event to Node, which gives the
// real answer (and the one-line error). An entry never makes vnat accept a document it
// would refuse: it only skips re-deriving an answer that depends on nothing but
//   - the hook data and the bundle (both in the hash),
//   - the config file (its hash, "config"),
//   - the host's routing table (/proc/net/fib_trie's hash, "fib"): the policy refuses the
//     host's own addresses, so an address the host gained since sends the event to Node,
//   - host facts the shell re-checks every time: the provider bridges exist ("bridge"),
//     the claims are free or this network's ("claim"), no other host answers for the
//     addresses ("dad": one ARP probe, exec/probe/dad.ts), and, when vnat holds no state for
//     the network, its kernel names are free ("netns", "link").
// A start after a failed one always goes to Node (NAME.begun, core/paths.ts), which removes
// the bridge libvirt kept.
//
// The kinds are listed once, in CACHE_KINDS; test/unit/hook-contract checks that the shell
// knows exactly these.
import { createHash } from "node:crypto";
import { formatIp } from "./ipv4.ts";
import type { NetSpec } from "./input/spec.ts";
import { claimedIps6 } from "./plan/start6.ts";
import { parseIp6 } from "./ipv6.ts";

/** sha256 hex, as sha256sum prints it */
export const HASH_RE = /^[0-9a-f]{64}$/;

/** The entry's file name: the network's name first, so vnat can drop a network's old entries. */
export function cacheEntryName(network: string, key: string): string {
  return `${network}.${key}`;
}

/** The network an entry's file name belongs to (NAME.HASH exactly: "a.b.HASH" is "a.b"'s), else undefined. */
export function cacheEntryNetwork(file: string): string | undefined {
  return file.at(-65) === "." && HASH_RE.test(file.slice(-64)) ? file.slice(0, -65) : undefined;
}

/** Every line kind an entry may hold; the shell treats any other as "ask Node". */
export const CACHE_KINDS = ["config", "fib", "bridge", "claim", "dad", "hostip", "netns", "link"] as const;

/** FIB_HASH: /proc/net/fib_trie's hash, taken before the document was validated against the host. */
export function renderCacheEntry(spec: NetSpec, configHash: string, fibHash: string): string {
  const bridge = spec.uplink.bridge;
  const claims = [spec.uplink.address.address, ...(spec.floating ?? []).map((f) => f.address)];
  const lines = [
    `config ${configHash}`,
    `fib ${fibHash}`,
    `bridge ${bridge}`,
    ...claims.map((ip) => `claim ${bridge}@${formatIp(ip)}`),
    // duplicate-address detection is a fact of the moment: the shell probes every time, and any answer goes to Node
    ...claims.map((ip) => `dad ${bridge} ${formatIp(ip)}`),
    // the IPv6 side's claims (issue 17); no "dad" line: the shell's probe is ARP (IPv6 addresses are added nodad, see core/plan/render6.ts)
    ...claimedIps6(spec).map((ip) => `claim ${bridge}@${ip}`),
    // the fib hash covers only IPv4: the host taking one of them since is looked up in /proc/net/if_inet6
    ...claimedIps6(spec).map((ip) => `hostip ${parseIp6(ip)!.toString(16).padStart(32, "0")}`),
    `netns ${spec.names.netns}`,
    `link ${spec.names.lanHost}`,
    `link ${spec.names.uplinkHost}`,
  ];
  return lines.join("\n") + "\n";
}

/**
 * The hook data libvirt 9.0 sends at `start begin` for a network whose definition is
 * NETWORK_XML (as `virsh net-dumpxml --inactive` prints it): the same document, indented
 * two spaces inside <hookData>. Measured byte for byte; where it differs, the shell's hash
 * simply finds no entry and Node answers, so a wrong guess costs time, never safety.
 */
export function startHookData(networkXml: string): string {
  const lines = networkXml.replace(/\n+$/, "").split("\n");
  return `<hookData>\n${lines.map((l) => `  ${l}`).join("\n")}\n</hookData>`;
}

/** The shell hook's key: sha256 of "BUILD_ID\nDATA\n", DATA without its trailing newlines (as $(…) strips them). */
export function hookCacheKey(buildId: string, data: string): string {
  return createHash("sha256")
    .update(`${buildId}\n${data.replace(/\n+$/, "")}\n`)
    .digest("hex");
}

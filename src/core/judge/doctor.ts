// `vnat doctor`'s verdicts: each check is one line with a status and, when it is not
// ok, what to do about it. The facts come from exec/doctor-*.ts; judging them is pure.

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  id: string;
  status: CheckStatus;
  message: string;
  fix?: string;
}

export const ok = (id: string, message: string): Check => ({ id, status: "ok", message });
export const warn = (id: string, message: string, fix: string): Check => ({ id, status: "warn", message, fix });
export const fail = (id: string, message: string, fix: string): Check => ({ id, status: "fail", message, fix });

/** The first dotted version number in a tool's banner ("ip utility, iproute2-6.1.0" → [6,1,0]). */
export function parseVersion(text: string): number[] | undefined {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  // iputils numbers its releases by date: "arping from iputils 20221126"
  const date = /\b(\d{8})\b/.exec(text);
  return date ? [Number(date[1])] : undefined;
}

export function atLeast(version: number[], min: number[]): boolean {
  for (let i = 0; i < Math.max(version.length, min.length); i++) {
    const a = version[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

export interface ToolSpec {
  cmd: string;
  what: string;
  min: number[];
  required: boolean;
  pkg: string;
}

/** Versions vnat relies on: ip -j with -batch and `netns exec` in batch mode, nft named counters, dnsmasq --dhcp-hostsfile. */
export const TOOLS: ToolSpec[] = [
  { cmd: "ip", what: "iproute2", min: [5, 0], required: true, pkg: "iproute2" },
  { cmd: "nft", what: "nftables", min: [0, 9, 3], required: true, pkg: "nftables" },
  { cmd: "dnsmasq", what: "dnsmasq", min: [2, 80], required: true, pkg: "dnsmasq-base" },
  { cmd: "virsh", what: "libvirt client", min: [6, 5], required: true, pkg: "libvirt-clients" },
  { cmd: "arping", what: "iputils arping", min: [0], required: false, pkg: "iputils-arping" },
];

export function judgeTool(t: ToolSpec, banner: string | undefined): Check {
  const id = `tool-${t.cmd}`;
  if (banner === undefined) {
    const fix = `apt-get install ${t.pkg}`;
    return t.required
      ? fail(id, `${t.cmd}: not found`, fix)
      : warn(id, `${t.cmd}: not found (needed for uplink announcements and duplicate-address probes)`, fix);
  }
  const v = parseVersion(banner);
  if (!v) return warn(id, `${t.cmd}: version unknown (${banner.slice(0, 60)})`, `check that ${t.what} works`);
  if (!atLeast(v, t.min))
    return fail(id, `${t.cmd}: ${t.what} ${v.join(".")} is older than ${t.min.join(".")}`, `upgrade ${t.pkg}`);
  return ok(id, `${t.cmd}: ${t.what} ${v.join(".")}`);
}

export const MIN_LIBVIRT = [6, 5, 0];

/** REACH_ERROR: why virsh could not talk to the daemon; BANNER: the daemon binary's --version. */
export function judgeLibvirt(banner: string | undefined, reachError?: string): Check {
  if (reachError !== undefined)
    return fail(
      "libvirt",
      `libvirt daemon: not reachable (${reachError})`,
      "start libvirtd (or virtnetworkd), e.g. systemctl start libvirtd, or libvirtd -d",
    );
  const v = banner === undefined ? undefined : parseVersion(banner);
  if (!v) return warn("libvirt", "libvirt daemon: reachable, version unknown", "check libvirtd --version");
  if (!atLeast(v, MIN_LIBVIRT))
    return fail("libvirt", `libvirt ${v.join(".")}: network.d hooks need libvirt 6.5 or newer`, "upgrade libvirt");
  return ok("libvirt", `libvirt daemon ${v.join(".")} (network.d hooks supported)`);
}

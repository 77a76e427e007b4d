// libvirt through virsh, with argument arrays. Used by the CLI only: a hook must never
// call back into libvirt (deadlock). Many queries go through ONE virsh process reading
// commands on stdin, separated by `echo` markers (51 spawns: 1.4 s; one process: 92 ms).
import { execa } from "execa";
import { oneLine, VnatError } from "../core/errors.ts";

export const LIBVIRT_URI = process.env.VNAT_LIBVIRT_URI ?? "qemu:///system";
// not "--…": virsh's echo would take it for an option and print nothing
const MARK = "vnat-split-7f3a";

export interface NetListEntry {
  name: string;
  active: boolean;
  autostart: boolean;
  persistent: boolean;
}

export async function virsh(args: string[], input?: string): Promise<string> {
  const r = await execa("virsh", ["-q", "-c", LIBVIRT_URI, ...args], { reject: false, input, env: { LC_ALL: "C" } });
  if (r.exitCode !== 0) {
    const msg = oneLine(String(r.stderr).replace(/^error:\s*/gm, "")) || `exit ${r.exitCode}`;
    throw new VnatError("apply-failed", `virsh ${args[0]}: ${msg}`);
  }
  return String(r.stdout);
}

/** Quotes one argument for virsh's own command parser (used only on stdin batches). */
export function virshQuote(arg: string): string {
  if (/[\n\r\0]/.test(arg)) throw new VnatError("invalid-input", `virsh argument contains a line break`);
  return `'${arg.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * Runs many virsh commands in one process; returns each command's stdout (trimmed). The
 * commands go in ONE argument joined by ";" (virsh's non-interactive mode): on stdin,
 * virsh is interactive and echoes a welcome text, prompts and each command into stdout.
 */
export async function virshBatch(commands: string[][]): Promise<string[]> {
  if (commands.length === 0) return [];
  const script = commands.map((c) => c.map(virshQuote).join(" ")).join(` ; echo ${MARK} ; `);
  const r = await execa("virsh", ["-q", "-c", LIBVIRT_URI, script], { reject: false, env: { LC_ALL: "C" } });
  const parts = String(r.stdout).split(MARK);
  // virsh goes on after a failing command; a missing part means it stopped early
  if (parts.length < commands.length && r.exitCode !== 0)
    throw new VnatError("apply-failed", `virsh batch: ${oneLine(String(r.stderr)) || `exit ${r.exitCode}`}`);
  return parts.slice(0, commands.length).map((p) => (p.trim() ? p.trim() + "\n" : ""));
}

export async function listNetworks(): Promise<NetListEntry[]> {
  const out = await virsh(["net-list", "--all"]);
  const nets: NetListEntry[] = [];
  for (const line of out.split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4 || !cols[0]) continue;
    const [name, state, autostart, persistent] = cols;
    nets.push({ name, active: state === "active", autostart: autostart === "yes", persistent: persistent === "yes" });
  }
  return nets;
}

/** Live (or, with inactive, persistent) XML of many networks through one virsh process. */
export async function dumpNetworks(names: string[], inactive = false): Promise<Map<string, string>> {
  const outs = await virshBatch(names.map((n) => (inactive ? ["net-dumpxml", "--inactive", n] : ["net-dumpxml", n])));
  const map = new Map<string, string>();
  names.forEach((n, i) => {
    const xml = outs[i] ?? "";
    if (xml.includes("<network")) map.set(n, xml);
  });
  return map;
}

export async function defineNetwork(xml: string): Promise<void> {
  const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
  const dir = await mkdtemp("/tmp/vnat-def-");
  try {
    await writeFile(`${dir}/net.xml`, xml, { mode: 0o600 });
    await virsh(["net-define", `${dir}/net.xml`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `virsh net-start`: it returns when vnat's hook has built the namespace. */
export const startNetwork = (name: string): Promise<string> => virsh(["net-start", name]);
/** `virsh net-destroy`: it returns when vnat's hook has removed the namespace. */
export const destroyNetwork = (name: string): Promise<string> => virsh(["net-destroy", name]);
export const undefineNetwork = (name: string): Promise<string> => virsh(["net-undefine", name]);
export const setAutostart = (name: string, on: boolean): Promise<string> =>
  virsh(on ? ["net-autostart", name] : ["net-autostart", "--disable", name]);

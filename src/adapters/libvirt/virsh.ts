// libvirt through virsh, with argument arrays. Used by the CLI only: a hook must never
// call back into libvirt (deadlock). Many queries go through ONE virsh process running
// commands joined by ";", separated by `echo` markers (51 spawns: 1.4 s; one process: 92 ms).
//
// Network names are hostile input: libvirt forbids only "/" and a line feed in them. vnat's
// views of libvirt therefore list networks by UUID and read each name from its XML; an
// argument that still goes into a command string is quoted by virsh's own grammar
// (virshQuote), and a name goes after "--", so "--all" is a name, not an option.
//
// virsh runs through a Runner (exec/run.ts), which never throws: here a failed virsh
// becomes one VnatError line. libvirtOver(runner, uri) is the adapter over any runner (unit
// tests fake virsh with it); the functions exported below are it over the real processes
// and the URI the CLI was given (connectLibvirt; core/input/libvirt-uri.ts says which).
import { randomBytes } from "node:crypto";
import { oneLine, VnatError } from "../../core/errors.ts";
import { libvirtUri, type UriSources } from "../../core/input/libvirt-uri.ts";
import { processRunner, type Runner } from "../../exec/run.ts";

export interface NetListEntry {
  name: string;
  uuid: string;
  active: boolean;
  autostart: boolean;
  persistent: boolean;
}

/** One libvirt network with its XML (see dumpAllNetworks for which XML). */
export interface NetworkDump extends NetListEntry {
  xml: string;
  /** with persistentToo: the persistent definition of an active persistent network */
  persistentXml?: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The libvirt URI vnat talks to, from the CLI's -c/--connect and the environment (core/input/libvirt-uri.ts). */
let connect: string | undefined;
let resolvedUri: string | undefined;

/** Sets the URI given with -c/--connect (undefined: the environment's); refuses one vnat cannot use. */
export function connectLibvirt(uri: string | undefined): void {
  connect = uri;
  resolvedUri = undefined;
  if (uri !== undefined) currentUri();
}

/** The URI virsh is run with; refuses (one line) a URI vnat cannot work with. */
export function currentUri(): string {
  const sources: UriSources = {
    connect,
    vnatEnv: process.env.VNAT_LIBVIRT_URI,
    defaultEnv: process.env.LIBVIRT_DEFAULT_URI,
  };
  return (resolvedUri ??= libvirtUri(sources));
}

/**
 * Quotes one argument for virsh's own command-string tokenizer (libvirt tools/vsh.c,
 * vshCommandStringGetArg): between single quotes every character is literal up to the next
 * single quote, a backslash included; outside quotes a backslash takes the next character
 * literally. So the argument goes in single quotes, and each ' in it is written '\''
 * (close the quotes, an escaped quote, open them again). A line feed would end the command
 * (libvirt refuses it in names anyway), a NUL ends the string: both are refused.
 */
export function virshQuote(arg: string): string {
  if (/[\n\0]/.test(arg)) throw new VnatError("invalid-input", `virsh argument contains a line feed or a NUL`);
  return `'${arg.replace(/'/g, "'\\''")}'`;
}

function decodeXmlText(s: string): string {
  return s.replace(/&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(lt|gt|amp|apos|quot));/g, (_m, hex, dec, named) => {
    if (hex !== undefined) return String.fromCodePoint(Number.parseInt(hex as string, 16));
    if (dec !== undefined) return String.fromCodePoint(Number.parseInt(dec as string, 10));
    return { lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' }[named as "lt"];
  });
}

/** The exact name and UUID in libvirt's XML of a network (libvirt writes <name> then <uuid> first). */
export function xmlIdentity(xml: string): { name: string; uuid: string } | undefined {
  const m = /^\s*<network\b[^>]*>\s*<name>([^<]*)<\/name>\s*<uuid>([^<]*)<\/uuid>/.exec(xml);
  return m ? { name: decodeXmlText(m[1]!), uuid: m[2]!.trim().toLowerCase() } : undefined;
}

interface IdList {
  all: string[];
  active: Set<string>;
  persistent: Set<string>;
  autostart: Set<string>;
}

/** vnat's operations on libvirt, over one Runner and URI (lazy: resolved at the first virsh call). */
export interface Libvirt {
  virsh(args: string[], input?: string): Promise<string>;
  virshBatch(commands: string[][]): Promise<string[]>;
  dumpAllNetworks(o?: { inactive?: boolean; persistentToo?: boolean }): Promise<NetworkDump[]>;
  listNetworks(): Promise<NetListEntry[]>;
  dumpNetworks(names: string[], inactive?: boolean): Promise<Map<string, string>>;
  defineNetwork(xml: string): Promise<void>;
  startNetwork(name: string): Promise<string>;
  destroyNetwork(name: string): Promise<string>;
  undefineNetwork(name: string): Promise<string>;
  setAutostart(name: string, on: boolean): Promise<string>;
}

export function libvirtOver(runner: Runner, uri: () => string): Libvirt {
  /** One virsh command; a failure (or a virsh that cannot start) is one VnatError line. */
  async function virsh(args: string[], input?: string): Promise<string> {
    const r = await runner.run("virsh", ["-q", "-c", uri(), ...args], input === undefined ? {} : { input });
    if (r.exitCode !== 0) {
      const msg = oneLine(r.stderr.trim().replace(/^error:\s*/gm, "")) || `exit ${r.exitCode}`;
      throw new VnatError("apply-failed", `virsh ${args[0]}: ${msg}`);
    }
    return r.stdout.replace(/\n$/, "");
  }

  /**
   * Runs many virsh commands in one process; returns each command's stdout (trimmed; "" when
   * it failed: its error is on stderr). The commands go in ONE argument joined by ";"
   * (virsh's non-interactive mode): on stdin, virsh is interactive and echoes a welcome
   * text, prompts and each command into stdout. The marker between outputs is random, so no
   * XML can contain it, and exactly one output per command is required: a command string
   * that virsh read differently than it was meant (or a virsh that stopped early) is an
   * error, never a shorter answer.
   */
  async function batch(commands: string[][]): Promise<{ outs: string[]; stderr: string }> {
    if (commands.length === 0) return { outs: [], stderr: "" };
    // not "--…": virsh's echo would take it for an option and print nothing
    const mark = `vnat-split-${randomBytes(12).toString("hex")}`;
    const script = commands.map((c) => c.map(virshQuote).join(" ")).join(` ; echo ${mark} ; `);
    const r = await runner.run("virsh", ["-q", "-c", uri(), script]);
    const parts = r.stdout.split(mark);
    const stderr = r.stderr.trim();
    if (parts.length !== commands.length)
      throw new VnatError(
        "apply-failed",
        `virsh batch: ${parts.length} output(s) for ${commands.length} command(s): ${oneLine(stderr) || `exit ${r.exitCode}`}`,
      );
    return { outs: parts.map((p) => (p.trim() ? p.trim() + "\n" : "")), stderr };
  }

  /** Every network's UUID and state, from one virsh process (a UUID is always safe to pass on). */
  async function listIds(): Promise<IdList> {
    const { outs, stderr } = await batch([
      ["net-list", "--all", "--uuid"],
      ["net-list", "--uuid"],
      ["net-list", "--all", "--persistent", "--uuid"],
      ["net-list", "--all", "--autostart", "--uuid"],
    ]);
    // an empty list is a valid answer, so a failed listing must be told by its error
    if (/^error:/m.test(stderr)) throw new VnatError("apply-failed", `virsh net-list: ${oneLine(stderr)}`);
    const ids = outs.map((o) => {
      const lines = o.split("\n").filter((l) => l.trim());
      const bad = lines.find((l) => !UUID_RE.test(l.trim()));
      if (bad !== undefined)
        throw new VnatError("apply-failed", `virsh net-list --uuid: unexpected line "${oneLine(bad)}"`);
      return lines.map((l) => l.trim());
    });
    return { all: ids[0]!, active: new Set(ids[1]), persistent: new Set(ids[2]), autostart: new Set(ids[3]) };
  }

  /**
   * Every libvirt network with its XML through two virsh processes (the list, then all the
   * dumps), each referred to by UUID. xml: the live XML of an active network, else its
   * definition; with inactive, the persistent definition where there is one. persistentToo:
   * also the persistent XML of an active persistent network. A dump that gives no XML is an
   * error unless the network is gone from a second listing (undefined meanwhile): a network
   * is never reported missing or stopped because virsh did not answer for it.
   */
  async function dumpAllNetworks(o: { inactive?: boolean; persistentToo?: boolean } = {}): Promise<NetworkDump[]> {
    const ids = await listIds();
    const commands: string[][] = [];
    const plan = ids.all.map((uuid) => {
      const active = ids.active.has(uuid);
      const persistent = ids.persistent.has(uuid);
      const at = commands.push(o.inactive ? ["net-dumpxml", "--inactive", uuid] : ["net-dumpxml", uuid]) - 1;
      const both = o.persistentToo === true && active && persistent;
      const pat = both ? commands.push(["net-dumpxml", "--inactive", uuid]) - 1 : undefined;
      return { uuid, active, persistent, autostart: ids.autostart.has(uuid), at, pat };
    });
    const { outs, stderr } = await batch(commands);
    const failed = plan.filter(
      (p) => !outs[p.at]!.includes("<network") || (p.pat !== undefined && !outs[p.pat]!.includes("<network")),
    );
    let gone = new Set<string>();
    if (failed.length) {
      const now = new Set((await listIds()).all);
      const still = failed.find((p) => now.has(p.uuid));
      if (still)
        throw new VnatError(
          "apply-failed",
          `virsh net-dumpxml ${still.uuid}: no XML: ${oneLine(stderr) || "empty output"}`,
        );
      gone = new Set(failed.map((p) => p.uuid));
    }
    const nets: NetworkDump[] = [];
    for (const p of plan) {
      if (gone.has(p.uuid)) continue;
      const xml = outs[p.at]!;
      const id = xmlIdentity(xml);
      if (!id || id.uuid !== p.uuid)
        throw new VnatError("apply-failed", `virsh net-dumpxml ${p.uuid}: the XML does not name network ${p.uuid}`);
      nets.push({
        name: id.name,
        uuid: p.uuid,
        active: p.active,
        autostart: p.autostart,
        persistent: p.persistent,
        xml,
        ...(p.pat !== undefined ? { persistentXml: outs[p.pat]! } : {}),
      });
    }
    return nets;
  }

  async function listNetworks(): Promise<NetListEntry[]> {
    return (await dumpAllNetworks()).map(({ name, uuid, active, autostart, persistent }) => ({
      name,
      uuid,
      active,
      autostart,
      persistent,
    }));
  }

  /** Live (or, with inactive, persistent) XML of the named networks (looked up by UUID, see dumpAllNetworks). */
  async function dumpNetworks(names: string[], inactive = false): Promise<Map<string, string>> {
    const wanted = new Set(names);
    const map = new Map<string, string>();
    for (const n of await dumpAllNetworks({ inactive })) if (wanted.has(n.name)) map.set(n.name, n.xml);
    return map;
  }

  async function defineNetwork(xml: string): Promise<void> {
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const dir = await mkdtemp("/tmp/vnat-def-");
    try {
      await writeFile(`${dir}/net.xml`, xml, { mode: 0o600 });
      await virsh(["net-define", `${dir}/net.xml`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * What to hand virsh for network NAME: the name after "--" (never an option). virsh looks a
   * 36-character argument up as a UUID first, so a name that reads as one is replaced by
   * the UUID of the network that has that name.
   */
  async function networkRef(name: string): Promise<string> {
    if (name.length !== 36 || !/^[0-9a-f]{32}$/i.test(name.replace(/[-\s]/g, ""))) return name;
    const net = (await dumpAllNetworks()).find((n) => n.name === name);
    if (!net) throw new VnatError("invalid-input", `network "${oneLine(name)}": not defined in libvirt`);
    return net.uuid;
  }

  const byName = async (cmd: string[], name: string): Promise<string> => virsh([...cmd, "--", await networkRef(name)]);

  /** `virsh net-start`: it returns when vnat's hook has built the namespace. */
  const startNetwork = (name: string): Promise<string> => byName(["net-start"], name);
  /** `virsh net-destroy`: it returns when vnat's hook has removed the namespace. */
  const destroyNetwork = (name: string): Promise<string> => byName(["net-destroy"], name);
  const undefineNetwork = (name: string): Promise<string> => byName(["net-undefine"], name);
  const setAutostart = (name: string, on: boolean): Promise<string> =>
    byName(on ? ["net-autostart"] : ["net-autostart", "--disable"], name);

  return {
    virsh,
    virshBatch: async (commands) => (await batch(commands)).outs,
    dumpAllNetworks,
    listNetworks,
    dumpNetworks,
    defineNetwork,
    startNetwork,
    destroyNetwork,
    undefineNetwork,
    setAutostart,
  };
}

/** libvirt over this host's processes and the URI of currentUri(). */
const host = libvirtOver(processRunner, currentUri);
export const {
  virsh,
  virshBatch,
  dumpAllNetworks,
  listNetworks,
  dumpNetworks,
  defineNetwork,
  startNetwork,
  destroyNetwork,
  undefineNetwork,
  setAutostart,
} = host;

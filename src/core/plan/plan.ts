// What vnat does to the host, as a value (issue 14). A plan is a list of stages run in
// order; the steps of one stage run at once; the actions of one step run in order, and
// each action names the undo that takes it back once it has succeeded (CNI's bridge
// plugin). exec/change/journal.ts is the one engine that runs plans — a start, a live inbound
// edit, a repair — and undoes on failure (netavark's single setup/teardown loop).
// Pure: what the host looks like (host facts) comes in as arguments.
import type { Attachments, FdbEntry } from "../input/attach.ts";
import type { ConntrackFlush } from "../edit/inbound-diff.ts";
import type { NetPaths } from "../paths.ts";
import type { NetSpec } from "../input/spec.ts";
import type { SegmentSpec } from "../input/segments.ts";
import { renderNft, type BatchLine } from "./render.ts";
import { renderNft6 } from "./render6.ts";

/** What takes a succeeded action back; WHAT names it in a rollback-incomplete error. */
export type Undo = { what: string } &
  /** a command; stderr matching TOLERATE counts as done (already undone) */
  (
    | { kind: "run"; argv: string[]; tolerate?: string }
    /** the namespace's processes (dnsmasq by its pid file), then the namespace */
    | { kind: "netns-del"; netns: string; pidFile: string }
    | { kind: "link-del"; ifname: string }
    | { kind: "fdb-del"; entries: FdbEntry[] }
    | { kind: "release"; bridge: string; ip: string; owner: string }
    | { kind: "net-dir-rm"; network: string }
    | { kind: "resolv-conf-rm"; netns: string }
    | { kind: "lease-status-rm"; lanBridge: string }
    | { kind: "dnsmasq-stop"; pidFile: string }
    /** what segments-attach recorded for the segments on DEVICES (exec/change/segments.ts) */
    | { kind: "segments-detach"; network: string; devices: string[] }
  );

/** One thing a step does to the host. */
export type Action =
  /** a command; a non-zero exit fails the step with FAIL (if any) and the first line of stderr, unless stderr matches TOLERATE */
  | { kind: "run"; argv: string[]; input?: string; timeoutMs?: number; tolerate?: string; fail?: string }
  /**
   * `ip -batch` (in NETNS): each line's undo is registered once that line has succeeded
   * (ip reports the failing line: the cursor of what to undo). BUSY_RETRY_MS: retry while
   * "Address already in use" (a freed namespace of the network still holds the MACs).
   */
  | { kind: "ip-batch"; netns?: string; lines: Array<{ line: string; undo?: Undo }>; busyRetryMs?: number }
  /** `bridge -batch` of static local fdb entries; undone by deleting the entries that were added */
  | { kind: "fdb-add"; entries: FdbEntry[] }
  /** a short-lived helper started detached (never waited for); FAIL: not starting fails the step */
  | { kind: "detach"; argv: string[]; fail?: string }
  /** /run/vnat/net/NAME with its modes */
  | { kind: "net-dir"; network: string }
  /** state.json of SPEC's network (the clock and the roots are the engine's) */
  | { kind: "state"; spec: NetSpec; phase: "starting" | "active"; attach: Attachments }
  /** an exclusive claim of IP on BRIDGE for OWNER */
  | { kind: "claim"; bridge: string; ip: string; owner: string }
  /** each claim still names OWNER (IPS[0] the uplink, the rest floating addresses) */
  | { kind: "claims-held"; bridge: string; ips: string[]; owner: string }
  /** dnsmasq's --dhcp-hostsfile: TEXT written atomically, or (TEXT undefined) made to exist keeping its content */
  | { kind: "hosts-file"; path: string; text?: string }
  /** /etc/netns/NETNS/resolv.conf for `vnat exec` */
  | { kind: "resolv-conf"; spec: NetSpec }
  /** dnsmasq's lease and log files, root-only, and libvirt's lease status file */
  | { kind: "dnsmasq-files"; spec: NetSpec; paths: NetPaths }
  /** SIGTERM (then SIGKILL) PID, only while it is still this network's dnsmasq */
  | { kind: "dnsmasq-kill"; pid: number; pidFile: string }
  /** SIGHUP to the network's dnsmasq (it re-reads the hosts file and keeps its leases); not running: a warning */
  | { kind: "dnsmasq-reload"; network: string; pidFile: string }
  /** release a claim (a floating address that went away) */
  | { kind: "release"; bridge: string; ip: string; owner: string }
  /** the conntrack entries of a removed or changed forward / floating IP; what is left: warnings */
  | { kind: "conntrack-flush"; netns: string; flush: ConntrackFlush }
  /** the spec the namespace now runs, into its state.json (when there is one) */
  | { kind: "state-spec"; spec: NetSpec }
  /** no namespace NETNS: its processes stopped (dnsmasq by PIDFILE), then the namespace deleted; gone already is done */
  | { kind: "netns-gone"; netns: string; pidFile: string }
  /** no host link IFNAMES after waiting WAITMS for them to go; one whose alias names another network than OWNER is left, and fails */
  | { kind: "links-gone"; ifnames: string[]; owner: string; waitMs: number }
  /** segments patched into the network's bridge LANBRIDGE (issue 19, exec/change/segments.ts) */
  | { kind: "segments-attach"; network: string; lanBridge: string; segments: SegmentSpec[] };

/** An action and its undo. UNDO_FIRST: registered before the action runs (what a failed action may leave behind goes too). */
export interface Op {
  action: Action;
  undo?: Undo;
  undoFirst?: boolean;
}

export interface Step {
  name: string;
  ops: Op[];
}

export interface Plan {
  /** stages in order; the steps of a stage run at once */
  stages: Step[][];
}

/** ARGV run inside namespace NETNS. */
export const inNetns = (netns: string, argv: readonly string[]): string[] => ["ip", "netns", "exec", netns, ...argv];

/**
 * The network's whole ruleset, loaded into its namespace in one `nft -f` transaction: the
 * one place a ruleset is rendered and piped to nft. FLUSH empties the namespace's every
 * table first (a repair: nothing else of vnat's may be left there).
 */
export function loadRuleset(
  spec: NetSpec,
  hostAddrs: readonly number[],
  opts: { flush?: boolean; fail?: string; timeoutMs?: number; hostAddrs6?: readonly string[] } = {},
): Action {
  const { flush, hostAddrs6, ...rest } = opts;
  return {
    kind: "run",
    argv: inNetns(spec.names.netns, ["nft", "-f", "-"]),
    input: (flush ? "flush ruleset\n" : "") + renderNft(spec, hostAddrs) + renderNft6(spec, hostAddrs6 ?? []),
    ...rest,
  };
}

/** A plan as text, one line per action (golden tests, and a reader's view of a plan). */
export function formatPlan(plan: Plan): string {
  const out: string[] = [];
  plan.stages.forEach((stage, i) => {
    out.push(`stage ${i + 1}: ${stage.map((s) => s.name).join(", ")}`);
    for (const step of stage) {
      out.push(`  ${step.name}`);
      for (const op of step.ops) {
        out.push(`    ${describeAction(op.action)}`);
        const a = op.action;
        const text = a.kind === "run" ? a.input : a.kind === "hosts-file" ? a.text : undefined;
        if (text)
          out.push(
            ...text
              .trimEnd()
              .split("\n")
              .map((l) => `      |${l ? ` ${l}` : ""}`),
          );
        if (op.action.kind === "ip-batch")
          for (const l of op.action.lines)
            out.push(`      | ${l.line}${l.undo ? `    undo: ${describeUndo(l.undo)}` : ""}`);
        if (op.undo) out.push(`      undo${op.undoFirst ? " (registered first)" : ""}: ${describeUndo(op.undo)}`);
      }
    }
  });
  return out.join("\n") + "\n";
}

function describeAction(a: Action): string {
  switch (a.kind) {
    case "run": {
      const extra = [
        a.timeoutMs !== undefined ? `timeout ${a.timeoutMs} ms` : "",
        a.tolerate !== undefined ? `tolerate /${a.tolerate}/` : "",
        a.fail !== undefined ? `fail "${a.fail}"` : "",
      ].filter(Boolean);
      return `run ${a.argv.join(" ")}${a.input !== undefined ? " <<stdin" : ""}${extra.length ? ` (${extra.join(", ")})` : ""}`;
    }
    case "ip-batch":
      return `ip${a.netns ? ` -n ${a.netns}` : ""} -batch -${a.busyRetryMs ? ` (retry ${a.busyRetryMs} ms while a MAC is busy)` : ""}`;
    case "fdb-add":
      return `bridge -batch - ${a.entries.map((e) => `${e.mac}@${e.bridge}`).join(" ")} (undo: delete the entries added)`;
    case "detach":
      return `detach ${a.argv.join(" ")}${a.fail ? ` (fail "${a.fail}")` : ""}`;
    case "net-dir":
      return `make state directory of ${a.network}`;
    case "state":
      return `write state ${a.phase} (lan ${a.attach.lan}, uplink ${a.attach.uplink})`;
    case "claim":
      return `claim ${a.ip} on ${a.bridge} for ${a.owner}`;
    case "claims-held":
      return `check claims ${a.ips.join(" ")} on ${a.bridge} still name ${a.owner}`;
    case "hosts-file":
      return a.text === undefined ? `touch ${a.path}` : `write ${a.path}`;
    case "resolv-conf":
      return `write resolv.conf of ${a.spec.names.netns}`;
    case "dnsmasq-files":
      return `prepare ${a.paths.leases}, ${a.paths.dnsmasqLog} and the lease status of ${a.spec.lanBridge}`;
    case "dnsmasq-kill":
      return `stop dnsmasq ${a.pid} if it is still ${a.pidFile}'s`;
    case "dnsmasq-reload":
      return `SIGHUP dnsmasq of ${a.network} (${a.pidFile})`;
    case "release":
      return `release ${a.ip} on ${a.bridge} of ${a.owner}`;
    case "conntrack-flush":
      return `flush conntrack in ${a.netns}: ${JSON.stringify(a.flush)}`;
    case "state-spec":
      return `record the spec of ${a.spec.name} in its state`;
    case "netns-gone":
      return `stop the processes of ${a.netns} and delete it`;
    case "links-gone":
      return `delete host links ${a.ifnames.join(" ")} (after ${a.waitMs} ms) unless another network's`;
    case "segments-attach":
      return `attach segments ${a.segments.map((s) => `${s.kind}:${s.name}@${s.device}`).join(" ")} to ${a.lanBridge}`;
  }
}

function describeUndo(u: Undo): string {
  return u.kind === "run" ? `${u.what}: ${u.argv.join(" ")}${u.tolerate ? ` (tolerate /${u.tolerate}/)` : ""}` : u.what;
}

/** Render.ts's `ip -batch` lines with their undos; PIDFILE: the network's dnsmasq (a namespace's undo stops it). */
export function batchLines(lines: readonly BatchLine[], pidFile: string): Array<{ line: string; undo?: Undo }> {
  return lines.map(({ line, undo: u }) => ({
    line,
    undo:
      u === undefined
        ? undefined
        : u.kind === "netns-del"
          ? { kind: "netns-del", netns: u.netns, pidFile, what: `delete namespace ${u.netns}` }
          : { kind: "link-del", ifname: u.ifname, what: `delete link ${u.ifname}` },
  }));
}

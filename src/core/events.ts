// The libvirt network hook events vnat acts on, listed once. libvirt runs the hook as
// `NAME OP SUBOP -` for every network and guest-port event on the host; vnat handles the
// five below and answers every other one with 0 at once. Everyone reads this table:
//  - hooks/network hands exactly these to Node or the agent (its first `case`, and its
//    `started`/`start` tests below), test/unit/hook-contract.test.ts checks it against this;
//  - hook/event.ts looks the event up here, for hook/main.ts and hook/agent.ts alike;
//  - hook/handlers.ts has one handler per entry (its table is typed by HookEventName, so an
//    event without a handler does not compile).
// Every event vnat handles runs holding the network's kernel lock (exec/netlock.ts), the
// one ordering mechanism for hooks, live edits and repairs: no entry may go without it.

export interface HookEventSpec {
  op: string;
  subop: string;
  /**
   * The NAME.begun marker (core/paths.ts netLockPaths): "mark" — set before the work starts
   * (by the shell hook, before it hands the event on, and again by Node), removed by the shell
   * as it answers 0; "clear" — removed once the event is done. libvirt keeps the bridge of a
   * start whose `started` failed, and the next `start begin` finds it through the marker.
   */
  begun?: "mark" | "clear";
  /** the shell hook may answer it alone from a cache entry (core/hookcache.ts) */
  fastPath?: true;
}

export const HOOK_EVENTS = {
  /** validates the document against the host; touches nothing (libvirt calls no hook when it fails after this) */
  "start-begin": { op: "start", subop: "begin", fastPath: true },
  /** builds the namespace before libvirt hears back */
  "started-begin": { op: "started", subop: "begin", begun: "mark" },
  /** removes the namespace and everything of the network's */
  "stopped-end": { op: "stopped", subop: "end", begun: "clear" },
  /** a guest attaches: refused when vnat has no namespace serving the network */
  "port-created": { op: "port-created", subop: "begin" },
  /** a guest detaches */
  "port-deleted": { op: "port-deleted", subop: "begin" },
} as const satisfies Record<string, HookEventSpec>;

export type HookEventName = keyof typeof HOOK_EVENTS;

/**
 * Events callers send that vnat knows and does nothing for (answered 0 before the document
 * is read): `virsh net-update` ("updated begin": the live XML it changes is what `vnat
 * reconcile` compares with, core/input/desired.ts), and `vnat doctor`'s check that the hook runs
 * at all ("doctor check", exec/probe/doctor-facts.ts).
 */
export const IGNORED_EVENTS: ReadonlyArray<{ op: string; subop: string }> = [
  { op: "updated", subop: "begin" },
  { op: "doctor", subop: "check" },
];

const BY_OP = new Map(
  (Object.entries(HOOK_EVENTS) as Array<[HookEventName, HookEventSpec]>).map(([event, e]) => [
    `${e.op} ${e.subop}`,
    event,
  ]),
);

/** The event vnat handles for OP SUBOP; undefined: the hook answers 0 and does nothing. */
export function hookEvent(op: string, subop: string): HookEventName | undefined {
  return BY_OP.get(`${op} ${subop}`);
}

/** The table's entry for EVENT, with its optional fields. */
export function hookEventSpec(event: HookEventName): HookEventSpec {
  return HOOK_EVENTS[event];
}

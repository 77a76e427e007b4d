// libvirt calls a network hook as `NAME OP SUBOP -` with hookData on stdin. This is the one
// reading of that call, for hook/main.ts and hook/agent.ts alike (through handlers.ts
// runEvent): the event is looked up in core/events.ts, and the name is checked here and
// nowhere after (handlers get a NetworkName).
import { invalid } from "../core/errors.ts";
import { hookEvent, type HookEventName } from "../core/events.ts";
import { mentionsVnat } from "../core/input/hookdata.ts";
import { printable, validateNetworkName, type NetworkName } from "../core/names.ts";

export interface HookCall {
  name: NetworkName;
  event: HookEventName;
  op: string;
  subop: string;
}

/**
 * libvirt's call is one vnat acts on: an event of core/events.ts, for a document with vnat
 * metadata; otherwise the hook answers 0 at once. The name is not looked at: a network that
 * is not vnat's may have any name libvirt allows.
 */
export function concernsVnat(argv: readonly string[], stdin: string): boolean {
  const [, op, subop] = hookArgs(argv);
  return hookEvent(op, subop) !== undefined && mentionsVnat(stdin);
}

/** An event vnat handles, its name validated; anything else is refused in one line. */
export function parseArgv(argv: readonly string[]): HookCall {
  const [name, op, subop] = hookArgs(argv);
  const event = hookEvent(op, subop);
  if (event === undefined) throw invalid(`hook event "${printable(`${op} ${subop}`, 40)}": vnat handles no such event`);
  return { name: validateNetworkName(name), event, op, subop };
}

function hookArgs(argv: readonly string[]): [string, string, string] {
  const [name, op, subop] = argv;
  if (name === undefined || op === undefined || subop === undefined)
    throw invalid(`hook arguments: expected "NAME OP SUBOP -", got ${argv.length} argument(s)`);
  return [name, op, subop];
}

// libvirt calls a network hook as `NAME OP SUBOP -` with hookData on stdin.
import { invalid } from "../core/errors.ts";

export type HookEvent =
  "start-begin" | "started-begin" | "stopped-end" | "port-created" | "port-deleted" | "updated" | "other";

export interface HookCall {
  name: string;
  event: HookEvent;
  op: string;
  subop: string;
}

export function parseArgv(argv: string[]): HookCall {
  const [name, op, subop] = argv;
  if (name === undefined || op === undefined || subop === undefined)
    throw invalid(`hook arguments: expected "NAME OP SUBOP -", got ${argv.length} argument(s)`);
  return { name, op, subop, event: classify(op, subop) };
}

function classify(op: string, subop: string): HookEvent {
  const key = `${op} ${subop}`;
  switch (key) {
    case "start begin":
      return "start-begin";
    case "started begin":
      return "started-begin";
    case "stopped end":
      return "stopped-end";
    case "port-created begin":
      return "port-created";
    case "port-deleted begin":
      return "port-deleted";
    case "updated begin":
      return "updated";
    default:
      return "other";
  }
}

import { invalid } from "./errors.ts";
import { printable } from "./names.ts";

const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

/** A Linux interface name a user gave us (a bridge): at most 15 of [A-Za-z0-9_.-]. */
export function validateIfname(field: string, name: string): string {
  if (!IFNAME_RE.test(name) || name === "." || name === "..")
    throw invalid(`${field} "${printable(name)}": not an interface name (1-15 of letters, digits, "_", "." and "-")`);
  return name;
}

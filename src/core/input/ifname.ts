import { invalid } from "../errors.ts";
import { printable } from "../names.ts";

// not starting with "-": the name is an argument of ip(8), and must never read as an option
const IFNAME_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$/;

/** A Linux interface name a user gave us (a bridge): at most 15 of [A-Za-z0-9_.-] (no leading "-"). */
export function validateIfname(field: string, name: string): string {
  if (!IFNAME_RE.test(name) || name === "." || name === "..")
    throw invalid(`${field} "${printable(name)}": not an interface name (1-15 of letters, digits, "_", "." and "-")`);
  return name;
}

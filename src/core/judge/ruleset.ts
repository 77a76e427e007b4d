// Comparing a namespace's live nftables ruleset with the one vnat renders. Both sides are
// compared as `nft list` prints them (the reference is loaded into a throwaway namespace
// by the same nft and kernel), so nothing here depends on how nft formats rules; only
// what traffic changes is masked: counter values, and the elements of dynamic sets (the
// per-source tables of the guests' DHCP/DNS limits, filled by packets). Pure.

export interface CounterValue {
  packets: number;
  bytes: number;
}

const VALUES_RE = /packets \d+ bytes \d+/g;

/** The listing with counter values masked and blank lines dropped; "" for an empty ruleset. */
export function normalizeRuleset(listing: string): string {
  const tables = splitTables(listing).map((t) =>
    dropDynamicElements(t.text)
      .replace(VALUES_RE, "packets - bytes -")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "")
      .join("\n"),
  );
  // table order in a listing follows creation order, which is not part of the meaning
  return tables.sort().join("\n");
}

/** A listing without the `elements = { … }` of sets whose flags say `dynamic` (packets add those). */
export function dropDynamicElements(listing: string): string {
  const out: string[] = [];
  let inSet = false;
  let dynamic = false;
  let skipping = false;
  for (const line of listing.split("\n")) {
    const t = line.trim();
    if (skipping) {
      if (t.endsWith("}")) skipping = false;
      continue;
    }
    if (/^(?:set|map) \S+ \{$/.test(t)) {
      inSet = true;
      dynamic = false;
    } else if (inSet && t === "}") inSet = false;
    else if (inSet && /^flags (?:\S+,)*dynamic\b/.test(t)) dynamic = true;
    else if (inSet && dynamic && t.startsWith("elements = {")) {
      skipping = !t.endsWith("}");
      continue;
    }
    out.push(line);
  }
  return out.join("\n");
}

export interface ListedTable {
  family: string;
  name: string;
  text: string;
}

/** Splits `nft list ruleset` output into its top-level tables. */
export function splitTables(listing: string): ListedTable[] {
  const tables: ListedTable[] = [];
  let current: ListedTable | undefined;
  for (const line of listing.split("\n")) {
    const head = /^table (\S+) (\S+) \{/.exec(line);
    if (head) {
      current = { family: head[1]!, name: head[2]!, text: "" };
      tables.push(current);
    }
    if (current) current.text += line + "\n";
    if (line === "}") current = undefined;
  }
  return tables;
}

/** Named counters of one table, e.g. nat_out / nat_in of `table ip vnat`. */
export function parseCounters(listing: string, family: string, table: string): Record<string, CounterValue> {
  const out: Record<string, CounterValue> = {};
  const t = splitTables(listing).find((x) => x.family === family && x.name === table);
  if (!t) return out;
  for (const m of t.text.matchAll(/^\s*counter (\S+) \{\s*packets (\d+) bytes (\d+)/gm))
    out[m[1]!] = { packets: Number(m[2]), bytes: Number(m[3]) };
  return out;
}

const TABLE_NAME_RE =
  /^(\s*(?:(?:add|create|delete|flush|destroy)\s+)?table\s+(?:ip|ip6|inet|arp|bridge|netdev)\s+)([A-Za-z_][A-Za-z0-9_]*)/gm;
export const REF_SEPARATOR = "__ref";

/**
 * Renames every table of a rendered ruleset with a per-network suffix, so many networks'
 * rulesets can be loaded side by side into one throwaway namespace by one nft process.
 */
export function suffixTables(ruleset: string, index: number): string {
  return ruleset.replace(TABLE_NAME_RE, (_m, head: string, name: string) => `${head}${name}${REF_SEPARATOR}${index}`);
}

/** Groups a listing of suffixed tables back per network index, with the suffixes removed. */
export function unsuffixListing(listing: string): Map<number, string> {
  const byIndex = new Map<number, string>();
  for (const t of splitTables(listing)) {
    const at = t.name.lastIndexOf(REF_SEPARATOR);
    if (at < 0) continue;
    const index = Number(t.name.slice(at + REF_SEPARATOR.length));
    const text = t.text.replace(/^table (\S+) (\S+) \{/, `table $1 ${t.name.slice(0, at)} {`);
    byIndex.set(index, (byIndex.get(index) ?? "") + text);
  }
  return byIndex;
}

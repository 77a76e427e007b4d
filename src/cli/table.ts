// Plain aligned columns for list commands (no colours: output is often piped). Every list
// command behaves alike when there is nothing to list: stdout stays empty (no header, so
// a script reading it sees no rows) and one line on stderr says so, e.g. "no vnat networks".
import { writeOut } from "./output.ts";

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** The table, or when `rows` is empty the `empty` line on stderr. */
export function printTable(header: string[], rows: string[][], empty: string): Promise<void> {
  if (!rows.length) {
    sayEmpty(empty);
    return Promise.resolve();
  }
  return writeOut(formatTable(header, rows));
}

/** "nothing to list", on stderr */
export function sayEmpty(what: string): void {
  process.stderr.write(`${what}\n`);
}

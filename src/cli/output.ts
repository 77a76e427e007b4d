// What commands print. One shape for every command that creates or changes something:
// prose for people on stdout, or with --json one JSON object saying what it did (with
// --dry-run: what it would do); warnings go to stderr either way ("vnat: warning: ").
import type { Command } from "commander";

/** The output flags a changing command takes (registered with changeOptions). */
export interface OutputFlags {
  json?: boolean;
  dryRun?: boolean;
}

/**
 * Adds --json (and --dry-run when `dryRun` says what a dry run does) to a command that
 * creates or changes something; its action then prints through report().
 */
export function changeOptions(cmd: Command, dryRun?: string): Command {
  cmd.option("--json", "print what was done as one JSON object");
  if (dryRun) cmd.option("--dry-run", dryRun);
  return cmd;
}

/**
 * Prints the outcome of a change: `human` (lines; a final newline is added) or, with
 * --json, `json` as one object, with `dryRun: true` added on a dry run. Warnings are
 * written to stderr first, and are in the object too.
 */
export function report(
  flags: OutputFlags,
  human: string | string[],
  json: Record<string, unknown>,
  warnings: string[] = [],
): Promise<void> {
  for (const w of warnings) warn(w);
  if (flags.json) {
    const doc = {
      ...json,
      ...(flags.dryRun ? { dryRun: true } : {}),
      ...(warnings.length ? { warnings } : {}),
    };
    return writeOut(JSON.stringify(doc, null, 2) + "\n");
  }
  const text = Array.isArray(human) ? human.join("\n") : human;
  return writeOut(text.endsWith("\n") ? text : `${text}\n`);
}

/** A warning: the command did its work, and something deserves a look. */
export function warn(message: string): void {
  process.stderr.write(`vnat: warning: ${message}\n`);
}

// Writes to stdout and waits until it is handed to the kernel: main.ts exits right after a
// command returns, and a pipe whose reader is slower than us would otherwise lose the tail
// of a large document (a 219 kB `status --json` was cut short, measured).
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}

// One error module: every failure vnat reports is a VnatError with an exit code and a
// one-line message of the form "context: cause". The entry points are the only places
// that print (prefixed "vnat: ", once) and exit.

/**
 * vnat's exit codes: the one table (docs/exit-codes.md is written from it and a test keeps
 * the two equal). The hook answers libvirt with the same codes; libvirt only tells zero
 * from non-zero. `vnat exec` exits with its command's code instead.
 */
export const EXIT_TABLE = [
  { code: 0, kind: "ok", meaning: "done" },
  {
    code: 1,
    kind: "needs-attention",
    meaning:
      "the command ran and found something an operator must look at: a `doctor` check failed, `reconcile` left a problem it cannot repair",
  },
  {
    code: 2,
    kind: "invalid-input",
    meaning:
      "bad input: an argument, the config file or a network's definition (the message names it and what is allowed)",
  },
  {
    code: 3,
    kind: "conflict",
    meaning: "something else already holds what was asked for (a name, an address, a bridge, an active network)",
  },
  { code: 4, kind: "apply-failed", meaning: "a change failed and was rolled back: nothing of it is left" },
  {
    code: 5,
    kind: "rollback-incomplete",
    meaning: "a change failed and undoing it failed too: the message names what is left (`vnat reconcile` removes it)",
  },
  {
    code: 64,
    kind: "usage",
    meaning: "the command line is wrong: unknown command or option, missing argument or required option",
  },
  { code: 70, kind: "internal", meaning: "an error vnat did not expect (a bug: please report it with the message)" },
  { code: 77, kind: "needs-root", meaning: "the command needs root (it reads network namespaces and /run/vnat)" },
] as const;

export type ExitKind = (typeof EXIT_TABLE)[number]["kind"];
/** what a VnatError can be: every row but success */
export type ErrorKind = Exclude<ExitKind, "ok">;

/** The exit code of one row of the table. */
export function exitCode(kind: ExitKind): number {
  return EXIT_TABLE.find((r) => r.kind === kind)!.code;
}

export class VnatError extends Error {
  readonly kind: ErrorKind;
  readonly details: string[];
  constructor(kind: ErrorKind, message: string, details: string[] = []) {
    super(message);
    this.name = "VnatError";
    this.kind = kind;
    this.details = details;
  }
  get exitCode(): number {
    return exitCode(this.kind);
  }
}

/** Bad input: names the object and says what is allowed. */
export const invalid = (message: string): VnatError => new VnatError("invalid-input", message);

/** Something on the host already holds what the network needs. */
export const conflict = (message: string): VnatError => new VnatError("conflict", message);

/** The command line is wrong (commander's parse errors are mapped to this too). */
export const usage = (message: string): VnatError => new VnatError("usage", message);

/** Longest line oneLine returns: a hostile value echoed in a message must not flood virsh's error. */
export const MAX_LINE = 600;

/**
 * The single line to show a user: no newlines, no stack, no control characters from input
 * (C0, C1, Unicode line separators and bidi overrides, which could disguise the message).
 */
export function oneLine(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err))
    .replace(/\s*\n\s*/g, "; ")
    .replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, "?")
    .trim();
  return text.length > MAX_LINE ? `${text.slice(0, MAX_LINE - 1)}…` : text;
}

// One error module: every failure vnat reports is a VnatError with an exit code and a
// one-line message of the form "context: cause". The entry points are the only places
// that print and exit.

export type ErrorKind = "invalid-input" | "conflict" | "apply-failed" | "rollback-incomplete" | "internal";

const EXIT_CODES: Record<ErrorKind, number> = {
  "invalid-input": 2,
  conflict: 3,
  "apply-failed": 4,
  "rollback-incomplete": 5,
  internal: 70,
};

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
    return EXIT_CODES[this.kind];
  }
}

/** Bad input: names the object and says what is allowed. */
export const invalid = (message: string): VnatError => new VnatError("invalid-input", message);

/** Something on the host already holds what the network needs. */
export const conflict = (message: string): VnatError => new VnatError("conflict", message);

/** The single line to show a user: no newlines, no stack, no control characters from input. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .replace(/\s*\n\s*/g, "; ")
    .replace(/[\x00-\x1f\x7f]/g, "?")
    .trim();
}
